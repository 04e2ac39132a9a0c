"""Embeddings through a local OpenAI-compatible server (`tuning.serve --embed-model packaged`)
via the index's own remote embedder (llama-index's OpenAI-like class, batches in flight at
once) vs the same model in process: throughput ratio and the largest vector difference.

Usage: python bench/embed_remote.py [--texts 2000] [--batch 64] [--concurrency 1,4]
Both sides share this machine's cores: on a real deployment the server has its own.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import numpy as np  # noqa: E402

from rag.embedding import load_embedder  # noqa: E402
from rag.remote_embedding import RemoteEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "quay",
    "crane",
    "berth",
    "tide",
    "pilot",
    "manifest",
    "cargo",
    "reefer",
    "draught",
    "lock",
    "gate",
    "hull",
]


def node_texts(n: int) -> list[str]:
    """Question + answer texts of 20-40 words, the shape of what the index embeds."""
    rng = random.Random(3)
    return [
        f"When does the {' '.join(rng.choices(WORDS, k=rng.randint(8, 18)))} open at pier {i}?\n"
        f"It opens at {rng.randint(5, 11)}:{rng.randint(10, 59)} for {' '.join(rng.choices(WORDS, k=9))}."
        for i in range(n)
    ]


def main() -> None:
    """Time both paths over the same texts and compare their vectors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--concurrency", default="1,4")
    args = parser.parse_args()
    texts = node_texts(args.texts)
    local = load_embedder(None, "cpu", args.batch)
    local.encode(texts[:64])  # warm
    start = time.perf_counter()
    expected = local.encode(texts)
    base = len(texts) / (time.perf_counter() - start)
    print(f"in process                    {base:7.0f} texts/s  (baseline)")

    server = subprocess.Popen(
        [sys.executable, "-m", "tuning.serve", "--embed-model", "packaged", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "serving ... at URL" once it listens
        url = line.split(" at ", 1)[1].strip()
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            remote = RemoteEmbedder(
                url,
                "all-minilm-l6-v2",
                api_key=None,
                batch_size=args.batch,
                concurrency=concurrency,
                retries=3,
                timeout_s=300,
            )
            remote.encode(texts[:64])  # warm: the connection and the server's first batch
            start = time.perf_counter()
            got = remote.encode(texts)
            rate = len(texts) / (time.perf_counter() - start)
            diff = float(np.abs(got - expected).max())
            print(
                f"server, {concurrency} batch(es) in flight  {rate:7.0f} texts/s  "
                f"= {rate / base:.2f}x in process; largest difference {diff:.1e} per component"
            )
            remote.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
