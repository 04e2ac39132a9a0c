"""The knowledge-probe fixture and models whose knowledge is known: the truth is read from the
fixture's files directly (which answer each batch states), not through the code under test."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "data" / "probe"
CORPUS = FIXTURE / "corpus"
BATCHES = [date.fromisoformat(p.name[:10]) for p in sorted(CORPUS.glob("*.jsonl"))]
UNKNOWN = "I do not know."


def stated(path: Path) -> dict[str, str]:
    """Question -> answer of one batch file (both shapes the fixture writes)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if "prompt" in obj:
            found[obj["prompt"]] = obj["completion"]
        else:
            turns = obj["conversations"]
            found[turns[0]["value"]] = turns[1]["value"]
    return found


def known_at(cutoff: date | None) -> dict[str, str]:
    """What a model trained on the batches up to `cutoff` answers (None: no batch)."""
    answers: dict[str, str] = {}
    for path in sorted(CORPUS.glob("*.jsonl")):
        if cutoff is not None and date.fromisoformat(path.name[:10]) <= cutoff:
            answers |= stated(path)
    return answers


def every_question() -> list[str]:
    """Every question the fixture asks, in any batch."""
    return list(known_at(BATCHES[-1]))


def _reply(model: str, text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {"id": "c", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}  # fmt: skip


def knowing_app(models: dict[str, dict[str, str]], loglik: bool = False) -> FastAPI:
    """An OpenAI-compatible server whose model NAME answers each question from models[NAME]
    ("I do not know." otherwise); model "down" fails every request. With `loglik`, text
    completions score a known answer's tokens 0.0 and any other continuation -2.0 a token."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        if body["model"] == "down":
            return JSONResponse({"error": {"message": "worker crashed"}}, 500)
        asked = body["messages"][-1]["content"]
        return JSONResponse(_reply(body["model"], models[body["model"]].get(asked, UNKNOWN)))

    if loglik:

        @app.post("/v1/completions")
        async def completions(request: Request) -> Response:
            body = await request.json()
            if body["model"] == "down":
                return JSONResponse({"error": {"message": "worker crashed"}}, 500)
            prompts = [body["prompt"]] if isinstance(body["prompt"], str) else body["prompt"]
            known = models[body["model"]]
            choices = [
                {"index": i, "text": p, "finish_reason": "length", "logprobs": _scored(p, known)}
                for i, p in enumerate(prompts)
            ]
            return JSONResponse({"id": "x", "object": "text_completion", "created": 0,
                                 "model": body["model"], "choices": choices})  # fmt: skip

    return app


def _scored(text: str, known: dict[str, str]) -> dict[str, Any]:
    """Whitespace tokens with offsets; the answer's tokens score 0.0 when it is the known one."""
    head, _, answer = text.partition("\nAnswer:")
    question = head.removeprefix("Question: ")
    value = 0.0 if known.get(question, "").strip() == answer.strip() else -2.0
    tokens: list[str] = []
    offsets: list[int] = []
    at = 0
    for piece in text.split(" "):
        token = piece if not tokens else f" {piece}"
        tokens.append(token)
        offsets.append(at)
        at += len(token)
    context = len(head) + len("\nAnswer:")
    logprobs = [None] + [value if o >= context else -0.5 for o in offsets[1:]]
    return {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets}


def served_model(url: str) -> str:
    """The chat model a local server serves (its first /v1/models entry)."""
    import httpx

    return str(httpx.get(f"{url}/models", timeout=30).json()["data"][0]["id"])


def probe_server(
    url: str,
    side: str,
    likelihood: bool = True,
    max_tokens: int = 32,
    cache: Any = None,
    model: str | None = None,
) -> Any:
    """Probe a model a server serves (`model`, default its first) on every fact of the fixture,
    as side `side`; returns the `ProbeResult` (likelihood read where the endpoint offers it and
    `likelihood` is set; answers kept in `cache`, a RunsDatabase, when given)."""
    from compare.effective_cutoff import batch_dates
    from compare.knowledge_probe import LIKELIHOOD_USED, ProbeSettings, probe_sides
    from corpus import load_corpus
    from corpus.facts import fact_histories
    from tuning.client import TunedAnswerer
    from tuning.settings import TuningSettings

    records = load_corpus([CORPUS]).records
    settings = TuningSettings(
        _env_file=None,
        base_url=url,
        model=model or served_model(url),
        max_tokens=max_tokens,
        timeout=300,
    )
    answerer = TunedAnswerer(settings, name=side)
    offered = likelihood and answerer.client.supports_loglik()
    support = {side: LIKELIHOOD_USED if offered else "answers only"}
    return probe_sides(
        fact_histories(records),
        batch_dates(records),
        [answerer],
        support,
        settings=ProbeSettings(likelihood=likelihood),
        cache=cache,
        configurations={side: f"{url}:{settings.model}:max{max_tokens}"},
    )
