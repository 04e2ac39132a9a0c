"""The local model server under faults, measured in one run on the real base model:
recovery after a client leaves mid-stream, 50 requests at once with a queue of 8, and how fast
oversized or out-of-range requests are refused (goal: under 100 ms, without tokenizing).

Usage: python bench/server_faults.py [--burst 50] [--queue 8] [--tokens 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

import httpx  # noqa: E402

from tuning.api import build_app  # noqa: E402
from tuning.generate import Generator  # noqa: E402
from tuning.model import load_for_inference  # noqa: E402
from tuning.serve import serve_in_thread  # noqa: E402
from tuning.settings import ServeSettings, TuningSettings  # noqa: E402

SHORT = [{"role": "user", "content": "Name one planet of the solar system."}]
LONG = [{"role": "user", "content": "Tell a very long story about a harbour pilot."}]


def ask(url: str, max_tokens: int) -> tuple[float, httpx.Response]:
    """(seconds, reply) of one plain chat request."""
    started = time.perf_counter()
    got = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": SHORT, "max_tokens": max_tokens},
        timeout=300,
    )
    return time.perf_counter() - started, got


def leave_mid_stream(url: str) -> float:
    """Read three pieces of a 200-token stream, close it; seconds until the model is free."""
    body = {"messages": LONG, "max_tokens": 200, "stream": True}
    pieces = 0
    with (
        httpx.Client(timeout=300) as client,
        client.stream("POST", f"{url}/v1/chat/completions", json=body) as reply,
    ):
        for line in reply.iter_lines():
            pieces += '"content": "' in line and '"content": ""' not in line
            if pieces == 3:
                break
    left = time.perf_counter()
    while httpx.get(f"{url}/health").json()["gates"]["chat"]["running"]:
        time.sleep(0.01)
    return time.perf_counter() - left


def burst(url: str, n: int, max_tokens: int) -> dict[str, Any]:
    """n requests at once: counts by status, and whether every 503 said when to retry."""
    with ThreadPoolExecutor(n) as pool:
        replies = [r for _s, r in pool.map(lambda _: ask(url, max_tokens), range(n))]
    codes = [r.status_code for r in replies]
    busy = [r for r in replies if r.status_code == 503]
    return {
        "answered": codes.count(200),
        "busy_503": len(busy),
        "other": len(codes) - codes.count(200) - len(busy),
        "retry_after_on_every_503": all(r.headers.get("retry-after", "").isdigit() for r in busy),
        "retry_after_s": sorted({int(r.headers["retry-after"]) for r in busy}),
    }


def refusal_ms(url: str, body: bytes, repeats: int = 5) -> tuple[float, int]:
    """Median milliseconds to be refused, and the status code."""
    times, status = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        got = httpx.post(
            f"{url}/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        times.append((time.perf_counter() - started) * 1000)
        status = got.status_code
    return statistics.median(times), status


def main(argv: list[str] | None = None) -> int:
    """Print the figures; 0 always (timings are reported, never asserted)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16, help="reply length of a normal request")
    args = parser.parse_args(argv)
    settings = TuningSettings(_env_file=None)
    model, tokenizer = load_for_inference(settings.base_model, settings.cache_dir, None, "cpu")
    generator = Generator(model, tokenizer)
    limits = ServeSettings(_env_file=None, queue_max=args.queue, queue_wait_s=600)
    with serve_in_thread(build_app(generator, "base", limits)) as url:
        ask(url, 4)  # warm-up
        normal = statistics.median(ask(url, args.tokens)[0] for _ in range(3))
        freed = leave_mid_stream(url)
        after, reply = ask(url, args.tokens)
        print(f"normal request ({args.tokens} tokens): {normal * 1000:.0f} ms median of 3")
        print(f"client leaves a 200-token stream after 3 pieces: model free {freed * 1000:.0f} ms later; "
              f"next request {after * 1000:.0f} ms ({after / normal:.2f}x normal, status {reply.status_code})")  # fmt: skip
        counts = burst(url, args.burst, args.tokens)
        print(f"{args.burst} at once, queue of {args.queue}: {json.dumps(counts)}")
        state = httpx.get(f"{url}/health").json()["gates"]["chat"]
        print(f"afterwards: health {state}, a request: status {ask(url, 4)[1].status_code}")
        big = json.dumps({"messages": [{"role": "user", "content": "x" * 10_000_000}]}).encode()
        cases = {
            "max_tokens 8000": {"messages": SHORT, "max_tokens": 8000},
            "seed 2**70": {"messages": SHORT, "seed": 2**70},
            "40,000-character message": {"messages": [{"role": "user", "content": "word " * 8000}]},
        }
        for label, body in cases.items():
            ms, status = refusal_ms(url, json.dumps(body).encode())
            print(f"refused {label}: {status} in {ms:.1f} ms (median of 5)")
        ms, status = refusal_ms(url, big)
        print(f"refused 10 MB body: {status} in {ms:.1f} ms (median of 5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
