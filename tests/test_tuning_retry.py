"""The endpoint client waits out servers that say 'not now': a rate limit of 5 requests/s and a
503 with Retry-After, asked from many threads through one client."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from answers import Question
from tests.test_tuning_client import reply
from tuning.client import ChatClient, TunedAnswerer
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

RATE = 5.0  # requests per second the limited server lets through


class Bucket:
    """A token bucket: RATE per second, bursts of one; says how long until the next token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_free = 0.0

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            if now >= self.next_free:
                self.next_free = max(now, self.next_free) + 1 / RATE
                return 0.0
            return self.next_free - now


def limited_app(seen: Counter[str]) -> FastAPI:
    """/v1 for model 'limited' (429 past RATE/s) and 'unavailable' (503 twice per question)."""
    app, bucket = FastAPI(), Bucket()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        question = body["messages"][-1]["content"]
        seen[f"{body['model']}:{question}"] += 1
        if body["model"] == "limited" and (wait := bucket.take()) > 0:
            seen["429"] += 1
            headers = {
                "retry-after": str(max(1, round(wait))),
                "retry-after-ms": str(int(wait * 1000) + 1),
            }
            return JSONResponse({"error": {"message": "rate limit: 5 requests/s"}}, 429, headers)
        if body["model"] == "unavailable" and seen[f"unavailable:{question}"] <= 2:
            seen["503"] += 1
            return JSONResponse({"error": {"message": "warming up"}}, 503, {"retry-after": "1"})
        return JSONResponse(reply(f"answer to {question}"))

    return app


@pytest.fixture(scope="module")
def seen() -> Counter[str]:
    return Counter()


@pytest.fixture(scope="module")
def url(seen: Counter[str]) -> Iterator[str]:
    with serve_in_thread(limited_app(seen)) as base:
        yield f"{base}/v1"


def client(url: str, model: str, **values: Any) -> ChatClient:
    settings = TuningSettings(_env_file=None, base_url=url, model=model, max_retries=0, **values)
    return ChatClient(settings)


def test_a_rate_limit_is_waited_out_from_many_threads(url: str, seen: Counter[str]) -> None:
    shared = client(url, "limited", retry_budget_s=60)
    tuned = TunedAnswerer(TuningSettings(_env_file=None), client=shared)
    questions = [Question(text=f"dock {n} depth?") for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(tuned.answer, questions))
    assert [a.error for a in answers] == [None] * 24
    assert [a.text for a in answers] == [f"answer to dock {n} depth?" for n in range(24)]
    assert seen["429"] > 0 and shared.retry.waits == seen["429"]


def test_a_503_with_retry_after_is_waited_out(url: str, seen: Counter[str]) -> None:
    shared = client(url, "unavailable", retry_budget_s=30)
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(lambda n: shared.complete([{"role": "user", "content": f"q{n}"}]), range(4))
        )
    assert [text for text, _usage in replies] == [f"answer to q{n}" for n in range(4)]
    assert all(seen[f"unavailable:q{n}"] == 3 for n in range(4))


def test_a_wait_past_the_budget_is_an_answer_error(url: str) -> None:
    tuned = TunedAnswerer(
        TuningSettings(_env_file=None), client=client(url, "unavailable", retry_budget_s=0.5)
    )
    got = tuned.answer(Question(text="never asked before"))
    assert got.error is not None and "past the retry budget of 0.5 s" in got.error
