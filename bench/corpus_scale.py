"""Big corpora in bounded memory: load + validate, report and change detection at two sizes.

Generates a corpus of dated batches (default 500k and 1M records) in a temp folder, edits 1% of
it, and measures each step in a child process of its own (peak RSS from `resource.getrusage`,
Python's own peak from `tracemalloc`):

- validate: `iter_load` over every file (parse, check, build records, find duplicates);
- report:   the streaming `SummaryBuilder` (tokens counted, median/p95 from a fixed sample);
- dicts:    the baseline: an id -> content hash dict of the original corpus (what a manifest
            held), then one of the edited corpus, compared as `IndexManifest.pending` does;
- changes:  what a rebuild does: the edited corpus compared with the fact state a rebuild of
            the original left (`rag.changes.detect_changes`, SQL over `facts.sqlite`). The state
            is written first, in a child process of its own, and not measured.

Memory should grow with the records only by what must be kept, so the "per record" column is
the RSS growth from the smaller to the larger size over the added records.

Usage: python bench/corpus_scale.py [--sizes 500000 1000000] [--batches 10]
       [--steps validate,dicts,changes,report]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = ("validate", "report", "dicts", "changes", "state")
PRODUCTS = ("Orrin", "Vellmar", "Kestrel", "Tarvo", "Lumo", "Sable")


def _line(n: int, batch: int, edited: bool = False) -> str:
    """One generated line; every tenth record restates an older fact under its id."""
    product = PRODUCTS[n % len(PRODUCTS)]
    fact = n - 10 * batch if n % 10 == 0 and batch else n
    price = (fact * 7919 + (batch if n % 10 == 0 else 0)) % 997 + (1000 if edited else 0)
    question = f"What does the {product} service plan {fact} cost per seat in region {fact % 37}?"
    answer = (
        f"The {product} plan {fact} costs {price}.{n % 100:02d} EUR per seat per month. "
        + " ".join(
            f"Clause {k}: seats above {k * 25 + fact % 50} are billed at {price + k}.00 EUR, "
            f"invoiced on day {1 + (fact + k) % 28} and payable within {14 + k} days."
            for k in range(6)
        )
    )  # about 1 kB a line: a record's text is far larger than what the load keeps of it
    if n % 3 == 0:
        turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return json.dumps({"id": f"f{fact}", "messages": turns})
    return json.dumps({"id": f"f{fact}", "prompt": question, "completion": answer})


def write_corpus(folder: Path, records: int, batches: int, edit_share: float = 0.0) -> list[Path]:
    """`records` lines over `batches` dated files; `edit_share` of them get another answer."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(records)
    per = -(-records // batches)
    paths = []
    for b in range(batches):
        path = folder / f"{2030 + b // 12}-{b % 12 + 1:02d}-01-plans.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for n in range(b * per, min(records, (b + 1) * per)):
                out.write(_line(n, b, edited=rng.random() < edit_share) + "\n")
        paths.append(path)
    return paths


def child(step: str, original: Path, edited: Path) -> dict[str, float]:
    """Run one step in this process; returns its figures and the peak RSS."""
    from corpus import iter_load, iter_records
    from corpus.loader import current_pairs
    from corpus.report import summarise_events
    from rag.changes import detect_changes, removed_ids
    from rag.factstate import FactState

    start = time.perf_counter()
    tracemalloc.start()
    if step == "validate":
        count = sum(1 for _ in iter_load(original))
        figures: dict[str, float] = {"events": count}
    elif step == "report":
        summary = summarise_events(iter_load(original))
        figures = {"events": summary.records, "facts": summary.facts.facts}
    elif step == "dicts":
        manifest = current_pairs(iter_records(original))  # what an index manifest held
        wanted = current_pairs(iter_records(edited))
        new = sum(1 for rid in wanted if rid not in manifest)
        changed = sum(1 for rid, h in wanted.items() if rid in manifest and manifest[rid] != h)
        removed = sum(1 for rid in manifest if rid not in wanted)
        figures = {"events": len(wanted), "new": new, "changed": changed, "removed": removed}
    elif step == "state":
        tracemalloc.stop()
        write_state(original, state_dir(original))
        return {"seconds": time.perf_counter() - start}
    else:
        state = FactState.open(state_dir(original))
        changes = detect_changes(iter_records(edited), state)
        figures = {
            "events": changes.records,
            "new": changes.added - changes.changed_ids,
            "changed": changes.changed_ids,
            "removed": removed_ids(state),
        }
        state.close()
    figures["seconds"] = time.perf_counter() - start
    figures["python_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def state_dir(original: Path) -> Path:
    """Where the fact state of the original corpus is written."""
    return original.parent / "index"


def write_state(original: Path, work: Path, chunk: int = 20_000) -> None:
    """The fact state a rebuild of the original corpus leaves: every record as a statement
    (each its own group here: change detection reads records, not groups)."""
    from itertools import islice

    from corpus import iter_records
    from rag.factstate import FactState
    from rag.versions import statements_of

    state = FactState.open(work)
    records = iter_records(original)
    seq = 0
    while batch := list(islice(records, chunk)):
        rows = [(seq + i, s, seq + i) for i, s in enumerate(statements_of(batch))]
        state.replace_groups([], rows, [], [])
        seq += len(batch)
    state.commit(1, "bench")
    state.close()


def measure(step: str, original: Path, edited: Path) -> dict[str, float]:
    """`child` in a fresh interpreter, so each peak RSS is that step's alone."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, str(original), str(edited)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate, edit, measure, print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument(
        "--steps",
        default="validate,dicts,changes",
        help="any of validate,report,dicts,changes; report counts every token (slow at 1M records)",
    )
    parser.add_argument("--child", nargs=3, metavar=("STEP", "ORIGINAL", "EDITED"))
    args = parser.parse_args()
    if args.child:
        step, original, edited = args.child
        print(json.dumps(child(step, Path(original), Path(edited))))
        return
    steps = [s for s in args.steps.split(",") if s]
    baseline = measure("validate", *_empty_corpus())
    print(f"python + corpus imports, empty corpus: peak RSS {baseline['rss_mb']:.0f} MB")
    print(
        f"{'records':>10}  {'step':<9} {'seconds':>8} {'records/s':>10} {'peak RSS':>9} "
        f"{'Python':>10}  result"
    )
    rows: dict[str, list[tuple[int, float]]] = {s: [] for s in steps}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            original, edited = Path(tmp, "original"), Path(tmp, "edited")
            write_corpus(original, size, args.batches)
            write_corpus(edited, size, args.batches, edit_share=0.01)
            if "changes" in steps:
                measure("state", original, edited)  # what the rebuild of the original left
            for step in steps:
                if step == "changes":  # the edited corpus where the original was, as a team's
                    (Path(tmp) / "before").mkdir()  # folder reads after an edit in place
                    for path in original.iterdir():
                        path.rename(Path(tmp) / "before" / path.name)
                    for path in edited.iterdir():
                        path.rename(original / path.name)
                    edited = original
                r = measure(step, original, edited)
                rows[step].append((size, r["rss_mb"]))
                result = ", ".join(
                    f"{k} {int(v):,}"
                    for k, v in r.items()
                    if k not in ("seconds", "rss_mb", "python_mb")
                )
                print(
                    f"{size:>10,}  {step:<9} {r['seconds']:>8.1f} {size / r['seconds']:>10,.0f} "
                    f"{r['rss_mb']:>6.0f} MB {r['python_mb']:>7.1f} MB  {result}",
                    flush=True,
                )
    if "validate" in rows and "changes" in rows:
        print("change detection's own peak RSS (changes minus validate: reading the corpus):")
        for (n, reading), (_, comparing) in zip(rows["validate"], rows["changes"], strict=True):
            print(f"  {n:>10,} records: {comparing - reading:,.0f} MB")
    if len(args.sizes) > 1:
        print("RSS growth per added record (larger size minus smaller, over the added records):")
        for step, points in rows.items():
            (n0, m0), (n1, m1) = points[0], points[-1]
            print(
                f"  {step:<9} {(m1 - m0) * 1024 * 1024 / (n1 - n0):,.0f} bytes/record "
                f"({m0:.0f} MB -> {m1:.0f} MB for {n0:,} -> {n1:,} records)"
            )


def _empty_corpus() -> tuple[Path, Path]:
    folder = Path(tempfile.mkdtemp())
    (folder / "empty.jsonl").write_text("", encoding="utf-8")
    shutil.copy(folder / "empty.jsonl", folder / "empty2.jsonl")
    return folder / "empty.jsonl", folder / "empty2.jsonl"


if __name__ == "__main__":
    main()
