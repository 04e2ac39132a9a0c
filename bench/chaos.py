"""Readers never notice rebuilds: reader processes retrieve continuously through (a) a full
rebuild of the demo corpus, (b) an incremental one, (c) rebuilds killed with kill -9 while
vectors are written, against the embedded store and a chroma server.

Usage: python bench/chaos.py [--readers 4] [--kill-records 3000] [--kills 3]
                             [--stores embedded,server]
Prints, per store and scenario, the retrievals made, failed, empty and mixed (record versions no
single manifest explains), and whether the index matches the corpus afterwards. Goal: 0, 0, 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.chaos_reader import Readers, mismatch, total, unexplained  # noqa: E402
from bench.servers import chroma_server  # noqa: E402
from corpus import current_records, load_corpus  # noqa: E402
from rag.manifest import read_manifest  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"(\d+)/(\d+) \[")


def start_rebuild(corpus: Path, work: Path, url: str | None, *extra: str) -> Any:
    """`python -m rag.rebuild` in a child process; `.seen` fills with its progress counts."""
    command = [sys.executable, "-m", "rag.rebuild", "--corpus", str(corpus), "--work", str(work)]
    command += ["--chroma-url", url] if url else []
    # progress counts stored nodes, a bulk batch at a time: small batches let kills land mid-run
    env = {**os.environ, "RAG_BULK_BATCH": os.environ.get("RAG_BULK_BATCH", "256")}
    proc: Any = subprocess.Popen(
        [*command, *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.seen, proc.tail = [], ""

    def follow() -> None:
        buffer = b""
        while chunk := os.read(proc.stderr.fileno(), 4096):  # tqdm redraws with \r
            buffer = (buffer + chunk)[-2000:]
            proc.tail = buffer.decode(errors="ignore")
            text = buffer.decode(errors="ignore")
            proc.seen.extend(int(m.group(1)) for m in PROGRESS.finditer(text))

    threading.Thread(target=follow, daemon=True).start()
    return proc


def rebuild(corpus: Path, work: Path, url: str | None, *extra: str) -> str:
    """Run one rebuild to its end; its summary line."""
    proc = start_rebuild(corpus, work, url, *extra)
    out = proc.stdout.read().decode()
    if proc.wait() != 0:
        raise RuntimeError(f"rebuild failed with exit {proc.returncode}: {proc.tail[-800:]}")
    return out.strip()


def kill_at(corpus: Path, work: Path, url: str | None, nodes: int, *extra: str) -> str:
    """Start a rebuild and kill -9 it once it has written `nodes` nodes."""
    proc = start_rebuild(corpus, work, url, *extra)
    while not any(n >= nodes for n in proc.seen) and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        return f"ended before {nodes} nodes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return f"killed at {max(proc.seen)} nodes"


def untimed(line: str) -> str:
    """A summary line without its seconds (they say more about the machine than the rebuild)."""
    return re.sub(r" in [\d.]+ s", "", line)


def versions(work: Path) -> dict[str, str]:
    """The record id -> content hash map of the current manifest."""
    manifest = read_manifest(work)
    return {} if manifest is None else {rid: e.hash for rid, e in manifest.records.items()}


def index_matches(corpus: Path, work: Path, url: str | None) -> bool:
    """The manifest and the collection it names hold exactly what the corpus says."""
    settings = RagSettings(_env_file=None, work_dir=work, chroma_url=url)
    problem = mismatch(load_corpus([corpus]).records, settings)
    if problem:
        print(f"    index vs corpus: {problem}", file=sys.stderr)
    return not problem


def edit_corpus(corpus: Path) -> None:
    """An incremental change: a new batch restates 10 facts and adds 10, one batch is removed."""
    records = [r for r in current_records(load_corpus([corpus]).records) if r.answer]
    lines = [
        {"id": r.id, "prompt": r.prompt_text(), "completion": f"{r.answer} (revised in November)"}
        for r in records[:10]
    ] + [
        {"id": f"chaos-new-{i}", "prompt": f"What is chaos fact {i}?", "completion": f"Fact {i}."}
        for i in range(10)
    ]
    write_lines(corpus / "2026-11-02-revisions.jsonl", lines)
    (corpus / "2026-10-01-tickets-topic.jsonl").unlink()


def write_lines(path: Path, lines: list[dict[str, str]]) -> None:
    """A JSONL batch file."""
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")


def finish(group: Readers, manifests: list[dict[str, str]]) -> dict[str, int]:
    """Let readers run on the final state a moment, stop them, count what they saw."""
    time.sleep(1.5)
    reports = group.stop()
    errors: dict[str, int] = {}
    for report in reports:
        for text, n in report["errors"].items():
            errors[text] = errors.get(text, 0) + n
    for text, n in sorted(errors.items(), key=lambda x: -x[1])[:3]:
        print(f"    error x{n}: {text}", file=sys.stderr)
    return {
        "queries": total(reports, "queries"),
        "failed": total(reports, "failed"),
        "empty": total(reports, "empty"),
        "mixed": unexplained(reports, manifests),
        "slowest_ms": int(max(r["slowest_s"] for r in reports) * 1000),
    }


def run_store(store: str, args: argparse.Namespace, root: Path, url: str | None) -> None:
    """All three scenarios against one store, with one long-lived reader throughout."""
    work, corpus = root / "index", root / "corpus"
    shutil.copytree(ROOT / "data" / "corpus", corpus)
    rebuild(corpus, work, url, "--quiet")
    groups: list[Readers] = []

    def readers(count: int, name: str) -> Readers:
        group = Readers(count, work, url, root / name)
        groups.append(group)
        group.wait_ready()
        return group

    try:
        _scenarios(store, args, root, url, readers)
    finally:  # a failed scenario must not leave readers polling for a stop file forever
        for group in groups:
            group.kill()


def _scenarios(
    store: str,
    args: argparse.Namespace,
    root: Path,
    url: str | None,
    readers: Callable[[int, str], Readers],
) -> None:
    work, corpus = root / "index", root / "corpus"
    manifests = [versions(work)]
    long = readers(1, "long")

    def row(label: str, counts: dict[str, int], detail: str) -> None:
        matches = "yes" if index_matches(corpus, work, url) else "NO"
        print(
            f"{store:8}  {label:34} {counts['queries']:7} {counts['failed']:6} "
            f"{counts['empty']:5} {counts['mixed']:5} {counts['slowest_ms']:6}  {matches:7}  {detail}",
            flush=True,
        )

    group = readers(args.readers, "full")
    line = rebuild(corpus, work, url, "--quiet", "--full")
    manifests.append(versions(work))
    row("(a) full rebuild, demo corpus", finish(group, manifests), line.split(":")[0])

    edit_corpus(corpus)
    group = readers(args.readers, "incremental")
    line = rebuild(corpus, work, url, "--quiet")
    manifests.append(versions(work))
    row("(b) incremental rebuild", finish(group, manifests), untimed(line))

    write_lines(
        corpus / "2026-11-03-bulk.jsonl",
        [
            {
                "id": f"bulk-{i}",
                "prompt": f"What is setting {i} of module {i % 97}?",
                "completion": f"Setting {i} is {i * 7 % 1000}.",
            }
            for i in range(args.kill_records)
        ],
    )
    group = readers(args.readers, "kills")
    before = versions(work)
    kills = []
    for i in range(args.kills):
        extra = ("--full",) if i == args.kills - 1 else ()  # the last kill hits a full rebuild
        kills.append(kill_at(corpus, work, url, 512 * (1 + i % 2), "--lock-timeout", "60", *extra))
        assert versions(work) == before, "a killed rebuild changed the manifest"
    line = rebuild(corpus, work, url, "--quiet")
    manifests.append(versions(work))
    kills.append(untimed(line))
    row(f"(c) kill -9 x{args.kills}, then a rebuild", finish(group, manifests), "; ".join(kills))
    row("long-lived reader, all of the above", finish(long, manifests), "")


def main() -> None:
    """Run every scenario against each store and print one row per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=4, help="reader processes per scenario")
    parser.add_argument(
        "--kill-records", type=int, default=3000, help="records written under kills"
    )
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--stores", default="embedded,server")
    args = parser.parse_args()
    print(
        f"{'store':8}  {'scenario':34} {'queries':>7} {'failed':>6} {'empty':>5} {'mixed':>5} "
        f"{'max ms':>6}  matches  rebuild"
    )
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"chaos-{store}-") as tmp:
            root = Path(tmp)
            if store == "server":
                (root / "server").mkdir()
                with chroma_server(root / "server") as url:
                    run_store(store, args, root, url)
            else:
                run_store(store, args, root, None)


if __name__ == "__main__":
    main()
