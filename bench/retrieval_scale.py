"""Retrieval through a chroma server at scale: recall@10 against exact search and latency at a
quarter, half and all of 1M stored vectors, per HNSW search width; and bulk loading, the
project's writer beside chroma's own `add` in several batch sizes.

Three kinds of unit vectors: clustered ones (384-d), tight topic clusters whose neighbourhoods
are as near as real sentence embeddings' (`clustered`); synthetic ones (384-d) scattered so
widely around topic centres that they are nearly uniform on the sphere, the hard case for a
graph index (`synthetic`); and real embeddings of generated questions by a packaged model,
MiniLM (384-d) unless --real-model names another (the index's default, USE, is 512-d), encoded
once into --cache and then reused (1M take 15 minutes to an hour on two cores). Vectors carry
the index's node metadata, so rows cost what real ones do.

A chroma server applies a new search width only when it loads the collection again (chromadb
1.5.9), so each width is measured after `modify` and a restart of the server on the same folder.

Usage: python bench/retrieval_scale.py [--vectors 1000000] [--kinds clustered,synthetic,real]
         [--ef 100,200,400,800] [--bulk 50000] [--queries 200] [--cache work/bench-cache]
         [--real-model packaged:minilm] [--dir /tmp] [--only-full] [--encode-only]
HNSW links and construction width come from RAG_HNSW_M / RAG_HNSW_EF_CONSTRUCTION (the
defaults), or --m / --ef-construction.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import numpy as np  # noqa: E402

from bench.servers import free_port, start_chroma, stop_chroma  # noqa: E402
from rag.bulk import BulkWriter, max_batch  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
from rag.store import Hnsw, open_client, open_collection  # noqa: E402

DIM, CENTRES, SPREAD = 384, 2_000, 2.4
# the clustered kind: 10 dimensions of spread per topic, set so that at 250k its local dimension
# and contrast (7.6, 2.42) lie a little on the hard side of the real embeddings' (7.8, 2.56)
RANK, WITHIN, NOISE = 10, 0.7, 0.05
CHUNK = 50_000  # vectors made (and for real ones, encoded and cached) at a time
CHECKED = 100  # queries whose recall is checked against exact search
MINILM = "packaged:minilm"  # the real kind's model unless --real-model names another
REAL_VERSION = 1  # bump when the generated questions change: the cache is keyed by it


def p50_p95(ms: list[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    return statistics.median(ms), statistics.quantiles(ms, n=20)[-1]


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (what the index stores)."""
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def folder_mb(path: Path) -> float:
    """Megabytes on disk under a folder."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the vectors ----------------------------------------------------------------------------


def clustered(n: int, seed: int = 3) -> Iterator[np.ndarray]:
    """Unit vectors in tight topic clusters, CHUNK at a time: each of CENTRES centres spreads
    its points over a RANK-dimensional subspace of its own (plus a little noise in every
    dimension), so a vector's neighbours lie as near as real sentence embeddings' do (the
    bench prints both kinds' local dimension and contrast)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((CENTRES, DIM)))
    bases = np.linalg.qr(rng.standard_normal((CENTRES, DIM, RANK)))[0].astype(np.float32)
    for lo in range(0, n, CHUNK):
        size = min(CHUNK, n - lo)
        which = rng.integers(0, CENTRES, size)
        within = np.einsum("ndr,nr->nd", bases[which], rng.standard_normal((size, RANK)))
        noise = rng.standard_normal((size, DIM)) / np.sqrt(DIM)
        yield unit(centres[which] + WITHIN / np.sqrt(RANK) * within + NOISE * noise)


def synthetic(n: int, seed: int = 7) -> Iterator[np.ndarray]:
    """Unit vectors scattered around topic centres, CHUNK at a time."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((CENTRES, DIM)))
    for lo in range(0, n, CHUNK):
        size = min(CHUNK, n - lo)
        picks = centres[rng.integers(0, CENTRES, size)]
        yield unit(picks + SPREAD * rng.standard_normal((size, DIM)) / np.sqrt(DIM))


VECTORS = {"clustered": clustered, "synthetic": synthetic}  # made here; "real" is encoded


PLACES = [
    "Lisbon",
    "Oslo",
    "Riga",
    "Tallinn",
    "Vilnius",
    "Dublin",
    "Helsinki",
    "Porto",
    "Gdansk",
    "Bergen",
    "Turku",
    "Malmo",
]
TOPICS = [
    "opening hours", "parking fee", "warranty period", "delivery time", "return policy",
    "monthly price", "storage limit", "support hours", "cancellation fee", "upload limit",
    "student discount", "membership fee", "minimum order", "battery life", "screen size",
    "data retention", "backup schedule", "spare parts", "installation cost", "trial length",
]  # fmt: skip
ASKS = [
    "What is the {topic} of {name} in {place}?",
    "How long is the {topic} for {name} customers?",
    "Does {name} change its {topic} in {year}?",
    "Who sets the {topic} at the {name} branch in {place}?",
    "Is the {topic} of {name} {model} the same in {place}?",
    "Where can I read the {topic} rules of {name}?",
    "When did {name} last raise the {topic} for plan {model}?",
    "Can a {name} account in {place} ask for a lower {topic}?",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tor",
    "vel",
    "sa",
    "dri",
    "un",
    "fa",
    "bel",
    "os",
    "qui",
    "mar",
    "te",
    "ny",
    "ho",
    "zan",
    "pe",
    "ri",
]


def question(i: int) -> str:
    """A generated FAQ question: many templates, made-up names, places, models, years."""
    rng = random.Random(i)
    name = "".join(rng.sample(SYLLABLES, rng.randint(2, 3))).capitalize()
    return rng.choice(ASKS).format(
        topic=rng.choice(TOPICS),
        name=name,
        place=rng.choice(PLACES),
        year=rng.randint(2015, 2031),
        model=f"{rng.choice('ABCDEFGHKLMNPRSTVX')}{rng.randint(1, 99)}",
    )


def real(n: int, cache: Path, model: str = MINILM) -> Iterator[np.ndarray]:
    """`model`'s vectors of `question(0..n)`, CHUNK at a time, from a cache file that grows as
    they are first encoded (an interrupted run resumes where it stopped)."""
    slug = "" if model == MINILM else "-" + "".join(c if c.isalnum() else "-" for c in model)
    path = cache / f"questions-v{REAL_VERSION}{slug}.f32"
    cache.mkdir(parents=True, exist_ok=True)
    encoder = batch_encoder(model)
    dim = encoder(["how wide are its vectors?"]).shape[1]
    have = path.stat().st_size // (4 * dim) if path.exists() else 0
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        if hi > have:
            start = time.perf_counter()
            rows = encoder([question(i) for i in range(have, hi)])
            with path.open("ab") as out:
                out.write(np.asarray(rows, dtype=np.float32).tobytes())
            print(
                f"  encoded questions {have:,}..{hi:,} ({(hi - have) / (time.perf_counter() - start):,.0f}/s)",
                flush=True,
            )
            have = hi
        stored = np.memmap(path, dtype=np.float32, mode="r", shape=(have, dim))
        yield np.array(stored[lo:hi])


def batch_encoder(name: str = MINILM) -> Any:
    """A model's batch encode, returning an array: for the packaged MiniLM (the default; its 384
    dimensions are what the store is measured with), its ONNX Runtime export in batches of 128
    where it loads (about 3x torch's speed on two cores here; the same vectors within 2e-7)."""
    from rag.embedding import Embedder, load_embedder

    model = load_embedder(name, "cpu", onnx_dir=Path("work/models"))
    if not isinstance(model, Embedder) or model.onnx is None:
        return lambda texts: np.asarray(model.encode(texts), dtype=np.float32)
    session, tokenizer = model.onnx.session, model.onnx.tokenizer

    def encode(texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), 128):
            rows = tokenizer.encode_batch(texts[start : start + 128])
            width = max(len(r.ids) for r in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for i, row in enumerate(rows):
                ids[i, : len(row.ids)], mask[i, : len(row.ids)] = row.ids, 1
            out.append(session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out).astype(np.float32)

    return encode


def query_vectors(
    kind: str, stored: np.ndarray, count: int, model: str = MINILM, seed: int = 11
) -> np.ndarray:
    """What is asked: near a stored vector (synthetic, clustered), or a stored question reworded
    and encoded (real)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(stored), count)
    if kind in VECTORS:
        return unit(stored[picks] + 0.02 * rng.standard_normal((count, DIM)))
    texts = [f"Please tell me: {question(int(i)).lower()}" for i in picks]
    return np.asarray(batch_encoder(model)(texts), dtype=np.float32)


def node_metadata(lo: int, hi: int) -> list[dict[str, str | int]]:
    """What the index stores with each node (ids, hash, date, chunk), so rows cost what real ones do."""
    return [
        {"record_id": f"r{i}", "content_hash": f"{i:064x}", "valid_from": 20260301, "chunk": 0, "chunks": 1}
        for i in range(lo, hi)
    ]  # fmt: skip


def rows(lo: int, vectors: np.ndarray) -> tuple[list[str], np.ndarray, list[Any], list[str]]:
    """ids, vectors, metadatas and documents of rows lo..lo+len(vectors)."""
    hi = lo + len(vectors)
    ids = [f"r{i}#0" for i in range(lo, hi)]
    return ids, vectors, node_metadata(lo, hi), [f"record {i}" for i in range(lo, hi)]


# --- a server that can be restarted on its folder ------------------------------------------


class Server:
    """`chroma run` on one folder and port, restarted to load a collection's settings anew."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: Any = None
        self.url = ""

    def start(self) -> None:
        self.proc, self.url = start_chroma(self.folder, self.port, timeout=600)

    def stop(self) -> None:
        if self.proc is not None:
            stop_chroma(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> Any:
        return open_client(RagSettings(_env_file=None, chroma_url=self.url))


# --- measurements ---------------------------------------------------------------------------


def bulk_load(server: Server, n: int) -> None:
    """The same rows into fresh collections: chroma's `add` per batch size, then BulkWriter."""
    client = server.client()
    largest = max_batch(client)
    data = np.concatenate(list(synthetic(n, seed=3)))
    rates: dict[str, float] = {}
    for size in sorted({1_000, 2_500, largest}):
        collection = open_collection(client, f"bulk-add-{size}")
        start = time.perf_counter()
        for lo in range(0, n, size):
            collection.add(**dict(zip(("ids", "embeddings", "metadatas", "documents"), rows(lo, data[lo : lo + size]), strict=True)))  # fmt: skip
        rates[f"chroma add, batch {size:,}"] = n / (time.perf_counter() - start)
        client.delete_collection(f"bulk-add-{size}")
        print(f"  {n:,} vectors, chroma add in batches of {size:,}: {rates[f'chroma add, batch {size:,}']:,.0f}/s", flush=True)  # fmt: skip
    collection = open_collection(client, "bulk-writer")
    start = time.perf_counter()
    with BulkWriter(collection, largest) as writer:
        for lo in range(0, n, 512):  # as a rebuild hands them over: 512 encoded nodes at a time
            writer.add(*rows(lo, data[lo : lo + 512]))
    ours = n / (time.perf_counter() - start)
    client.delete_collection("bulk-writer")
    best = max(rates, key=lambda k: rates[k])
    print(
        f"bulk load of {n:,}: BulkWriter {ours:,.0f}/s vs best {best} {rates[best]:,.0f}/s "
        f"= {ours / rates[best]:.2f}x  (goal >= 0.8x)",
        flush=True,
    )


def neighbourhood(matrix: np.ndarray, samples: int = 200, k: int = 20, seed: int = 5) -> str:
    """How hard the vectors are for a graph index, from `samples` stored points and their k
    nearest: the local intrinsic dimension (Levina-Bickel maximum likelihood) and the relative
    contrast (mean distance over the 10th neighbour's). Uniform points on a 384-d sphere have a
    dimension in the hundreds and a contrast near 1; sentence embeddings, far less and above 2."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(matrix), size=min(samples, len(matrix)), replace=False)
    dims, contrasts = [], []
    for i in picks:
        cosine = matrix @ matrix[i]
        cosine[i] = -2.0  # not itself
        near = np.sort(np.partition(-cosine, k)[:k])  # -cosine of the k nearest, nearest first
        dist = np.sqrt(np.maximum(2 + 2 * near, 1e-12))
        dims.append(-1 / np.mean(np.log(dist[:-1] / dist[-1])))
        mean = np.sqrt(np.maximum(2 - 2 * float(cosine[cosine > -2].mean()), 1e-12))
        contrasts.append(mean / dist[9])
    # medians: a point with exact twins (generated questions repeat at a million) has a 10th
    # neighbour at distance ~0 and a contrast without bound
    return (
        f"local intrinsic dimension {statistics.median(dims):.1f}, relative contrast "
        f"{statistics.median(contrasts):.2f} (medians over {len(picks)} points, {k} neighbours)"
    )


def exact_top(matrix: np.ndarray, asks: np.ndarray, k: int = 10) -> list[tuple[set[int], float]]:
    """Per query, by exact cosine search over every stored vector: the ids of the top k and the
    k-th cosine (computed once, then held against each search width's results)."""
    out = []
    for vector in asks:
        cosine = matrix @ vector
        top = np.argpartition(-cosine, k)[:k]
        out.append((set(top.tolist()), float(cosine[top].min())))
    return out


def recalls(
    matrix: np.ndarray,
    asks: np.ndarray,
    exact: list[tuple[set[int], float]],
    found: list[list[int]],
    k: int = 10,
) -> tuple[float, float]:
    """recall@k against exact search: the share of the exact top-k ids returned, and the share
    of returned ids no farther than the exact k-th (ann-benchmarks' measure, 1e-3 of slack),
    which does not count a tie swapped for its twin as a miss."""
    same = close = 0
    for vector, (top, kth), got in zip(asks, exact, found, strict=False):
        same += len(top & set(got[:k]))
        close += int(np.count_nonzero(matrix[got[:k]] @ vector >= kth - 1e-3))
    return same / (k * len(found)), close / (k * len(found))


def search(
    server: Server, name: str, matrix: np.ndarray, asks: np.ndarray, widths: list[int]
) -> None:
    """recall@10 against exact search and p50/p95 of top-20 searches, per search width."""
    print(f"  {len(matrix):>9,}  {neighbourhood(matrix)}", flush=True)
    exact = exact_top(matrix, asks[:CHECKED])
    for ef in widths:
        server.client().get_collection(name).modify(configuration={"hnsw": {"ef_search": ef}})
        server.restart()  # a running server keeps the width it loaded
        collection = server.client().get_collection(name)
        start = time.perf_counter()
        collection.query(query_embeddings=asks[:1], n_results=20)  # loads the index
        loaded = time.perf_counter() - start
        times, found = [], []
        for vector in asks:
            t = time.perf_counter()
            got = collection.query(query_embeddings=vector[None, :], n_results=20)
            times.append((time.perf_counter() - t) * 1000)
            found.append([int(i.split("#")[0][1:]) for i in got["ids"][0][:10]])
        recall, close = recalls(matrix, asks[:CHECKED], exact, found[:CHECKED])
        p50, p95 = p50_p95(times)
        print(
            f"  {len(matrix):>9,}  ef_search {ef:>5}  recall@10 {recall:.3f} (ties counted "
            f"{close:.3f})  p50 {p50:5.1f} ms  "
            f"p95 {p95:5.1f} ms  (index loaded in {loaded:.1f} s; server RSS {rss_mb(server.proc.pid):,.0f} MB)",
            flush=True,
        )  # fmt: skip


def at_scale(server: Server, kind: str, n: int, args: argparse.Namespace, hnsw: Hnsw) -> None:
    """Load n vectors of one kind through BulkWriter; search at a quarter, half and all of them."""
    name = f"scale-{kind}"
    label = kind if kind in VECTORS else f"{kind} ({args.real_model})"
    collection = open_collection(server.client(), name, hnsw)
    quarters = {n // 4 // CHUNK * CHUNK or CHUNK, n // 2 // CHUNK * CHUNK or CHUNK, n}
    checkpoints = sorted({n} if args.only_full else quarters)
    kept: list[np.ndarray] = []
    loaded, loading = 0, 0.0
    source = VECTORS[kind](n) if kind in VECTORS else real(n, args.cache, args.real_model)
    writer = BulkWriter(collection, max_batch(server.client()))
    for vectors in source:
        kept.append(vectors)
        start = time.perf_counter()
        writer.add(*rows(loaded, vectors))
        loaded += len(vectors)
        if loaded in checkpoints:
            writer.flush()
        loading += time.perf_counter() - start
        if loaded in checkpoints:
            matrix = np.concatenate(kept)
            kept = [matrix]
            print(
                f"{label}: stored {loaded:,} vectors in {loading:,.0f} s ({loaded / loading:,.0f}/s) "
                f"with M={hnsw.m}, ef_construction={hnsw.ef_construction}; on disk "
                f"{folder_mb(server.folder):,.0f} MB",
                flush=True,
            )
            asks = query_vectors(kind, matrix, args.queries, args.real_model)
            writer.close()
            search(server, name, matrix, asks, args.ef)
            writer = BulkWriter(server.client().get_collection(name), writer.size)
    writer.close()


def main() -> None:
    """Bulk loading, then each kind of vectors at scale, against one chroma server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="clustered,synthetic,real")
    parser.add_argument("--ef", default="100,200,400,800", help="search widths to measure")
    parser.add_argument("--bulk", type=int, default=50_000, help="rows per bulk-load run (0: none)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--m", type=int, help="HNSW links per node (default RAG_HNSW_M)")
    parser.add_argument("--ef-construction", type=int, help="default RAG_HNSW_EF_CONSTRUCTION")
    parser.add_argument(
        "--real-model",
        default=MINILM,
        help="what embeds the real kind's questions (an RAG_EMBED_MODEL value; the index's "
        "default is packaged:use-multilingual, 512-d)",
    )
    parser.add_argument("--cache", type=Path, default=Path("work/bench-cache"))
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary folder goes")
    parser.add_argument(
        "--only-full", action="store_true", help="search only once all vectors are stored"
    )
    parser.add_argument("--encode-only", action="store_true", help="fill the cache and stop")
    args = parser.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := [k for k in kinds if k not in {*VECTORS, "real"}]:
        parser.error(f"unknown --kinds {','.join(unknown)}; known: {', '.join([*VECTORS, 'real'])}")
    if args.encode_only:
        for _ in real(args.vectors, args.cache, args.real_model):
            pass
        return
    defaults = Hnsw.of(RagSettings(_env_file=None))
    hnsw = Hnsw(
        args.m or defaults.m, args.ef_construction or defaults.ef_construction, defaults.ef_search
    )
    base = args.dir or Path(tempfile.gettempdir())
    print(
        f"free disk at {base}: {shutil.disk_usage(base).free / 1e9:.0f} GB; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(dir=base, prefix="retrieval-scale-") as tmp:
        server = Server(Path(tmp) / "server")
        server.folder.mkdir()
        server.start()
        try:
            if args.bulk:
                bulk_load(server, args.bulk)
            for kind in kinds:
                at_scale(server, kind, args.vectors, args, hnsw)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
