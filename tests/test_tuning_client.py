"""The endpoint client against a local server that fails in every way an endpoint can."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from answers import Answerer, Question, SourceHit
from tests.tuning_servers import free_port
from tuning.client import ChatClient, TunedAnswerer
from tuning.manifest import TuningManifest
from tuning.serve import serve_in_thread as app_in_thread
from tuning.settings import TuningSettings

SECRET = "sk-test-never-shown-1234"


def reply(text: str) -> dict[str, Any]:
    """A well-formed chat completion."""
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }  # fmt: skip


def failing_app(hits: Counter[str]) -> FastAPI:
    """Behaviour chosen by the request's model name; `hits` counts requests per model."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        model = body["model"]
        hits[model] += 1
        if model == "slow":
            await asyncio.sleep(3)
        if model == "flaky" and hits[model] == 1:
            return JSONResponse({"error": {"message": "slow down"}}, 429, {"retry-after": "0"})
        if model == "busy":
            return JSONResponse({"error": {"message": "always busy"}}, 429, {"retry-after": "0"})
        if model == "broken":
            return JSONResponse({"error": {"message": "worker crashed"}}, 500)
        if model == "garbage":
            return PlainTextResponse("{not json", media_type="application/json")
        if model == "shapeless":
            return JSONResponse({"result": "no choices here"})
        if model == "html":
            return PlainTextResponse("<html>gateway</html>", media_type="text/html")
        return JSONResponse(reply(f"echo: {body['messages'][-1]['content']}"))

    return app


@pytest.fixture(scope="module")
def hits() -> Counter[str]:
    return Counter()


@pytest.fixture(scope="module")
def url(hits: Counter[str]) -> Iterator[str]:
    with app_in_thread(failing_app(hits)) as base:
        yield f"{base}/v1"


def answerer(url: str, model: str, **overrides: Any) -> TunedAnswerer:
    values: dict[str, Any] = {"timeout": 1.0, "max_retries": 1, "retry_budget_s": 1.0, **overrides}
    settings = TuningSettings(_env_file=None, base_url=url, model=model, api_key=SECRET, **values)
    return TunedAnswerer(settings, name="tuned")


def test_answer_records_usage_and_latency(url: str) -> None:
    tuned = answerer(url, "ok")
    assert isinstance(tuned, Answerer)
    got = tuned.answer(Question(text="What is the Atlas kettle's price?"))
    assert got.ok, got.error
    assert got.text == "echo: What is the Atlas kettle's price?"
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (11, 3)
    assert got.latency_s > 0
    assert got.answerer == "tuned"


def test_context_passages_reach_the_model_and_become_sources(url: str) -> None:
    sources = [
        SourceHit(record_id="r1", score=0.9, text="It costs 49 EUR."),
        SourceHit(record_id="r2", score=0.8, text="Old: 45 EUR."),
    ]
    got = answerer(url, "ok").answer_with_context(Question(text="Price?"), sources)
    assert got.ok and got.text == "echo: Price?"
    assert [s.record_id for s in got.sources] == ["r1", "r2"]


def test_429_is_retried_then_succeeds(url: str, hits: Counter[str]) -> None:
    got = answerer(url, "flaky").answer(Question(text="q"))
    assert got.ok, got.error
    assert hits["flaky"] == 2


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("slow", "no reply within the timeout"),
        ("busy", "past the retry budget of 1 s"),
        ("broken", "server error 500: worker crashed"),
        ("garbage", "unreadable reply"),
        ("shapeless", "malformed reply, no choices"),
        ("html", "malformed reply, no choices"),
    ],
)
def test_every_failure_is_an_answer_error(url: str, model: str, expected: str) -> None:
    got = answerer(url, model).answer(Question(text="q"))
    assert not got.ok
    assert got.error is not None and expected in got.error
    assert SECRET not in got.error
    assert got.text == "" and got.latency_s > 0


def test_retries_are_bounded(url: str, hits: Counter[str]) -> None:
    before = hits["broken"]
    answerer(url, "broken", max_retries=2).answer(Question(text="q"))
    assert hits["broken"] - before == 3  # the first try and two retries


def test_connection_refused_is_an_answer_error() -> None:
    got = answerer(f"http://127.0.0.1:{free_port()}/v1", "ok", max_retries=0).answer(
        Question(text="q")
    )
    assert got.error is not None and "cannot connect" in got.error


def test_client_complete_shape_for_generative_rag(url: str) -> None:
    settings = TuningSettings(_env_file=None, base_url=url, model="ok")
    client = ChatClient(settings)
    text, usage = client.complete([{"role": "user", "content": "hi"}])
    assert (text, usage.prompt_tokens, usage.completion_tokens) == ("echo: hi", 11, 3)
    client.close()


def test_secret_key_is_not_shown(url: str) -> None:
    settings = TuningSettings(_env_file=None, base_url=url, api_key=SECRET)
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()


def test_from_settings_takes_the_cutoff_from_the_manifest(url: str, tmp_path: Path) -> None:
    manifest = TuningManifest(
        base_model="SmolLM2-135M-Instruct",
        trained_at=datetime(2026, 4, 1, tzinfo=UTC),
        data_cutoff=date(2026, 3, 31),
    )
    manifest.save(tmp_path)
    settings = TuningSettings(_env_file=None, base_url=url, model="ok", manifest_path=tmp_path)
    tuned = TunedAnswerer.from_settings(settings, name="tuned-march")
    got = tuned.answer(Question(text="q"))
    assert got.ok and got.answerer == "tuned-march"
    assert got.knowledge_cutoff == date(2026, 3, 31)
