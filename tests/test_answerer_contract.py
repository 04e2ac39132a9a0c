"""One contract for every answerer: it never raises, a failure becomes `Answer.error`, and usage and
latency are filled — RAG extractive and generative, tuned, tuned + RAG, a side that could not start,
and each of them priced. Real parts: a built index and a local OpenAI-compatible HTTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers import Answer, Answerer, Question
from compare.cost import CostSettings, FixedInputs, side_models
from compare.price_book import PriceBook
from compare.sides import FailedAnswerer, Priced
from compare.tuned_rag import TunedRagAnswerer
from rag.answerer import RagAnswerer
from rag.build import rebuild_index
from rag.index import RagIndex
from tests.conftest import ROOT
from tests.rag_helpers import load, qa, settings_for, write_batch
from tuning.client import ChatClient, TunedAnswerer
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
def index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    root = tmp_path_factory.mktemp("contract")
    write_batch(
        root / "corpus",
        "2026-03-01",
        [qa("warranty", "How long is the hardware warranty?", "Two years.")],
    )
    settings = settings_for(root / "index")
    rebuild_index(load(root / "corpus"), settings)
    return RagIndex.open(settings)


def chat(url: str, model: str) -> ChatClient:
    return ChatClient(
        TuningSettings(_env_file=None, base_url=url, model=model, max_retries=0, timeout=5)
    )


def tuned(url: str, model: str) -> TunedAnswerer:
    settings = TuningSettings(_env_file=None, base_url=url, model=model, max_retries=0, timeout=5)
    return TunedAnswerer(settings, client=chat(url, model))


Build = Callable[[RagIndex, str, str], Answerer]
SIDES: dict[str, Build] = {
    "rag extractive": lambda index, url, model: RagAnswerer(index),
    "rag generative": lambda index, url, model: RagAnswerer(
        index, mode="generative", chat=chat(url, model)
    ),
    "tuned": lambda index, url, model: tuned(url, model),
    "tuned + rag": lambda index, url, model: TunedRagAnswerer(
        RagAnswerer(index), tuned(url, model)
    ),
    "failed to start": lambda index, url, model: FailedAnswerer(
        "tuned", ConnectionError("refused")
    ),
}
# what each side's usage must show when it answers: (prompt tokens, embedding tokens) > 0
USES = {
    "rag extractive": (False, True),
    "rag generative": (True, True),
    "tuned": (True, False),
    "tuned + rag": (True, True),
}


def priced(side: Answerer) -> Answerer:
    models = side_models(CostSettings(), FixedInputs(), BOOK, rag_generative=True)
    model = models.get(side.name) or models["tuned"]
    return Priced(side, model, BOOK, CostSettings())


@pytest.mark.parametrize("wrap", [lambda a: a, priced], ids=["plain", "priced"])
@pytest.mark.parametrize("name", list(SIDES))
@pytest.mark.parametrize("model", ["ok", "down"])
def test_every_answerer_keeps_the_contract(
    index: RagIndex, url: str, name: str, model: str, wrap: Callable[[Answerer], Answerer]
) -> None:
    side = wrap(SIDES[name](index, url, model))
    assert isinstance(side, Answerer)
    answer: Any = side.answer(QUESTION)  # must not raise, whatever the endpoint does
    assert isinstance(answer, Answer) and answer.answerer == side.name
    must_fail = name == "failed to start" or (model == "down" and USES[name][0])
    if must_fail:
        assert not answer.ok and isinstance(answer.error, str) and answer.error
        assert answer.text == "" and answer.cost_usd == 0.0
        return
    assert answer.ok, answer.error
    assert answer.text == "Two years." and answer.latency_s > 0
    prompt, embedding = USES[name]
    assert (answer.usage.prompt_tokens > 0) == prompt
    assert (answer.usage.embedding_tokens > 0) == embedding
    if wrap is priced:
        assert answer.cost_usd > 0


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
