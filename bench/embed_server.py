"""Embeddings through the local server's `/v1/embeddings` vs in process, in one run: throughput
ratio (one client, and several at once) and the largest difference between the vectors.

Usage: python bench/embed_server.py [--texts 2000] [--batch 64] [--clients 4]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from tuning.api import build_app  # noqa: E402
from tuning.embed import Embedder  # noqa: E402
from tuning.serve import serve_in_thread  # noqa: E402

WORDS = [
    "pump",
    "valve",
    "harbour",
    "pier",
    "ferry",
    "tide",
    "depth",
    "crew",
    "survey",
    "buoy",
    "channel",
    "berth",
    "engine",
    "log",
]


def sentences(n: int) -> list[str]:
    """n sentences of about 15 words, like the corpus records the index embeds."""
    rng = random.Random(0)
    return [" ".join(rng.choices(WORDS, k=14)) + f" {i}." for i in range(n)]


def through_server(url: str, texts: list[str], batch: int, clients: int) -> np.ndarray:
    """All vectors, asked in batches by `clients` threads at once."""
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]

    def post(chunk: list[str]) -> list[list[float]]:
        got = httpx.post(f"{url}/v1/embeddings", json={"input": chunk}, timeout=300).json()
        return [d["embedding"] for d in got["data"]]

    with ThreadPoolExecutor(clients) as pool:
        rows = [row for part in pool.map(post, chunks) for row in part]
    return np.asarray(rows, dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    """Print the figures; 0 always (timings are reported, never asserted)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    embedder = Embedder.load("packaged")
    texts = sentences(args.texts)
    embedder.embed(texts[:64])  # warm-up
    started = time.perf_counter()
    local = embedder.embed(texts, args.batch)
    local_s = time.perf_counter() - started
    print(
        f"in process: {args.texts / local_s:.0f} texts/s ({args.texts} texts, batch {args.batch})"
    )
    with serve_in_thread(build_app(None, None, None, embedder)) as url:
        through_server(url, texts[:64], args.batch, 1)  # warm-up
        for clients in (1, args.clients):
            started = time.perf_counter()
            served = through_server(url, texts, args.batch, clients)
            took = time.perf_counter() - started
            diff = float(np.abs(served - local).max())
            print(
                f"server, {clients} client(s): {args.texts / took:.0f} texts/s "
                f"({local_s / took:.2f}x in process), largest vector difference {diff:.2e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
