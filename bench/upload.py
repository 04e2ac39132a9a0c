"""An upload in the Data tab against `python -m corpus` on the same file, in the same run.

Writes a ~0.9 MB pretty-printed JSON array of Alpaca lines (as LLaMA-Factory's demo files are
written) and times, best of `--repeats`, each path taking turns:

- cli validate:        `python -m corpus validate FILE` (in process, output discarded);
- cli report + facts:  `report` and `facts` on the file: the figures the Data tab shows;
- upload, first read:  `store_uploads` into a new folder, then `read_uploads` (load, summary
                       and fact histories in one pass, with a progress callback), as the tab does;
- upload, rerun:       the same upload stored again, as every rerun of the page does: the files
                       are not written again, so the tab's kept read still holds.

`--before` also times the path the tab took before (the file rewritten on every rerun, then
load, summarise, and facts grouped by embedding every question, as the index does), once.

Usage: python bench/upload.py [--kb 900] [--repeats 5] [--before]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus_load import interleaved
from corpus.cli import main as corpus_cli
from ui.uploads import MB, read_uploads, store_uploads

WORDS = [
    "ferry",
    "pier",
    "berth",
    "tariff",
    "harbour",
    "route",
    "ticket",
    "timetable",
    "warranty",
    "refund",
    "invoice",
    "storage",
    "upload",
    "account",
    "plan",
    "museum",
    "tower",
    "bridge",
    "lock",
    "canal",
    "valley",
    "battery",
    "charger",
    "cable",
    "port",
    "gate",
]


def make_array(kb: int, seed: int = 7) -> bytes:
    """A JSON array of distinct Alpaca lines, indented, of about `kb` kilobytes."""
    rng = random.Random(seed)
    items: list[dict[str, str]] = []
    size = 2
    while size < kb * 1000:
        n = len(items)
        item = {
            "instruction": f"{rng.choice(['What', 'How much', 'When', 'Where'])} "
            f"{' '.join(rng.sample(WORDS, 4))} {n}?",
            "input": "",
            "output": " ".join(rng.choice(WORDS) for _ in range(30)) + f" {rng.randint(1, 999)}.",
        }
        items.append(item)
        size += len(json.dumps(item, indent=2)) + 4
    return json.dumps(items, indent=2).encode()


def quiet(func: Callable[[], object]) -> Callable[[], None]:
    """`func` with its printed output discarded."""

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            func()

    return run


def before_path(data: bytes, folder: Path) -> float:
    """The tab's earlier path, timed once: rewrite, load, summarise, facts as the index groups."""
    from compare.workbench import build_settings
    from corpus import load_corpus
    from corpus.report import summarise
    from rag.versions import fact_histories_as_indexed

    settings = build_settings().rag.model_copy(update={"work_dir": folder / "index"})
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    path = folder / "faq.json"
    path.write_bytes(data)
    report = load_corpus(path)
    summarise(report)
    fact_histories_as_indexed(report.records, settings)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, default=900)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="time the earlier path once too")
    args = parser.parse_args()
    data = make_array(args.kb)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        file = root / "faq.json"
        file.write_bytes(data)
        fresh = iter(range(10**6))
        updates: list[int] = []

        def first_read() -> None:
            stored = store_uploads([("faq.json", data)], root / f"up{next(fresh)}", 50 * MB)
            survey = read_uploads(stored.paths, progress=lambda done, _: updates.append(done))
            assert len(survey.report.records) == records and not survey.report.rejects

        def rerun() -> None:
            store_uploads([("faq.json", data)], root / "up-rerun", 50 * MB)

        records = len(json.loads(data))
        rerun()
        times = interleaved(
            args.repeats,
            {
                "validate": quiet(lambda: corpus_cli(["validate", str(file)])),
                "report+facts": quiet(
                    lambda: (corpus_cli(["report", str(file)]), corpus_cli(["facts", str(file)]))
                ),
                "upload": first_read,
                "rerun": rerun,
            },
        )
        before = before_path(data, root / "before") if args.before else None
    base = times["validate"]
    print(f"file                   {len(data) / 1000:,.0f} kB JSON array, {records:,} records")
    print(f"cli validate           {base:.3f} s  (baseline)")
    for name, label in (
        ("report+facts", "cli report + facts"),
        ("upload", "upload, first read"),
        ("rerun", "upload, rerun"),
    ):
        print(f"{label:<22} {times[name]:.3f} s  ({times[name] / base:.2f}x the baseline's time)")
    print(
        f"upload / cli report+facts   {times['upload'] / times['report+facts']:.2f}x; "
        f"progress updates per read: {len(updates) // (args.repeats or 1)}"
    )
    if before is not None:
        print(
            f"before (rewrite, load, summarise, embed every question): {before:.1f} s, "
            f"{before / base:.0f}x the baseline's time, on every rerun"
        )
    print("goal                   upload <= 1.5x cli report + facts; rerun ~ 0 s")


if __name__ == "__main__":
    main()
