"""One contract for every side of the side table: it never raises, a failure becomes
`Answer.error`, usage and latency are filled, and priced answers carry a cost — every row built
the way the workbench builds it (`compare.sides.Sides`), so a new side cannot escape the contract.
Real parts: a built index and a local OpenAI-compatible HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers import Answer, Answerer, Question
from answers.prices import PriceBook
from compare.cost import CostSettings
from compare.settings import CompareSettings, WorkbenchSettings
from compare.side_table import SIDE_TABLE, SideSpec
from compare.sides import FailedAnswerer, Sides
from rag.build import rebuild_index
from tests.conftest import ROOT
from tests.rag_helpers import load, qa, settings_for, write_batch
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

QUESTION = Question(text="How long is the hardware warranty?")
BOOK = PriceBook.load(ROOT / "data" / "prices.json")


def chat_app() -> FastAPI:
    """Model "ok" answers with usage; model "down" fails with a 500 every time."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        if body["model"] == "down":
            return JSONResponse({"error": {"message": "worker crashed"}}, 500)
        message = {"role": "assistant", "content": "Two years."}
        return JSONResponse(
            {
                "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43},
            }
        )  # fmt: skip

    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(chat_app()) as base:
        yield f"{base}/v1"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contract")
    write_batch(
        root / "corpus",
        "2026-03-01",
        [qa("warranty", "How long is the hardware warranty?", "Two years.")],
    )
    rebuild_index(load(root / "corpus"), settings_for(root / "index"))
    return root / "index"


def sides(index_dir: Path, url: str, model: str) -> Sides:
    """The workbench's side builder with every model (tuned, base, previous) named `model`."""
    tuning = TuningSettings(
        _env_file=None,
        base_url=url,
        model=model,
        base_endpoint_model=model,
        previous_model=model,
        max_retries=0,
        timeout=5,
    )
    compare = CompareSettings(_env_file=None)
    return Sides(WorkbenchSettings(compare=compare, rag=settings_for(index_dir), tuning=tuning))


def build(s: Sides, spec: SideSpec, priced: bool) -> Answerer:
    if priced:
        [side] = s.build([spec.name], BOOK, CostSettings(), (None, None))
        return side
    return s._side(spec, (None, None))


@pytest.mark.parametrize("priced", [False, True], ids=["plain", "priced"])
@pytest.mark.parametrize("spec", SIDE_TABLE, ids=[s.name for s in SIDE_TABLE])
@pytest.mark.parametrize("model", ["ok", "down"])
def test_every_side_keeps_the_contract(
    index_dir: Path, url: str, spec: SideSpec, model: str, priced: bool
) -> None:
    side = build(sides(index_dir, url, model), spec, priced)
    assert isinstance(side, Answerer)
    answer: Any = side.answer(QUESTION)  # must not raise, whatever the endpoint does
    assert isinstance(answer, Answer) and answer.answerer == spec.name
    if model == "down" and spec.calls_a_model:
        assert not answer.ok and isinstance(answer.error, str) and "worker crashed" in answer.error
        assert answer.text == "" and answer.cost_usd == 0.0
        return
    assert answer.ok, answer.error
    assert answer.text == "Two years." and answer.latency_s > 0
    assert (answer.usage.prompt_tokens > 0) == spec.calls_a_model
    assert (answer.usage.embedding_tokens > 0) == spec.retrieves
    assert bool(answer.sources) == spec.retrieves
    if priced:
        assert answer.cost_usd > 0


def test_a_side_that_cannot_start_answers_its_reason(url: str, tmp_path: Path) -> None:
    """No index built: every retrieving side fails with the reason; the others still answer."""
    built = {
        s.name: s
        for s in sides(tmp_path / "no-index", url, "ok").build(
            [spec.name for spec in SIDE_TABLE], BOOK, CostSettings(), (None, None)
        )
    }
    for spec in SIDE_TABLE:
        answer = built[spec.name].answer(QUESTION)
        assert answer.ok != spec.retrieves, (spec.name, answer.error)
    assert isinstance(FailedAnswerer("x", "why").answer(QUESTION).error, str)


def test_the_previous_model_unconfigured_says_what_to_set(index_dir: Path, url: str) -> None:
    s = sides(index_dir, url, "ok")
    s.settings = s.settings.with_overrides(tuning_previous_model=None)
    [side] = s.build(["tuned_previous"], BOOK, CostSettings(), (None, None))
    assert "TUNING_PREVIOUS_MODEL" in (side.answer(QUESTION).error or "")


def test_failed_answers_share_one_format() -> None:
    assert Answer.failed("rag", ValueError("no index")).error == "ValueError: no index"
    assert Answer.failed("rag", "cannot connect").error == "cannot connect"


def test_an_error_that_repeats_the_key_is_stored_without_it(tmp_path: Path) -> None:
    from answers.redact import register_secret

    register_secret("sk-live-contract-0123456789")
    answer = Answer.failed("tuned", "401: bad key sk-live-contract-0123456789 in header")
    assert "sk-live-contract-0123456789" not in (answer.error or "")
    loaded = Answer.model_validate_json(answer.model_dump_json())
    assert "sk-live" not in (loaded.error or "")
