"""The local model server under attack, measured in one run: the real command
(`python -m tuning.serve --adapter none --embed-model packaged`) in its own process, a hostile
client on 127.0.0.1. For each attack: the reply, the server's memory (RSS sampled every 20 ms
during the attack) against its idle RSS, how long the model stayed busy after a client left, and
how long until a normal question is answered again (against a normal question asked just before
the attack). Then 50 requests at once with a queue of 8, and how fast bad requests are
refused (goal: under 100 ms, without tokenizing).

Usage: python bench/server_faults.py [--burst 50] [--queue 8] [--tokens 16]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

SHORT = [{"role": "user", "content": "Name one planet of the solar system."}]
LONG = [{"role": "user", "content": "Tell a very long story about a harbour pilot."}]
LONG_TEXT = "The harbour pilot wrote the tide tables by hand. " * 600  # 29,400 characters


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def sampled(pid: int) -> Iterator[list[float]]:
    """RSS samples every 20 ms while inside (the list fills as it goes)."""
    samples = [rss_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            try:
                samples.append(rss_mb(pid))
            except OSError:  # the server died: that is the finding
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


@contextmanager
def server(queue: int) -> Iterator[tuple[str, int]]:
    """The real command on a free port; yields (URL, PID); stopped by its PID."""
    command = [sys.executable, "-m", "tuning.serve", "--adapter", "none", "--embed-model",
               "packaged", "--port", "0", "--queue-max", str(queue), "--queue-wait-s", "600"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if " at " not in line:
            raise RuntimeError(f"the server did not start (exit {proc.poll()})")
        yield line.split(" at ", 1)[1].strip().removesuffix("/v1"), proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def ask(url: str, max_tokens: int) -> tuple[float, httpx.Response]:
    """(seconds, reply) of one plain chat request."""
    started = time.perf_counter()
    got = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": SHORT, "max_tokens": max_tokens},
        timeout=600,
    )
    return time.perf_counter() - started, got


def busy_for(url: str) -> float:
    """Seconds until no gate runs a job any more."""
    started = time.perf_counter()
    while any(g["running"] for g in httpx.get(f"{url}/health").json()["gates"].values()):
        time.sleep(0.01)
    return time.perf_counter() - started


def send(url: str, route: str, body: Any, timeout: float = 600) -> str:
    """POST a body (bytes as they are); the status, or 'left' when the client gave up first."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        got = httpx.post(f"{url}/v1/{route}", content=raw, timeout=timeout,
                         headers={"content-type": "application/json"})  # fmt: skip
    except httpx.ReadTimeout:
        return "left"
    code = (got.json().get("error") or {}).get("code") if got.status_code >= 400 else None
    return f"{got.status_code} {code or ''}".strip()


def leave_stream(url: str) -> str:
    """Read three pieces of a 200-token stream, then close it."""
    body = {"messages": LONG, "max_tokens": 200, "stream": True}
    pieces = 0
    with (
        httpx.Client(timeout=600) as client,
        client.stream("POST", f"{url}/v1/chat/completions", json=body) as reply,
    ):
        for line in reply.iter_lines():
            pieces += '"content": "' in line and '"content": ""' not in line
            if pieces == 3:
                break
    return "left after 3 pieces"


def trickle_body(url: str) -> str:
    """A request head, then 14 bytes of a 1,000-byte body, then nothing; the server's answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                     b"Content-Type: application/json\r\n\r\n" + b'{"messages": [')  # fmt: skip
        got = sock.recv(200)
    return got.split(b"\r\n", 1)[0].decode()


def silent_connections(url: str, n: int = 200) -> str:
    """n connections that send nothing; how many the server closed within 60 s."""
    host, port = url.removeprefix("http://").split(":")
    socks = [socket.create_connection((host, int(port)), timeout=60) for _ in range(n)]
    closed = 0
    for sock in socks:
        with suppress(OSError):
            closed += sock.recv(1) == b""
        sock.close()
    return f"{closed}/{n} closed by the server"


def attacks() -> dict[str, tuple[Callable[[str], str], bool]]:
    """label -> (attack, whether its client leaves before the reply)."""
    chat = "chat/completions"
    prompts = [f"Story number {i}: once upon a time" for i in range(64)]
    return {
        "stop 4 x 20,000 chars (80 KB)": (lambda u: send(u, chat, {"messages": SHORT, "stop": ["a" * 20_000] * 4}), False),
        "stop 4 x 2,000 chars": (lambda u: send(u, chat, {"messages": SHORT, "stop": ["a" * 2000] * 4}), False),
        "stop 4 x 256 chars (the limit), 64 tokens": (lambda u: send(u, chat, {"messages": LONG, "max_tokens": 64, "stop": ["\u2603" * 256] * 4}), False),
        "5,000 prompts": (lambda u: send(u, "completions", {"prompt": ["Q: 1 + 1?\nA:"] * 5000, "max_tokens": 1}), False),
        "64 prompts x 64 tokens, client leaves after 2 s": (lambda u: send(u, "completions", {"prompt": prompts, "max_tokens": 64}, 2), True),
        "score 29,400 chars (echo, logprobs 5), served": (lambda u: send(u, "completions", {"prompt": LONG_TEXT, "echo": True, "logprobs": 5, "max_tokens": 0}), False),
        "score 29,400 chars, client leaves after 2 s": (lambda u: send(u, "completions", {"prompt": LONG_TEXT, "echo": True, "logprobs": 1, "max_tokens": 0}, 2), True),
        "chat of 29,400 chars, 200 tokens, client leaves after 2 s": (lambda u: send(u, chat, {"messages": [{"role": "user", "content": LONG_TEXT}], "max_tokens": 200}, 2), True),
        "stream of 200 tokens left after 3 pieces": (leave_stream, True),
        "2,048 embeddings (the limits: 2,048 texts, 32,000 characters), client leaves after 1 s": (lambda u: send(u, "embeddings", {"input": [f"tide row {i:05d}" for i in range(2048)]}, 1), True),
        "lone surrogate in a message": (lambda u: send(u, chat, b'{"messages": [{"role": "user", "content": "a\\ud800"}]}'), False),
        "top_p NaN": (lambda u: send(u, chat, b'{"messages": [{"role": "user", "content": "hi"}], "top_p": NaN}'), False),
        "JSON nested 100,000 deep": (lambda u: send(u, chat, b"[" * 100_000 + b"]" * 100_000), False),
        "a body that stops after 14 bytes": (trickle_body, False),
        "200 connections that send nothing": (silent_connections, False),
    }  # fmt: skip


def run_attacks(url: str, pid: int, tokens: int, idle: float) -> None:
    """Each attack between two normal questions (the one before is the baseline: the machine's
    load changes during a run); one table row each."""
    print(f"| attack | reply | server RSS, max during (idle {idle:,.0f} MB) | model busy after "
          f"the client left | a normal question ({tokens} tokens) after / before |")  # fmt: skip
    print("|---|---|---|---|---|")
    for label, (attack, leaves) in attacks().items():
        before = ask(url, tokens)[0]
        with sampled(pid) as samples:
            reply = attack(url)
            after_leaving = busy_for(url) if leaves else None
            ended = time.perf_counter()
            status = ask(url, tokens)[1].status_code
            after = time.perf_counter() - ended
        busy = f"{after_leaving:.2f} s" if after_leaving is not None else "—"
        print(f"| {label} | {reply} | {max(samples):,.0f} MB (+{max(samples) - idle:,.0f}) | "
              f"{busy} | {after:.2f} s / {before:.2f} s ({after / before:.2f}x), status {status} |")  # fmt: skip


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
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with server(args.queue) as (url, pid):
        ask(url, 4)  # warm-up
        idle = rss_mb(pid)
        run_attacks(url, pid, args.tokens, idle)
        counts = burst(url, args.burst, args.tokens)
        print(f"\n{args.burst} at once, queue of {args.queue}: {json.dumps(counts)}")
        state = httpx.get(f"{url}/health").json()["gates"]["chat"]
        print(f"afterwards: health {state}, a request: status {ask(url, 4)[1].status_code}")
        big = json.dumps({"messages": [{"role": "user", "content": "x" * 10_000_000}]}).encode()
        cases = {
            "max_tokens 8000": {"messages": SHORT, "max_tokens": 8000},
            "seed 2**70": {"messages": SHORT, "seed": 2**70},
            "40,000-character message": {"messages": [{"role": "user", "content": "word " * 8000}]},
            "80 KB of stop strings": {"messages": SHORT, "stop": ["a" * 20_000] * 4},
        }
        for label, body in cases.items():
            ms, status = refusal_ms(url, json.dumps(body).encode())
            print(f"refused {label}: {status} in {ms:.1f} ms (median of 5)")
        ms, status = refusal_ms(url, big)
        print(f"refused 10 MB body: {status} in {ms:.1f} ms (median of 5)")
        print(f"server RSS at the end: {rss_mb(pid):,.0f} MB (idle was {idle:,.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
