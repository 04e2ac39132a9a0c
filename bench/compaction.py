"""Deleted nodes in the graph, and the copy that moves the live ones out (`rag.compact`).

Builds N generated records, then runs rebuilds that each change another 1% of them until the
nodes deleted from the graph reach RAG_COMPACT_AT (1.0) times the live ones, which makes the
last rebuild copy the live nodes to a fresh graph. Before the copy and after it, a reader in a
new process reports its memory and retrieval p50/p95, and the graph's size on disk is read; a
1% rebuild is timed on the crowded graph and on the fresh one, and the copy against the full
build of the same records (its baseline in the same run).

Usage: python bench/compaction.py [--records 20000] [--queries 60]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.records import make_record  # noqa: E402
from corpus import Record  # noqa: E402
from rag.build import rebuild_index  # noqa: E402
from rag.manifest import read_manifest  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

STEP = 100  # every 100th record changes in one rebuild: 1%


def changed(records: list[Record], round_: int) -> list[Record]:
    """The corpus after one more rebuild's 1%: another slice of records gets a new answer."""
    offset = round_ % STEP
    return [
        make_record(i, f" (round {round_})") if i % STEP == offset else r
        for i, r in enumerate(records)
    ]


def graph_bytes(work: Path) -> int:
    """The size of the HNSW folders in the embedded store (only the live one after a drop)."""
    root = work / "chroma"
    return sum(f.stat().st_size for d in root.iterdir() if d.is_dir() for f in d.iterdir())


def probe(work: Path, queries: int) -> dict[str, float]:
    """A reader in a new process: its memory once the index is open, and retrieval times."""
    out = subprocess.run(
        [sys.executable, __file__, "--probe", str(work), "--queries", str(queries)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_probe(work: Path, queries: int) -> None:
    import psutil

    from rag.index import RagIndex

    rng = random.Random(1)
    manifest = read_manifest(work)
    assert manifest is not None
    questions = [
        f"{make_record(rng.randrange(len(manifest.records))).question} please"
        for _ in range(queries)
    ]
    before = psutil.Process().memory_info().rss
    index = RagIndex.open(RagSettings(_env_file=None, work_dir=work))
    index.retrieve(questions[0])
    memory = psutil.Process().memory_info().rss - before
    times = []
    for question in questions:
        start = time.perf_counter()
        index.retrieve(question)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
    print(json.dumps({"memory_mb": memory / 1e6, "p50_ms": p50, "p95_ms": p95}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--probe", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe is not None:
        run_probe(args.probe, args.queries)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        settings = RagSettings(_env_file=None, work_dir=work)
        records = [make_record(i) for i in range(args.records)]
        start = time.perf_counter()
        rebuild_index(records, settings)
        full = time.perf_counter() - start
        fresh = probe(work, args.queries)
        fresh_graph = graph_bytes(work)
        print(
            f"full build of {args.records:,} records: {full:.1f} s; graph {fresh_graph / 1e6:.0f} MB; "
            f"reader +{fresh['memory_mb']:.0f} MB, retrieval p50 {fresh['p50_ms']:.1f} ms, "
            f"p95 {fresh['p95_ms']:.1f} ms",
            flush=True,
        )
        round_, steps = 0, list[float]()
        while True:
            manifest = read_manifest(work)
            assert manifest is not None
            # stop one rebuild short of the copy: the crowded graph is measured first
            if manifest.deleted_nodes + 2 * args.records // STEP >= manifest.nodes:
                break
            records = changed(records, round_)
            start = time.perf_counter()
            rebuild_index(records, settings)
            steps.append(time.perf_counter() - start)
            round_ += 1
        crowded = probe(work, args.queries)
        crowded_graph = graph_bytes(work)
        first, last = sorted(steps[:5])[2], sorted(steps[-5:])[2]
        print(
            f"after {round_} rebuilds of 1%: {manifest.deleted_nodes:,} deleted nodes beside "
            f"{manifest.nodes:,} live ones; graph {crowded_graph / 1e6:.0f} MB "
            f"({crowded_graph / fresh_graph:.2f}x the fresh one); reader +"
            f"{crowded['memory_mb']:.0f} MB ({crowded['memory_mb'] / fresh['memory_mb']:.2f}x), "
            f"retrieval p50 {crowded['p50_ms']:.1f} ms, p95 {crowded['p95_ms']:.1f} ms "
            f"({crowded['p95_ms'] / fresh['p95_ms']:.2f}x); a 1% rebuild: median of the first "
            f"five {first:.2f} s, of the last five {last:.2f} s ({last / first:.2f}x)",
            flush=True,
        )
        records = changed(records, round_)
        start = time.perf_counter()
        summary = rebuild_index(records, settings)
        total = time.perf_counter() - start
        assert summary.compacted, "the rebuild did not move the live nodes"
        moved = probe(work, args.queries)
        moved_graph = graph_bytes(work)
        records = changed(records, round_ + 1)
        start = time.perf_counter()
        rebuild_index(records, settings)
        after = time.perf_counter() - start
        print(
            f"the rebuild that moved them: {total:.1f} s, the copy {summary.compact_s:.1f} s = "
            f"{summary.compact_s / full:.2f}x the full build; graph {moved_graph / 1e6:.0f} MB "
            f"({moved_graph / crowded_graph:.2f}x the crowded one); reader +"
            f"{moved['memory_mb']:.0f} MB ({moved['memory_mb'] / crowded['memory_mb']:.2f}x), "
            f"retrieval p50 {moved['p50_ms']:.1f} ms, p95 {moved['p95_ms']:.1f} ms "
            f"({moved['p95_ms'] / crowded['p95_ms']:.2f}x); the next 1% rebuild {after:.2f} s "
            f"({after / last:.2f}x the last one on the crowded graph)",
            flush=True,
        )


if __name__ == "__main__":
    main()
