"""Retrieval through a chroma server at scale: search latency at 1M stored vectors (synthetic,
with the index's metadata), the query embedding measured on its own, and p50/p95 of the whole
query path at 50k embedded records.

Usage: python bench/retrieval_scale.py [--vectors 1000000] [--embedded 50000] [--queries 200]
1M x 384 float32 is 1.5 GB of vectors plus the HNSW graph and chroma's log: the script prints
the free disk first, keeps everything in one temporary folder and removes it at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import numpy as np  # noqa: E402

from bench.index import make_record  # noqa: E402
from bench.servers import chroma_server  # noqa: E402
from rag.build import rebuild_index  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.index import RagIndex  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
from rag.store import open_client  # noqa: E402

DIM, BATCH = 384, 5_000


def p50_p95(ms: list[float]) -> str:
    """Median and 95th percentile, formatted."""
    return f"p50 {statistics.median(ms):.1f} ms, p95 {statistics.quantiles(ms, n=20)[-1]:.1f} ms"


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (what the index stores)."""
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def folder_mb(path: Path) -> float:
    """Megabytes on disk under a folder."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def server_rss_mb() -> float:
    """Resident memory of the newest `chroma run` child of this process, from /proc."""
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int, reverse=True):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"chroma" in cmd and b"run" in cmd:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")


def synthetic(
    rng: np.random.Generator, centres: np.ndarray, size: int, spread: float
) -> np.ndarray:
    """Unit vectors scattered around topic centres: neighbours exist, as they do for texts."""
    picks = centres[rng.integers(0, len(centres), size)]
    return unit(picks + spread * rng.standard_normal((size, DIM)) / np.sqrt(DIM))


def node_metadata(lo: int, hi: int) -> list[dict[str, str | int]]:
    """What the index stores with each node (ids, hash, date, chunk), so rows cost what real ones do."""
    return [
        {"record_id": f"r{i}", "content_hash": f"{i:064x}", "as_of_int": 20260301, "chunk": 0, "chunks": 1}
        for i in range(lo, hi)
    ]  # fmt: skip


def store_at_scale(url: str, n: int, queries: int, root: Path) -> None:
    """Load n synthetic unit vectors with node-like metadata, then time searches over HTTP."""
    settings = RagSettings(_env_file=None, work_dir=root / "unused", chroma_url=url)
    # the HNSW index is written to disk every `sync_threshold` adds (1,000 by default): at a
    # million vectors that rewrite dominates loading, so this bulk load syncs less often
    collection = open_client(settings).create_collection(
        "scale-g000001",
        metadata={"hnsw:space": "cosine", "hnsw:batch_size": BATCH, "hnsw:sync_threshold": 100_000},
        embedding_function=None,
    )
    rng = np.random.default_rng(7)
    centres = unit(rng.standard_normal((2_000, DIM)))
    kept: list[np.ndarray] = []
    # searches are timed at a quarter, half and all of n, so the curve shows how latency grows
    checkpoints = sorted(
        {max(BATCH, n // 4 // BATCH * BATCH), max(BATCH, n // 2 // BATCH * BATCH), n}
    )
    start, loading = time.perf_counter(), 0.0
    for lo in range(0, n, BATCH):
        hi = min(lo + BATCH, n)
        kept.append(synthetic(rng, centres, hi - lo, spread=2.4))
        t = time.perf_counter()
        collection.add(
            ids=[f"r{i}#0" for i in range(lo, hi)],
            embeddings=kept[-1],
            metadatas=node_metadata(lo, hi),
            documents=[f"record {i}" for i in range(lo, hi)],
        )
        loading += time.perf_counter() - t
        if hi in checkpoints:
            print(
                f"stored {hi:,} vectors through the server in {loading:.0f} s "
                f"({hi / loading:,.0f}/s); server RSS {server_rss_mb():,.0f} MB; "
                f"on disk {folder_mb(root / 'server'):,.0f} MB",
                flush=True,
            )
            search(collection, np.concatenate(kept), queries, rng)
    print(f"whole load {time.perf_counter() - start:.0f} s")


def search(collection: Any, matrix: np.ndarray, queries: int, rng: np.random.Generator) -> None:
    """Time top-20 searches over HTTP near stored vectors; recall@10 against exact search."""
    n = len(matrix)
    asks = unit(matrix[rng.integers(0, n, queries)] + 0.02 * rng.standard_normal((queries, DIM)))
    collection.query(query_embeddings=asks[:1], n_results=20)  # the first search loads the index
    times, found = [], []
    for vector in asks:
        t = time.perf_counter()
        got = collection.query(query_embeddings=vector[None, :], n_results=20)
        times.append((time.perf_counter() - t) * 1000)
        found.append({int(i.split("#")[0][1:]) for i in got["ids"][0][:10]})
    checked = min(50, queries)  # exact search over every vector: a matrix product per query
    overlap = [
        len(found[j] & set(np.argsort(-(matrix @ asks[j]))[:10].tolist())) for j in range(checked)
    ]
    print(
        f"search at {n:,} over HTTP (top 20)   {p50_p95(times)}; "
        f"recall@10 vs exact {sum(overlap) / (10 * checked):.3f}",
        flush=True,
    )


def embedded_path(url: str, n: int, queries: int, root: Path) -> None:
    """Index n real records through the server, then time whole queries (embedding included)."""
    settings = RagSettings(_env_file=None, work_dir=root / "index", chroma_url=url, hybrid="off")
    start = time.perf_counter()
    rebuild_index([make_record(i) for i in range(n)], settings)
    print(f"indexed {n:,} records through the server in {time.perf_counter() - start:.0f} s")
    questions = [f"{make_record(i * 7919 % n).question} please" for i in range(queries)]
    query = load_embedder(None, "cpu", onnx_dir=settings.work_root / "models")
    query.encode_query(questions[0])
    embed_ms = []
    for q in questions:
        t = time.perf_counter()
        query.encode_query(q)
        embed_ms.append((time.perf_counter() - t) * 1000)
    print(f"query embedding alone (ONNX Runtime)  {p50_p95(embed_ms)}")
    index = RagIndex.open(settings)
    index.retrieve(questions[0])
    total = []
    for q in questions:
        t = time.perf_counter()
        index.retrieve(q)
        total.append((time.perf_counter() - t) * 1000)
    print(f"retrieval at {n:,} through the server  {p50_p95(total)} incl. query embedding")


def main() -> None:
    """Both measurements against one chroma server in a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--embedded", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary folder goes")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.gettempdir())
    print(f"free disk at {base}: {shutil.disk_usage(base).free / 1e9:.0f} GB")
    with tempfile.TemporaryDirectory(dir=base, prefix="retrieval-scale-") as tmp:
        root = Path(tmp)
        (root / "server").mkdir()
        with chroma_server(root / "server") as url:
            if args.vectors:
                store_at_scale(url, args.vectors, args.queries, root)
            if args.embedded:
                embedded_path(url, args.embedded, args.queries, root)


if __name__ == "__main__":
    main()
