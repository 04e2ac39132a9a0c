"""Evaluation against a slow and a rate-limited endpoint: concurrency N vs 1 in one run.

Two real local OpenAI-compatible servers: one answers every chat after a fixed delay (a remote
model's latency), one allows a few requests per second and answers 429 with Retry-After beyond it.
Prints wall time, the speed-up, whether scores are identical, and errors under the rate limit.

Usage: python bench/eval_concurrency.py [--questions 300] [--delay 0.3] [--rate 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers.prices import PriceBook
from compare.comparison import Comparison, Context, compare
from compare.evalset import EvalItem
from compare.knowledge import SidesKnowledge
from compare.runs_db import RunsDatabase
from tuning.client import TunedAnswerer
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

ROOT = Path(__file__).resolve().parent.parent


def reply(question: str) -> dict[str, object]:
    """A chat completion whose text depends on the question, so scores can be compared."""
    text = f"The answer to item {len(question) % 7} is {len(question)}."
    return {
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
    }  # fmt: skip


def slow_app(delay_s: float) -> FastAPI:
    """Answers after `delay_s`, any number at once."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(delay_s)
        return JSONResponse(reply(body["messages"][-1]["content"]))

    return app


def limited_app(per_second: float, delay_s: float) -> tuple[FastAPI, dict[str, int]]:
    """At most `per_second` requests a second (a token bucket); beyond that, 429 + Retry-After."""
    app = FastAPI()
    seen = {"ok": 0, "refused": 0}
    bucket = {"tokens": per_second, "at": time.monotonic()}
    lock = threading.Lock()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        with lock:
            now = time.monotonic()
            bucket["tokens"] = min(per_second, bucket["tokens"] + (now - bucket["at"]) * per_second)
            bucket["at"] = now
            allowed = bucket["tokens"] >= 1
            if allowed:
                bucket["tokens"] -= 1
        if not allowed:
            seen["refused"] += 1
            error = {
                "error": {"message": "rate limit: 5 requests per second", "type": "rate_limit"}
            }
            return JSONResponse(error, 429, {"retry-after": "1"})
        seen["ok"] += 1
        await asyncio.sleep(delay_s)
        return JSONResponse(reply(body["messages"][-1]["content"]))

    return app, seen


def items(n: int) -> list[EvalItem]:
    return [
        EvalItem(
            id=f"q{i}",
            question=f"What is recorded for item {i}? {'x' * (i % 13)}",
            reference=f"{i}",
        )
        for i in range(n)
    ]


def run(
    url: str, questions: list[EvalItem], concurrency: int, work: Path
) -> tuple[Comparison, float]:
    settings = TuningSettings(
        _env_file=None, base_url=url, model="m", max_retries=2, timeout=30, retry_budget_s=600
    )
    context = Context(
        records=[], knowledge=SidesKnowledge(), book=PriceBook.load(ROOT / "data" / "prices.json")
    )
    db = RunsDatabase(work / f"runs-{concurrency}-{time.monotonic_ns()}.sqlite")
    start = time.perf_counter()
    result = compare(questions, [TunedAnswerer(settings)], context, db=db, concurrency=concurrency)
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the slow server waits")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="requests/s the limited server allows"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    questions = items(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{args.questions} questions, server answers after {args.delay * 1000:.0f} ms")
        with serve_in_thread(slow_app(args.delay)) as base:
            one, t1 = run(f"{base}/v1", questions, 1, work)
            print(f"  concurrency  1: {t1:7.1f} s")
            for level in sorted({2, 4, 8, args.concurrency}):
                many, tn = run(f"{base}/v1", questions, level, work)
                same = [s.metrics for s in one.run.scored] == [s.metrics for s in many.run.scored]
                print(f"  concurrency {level:2d}: {tn:7.1f} s  -> {t1 / tn:5.1f}x faster; "
                      f"identical order and scores: {same}")  # fmt: skip
        app, seen = limited_app(args.rate, 0.05)
        with serve_in_thread(app) as base:
            limited, tl = run(f"{base}/v1", questions, args.concurrency, work)
        errors = sum(not s.answer.ok for s in limited.run.scored)
        print(f"rate-limited server ({args.rate:g} requests/s, 429 + Retry-After beyond it), "
              f"concurrency {args.concurrency}:")  # fmt: skip
        print(f"  {tl:.1f} s for {args.questions} questions ({args.questions / tl:.2f}/s); "
              f"answered {args.questions - errors}, errors {errors}; "
              f"429s waited out {seen['refused']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
