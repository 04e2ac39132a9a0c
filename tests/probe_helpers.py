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
    tokens, offsets, at = [], [], 0
    for piece in text.split(" "):
        token = piece if not tokens else f" {piece}"
        tokens.append(token)
        offsets.append(at)
        at += len(token)
    context = len(head) + len("\nAnswer:")
    logprobs = [None] + [value if o >= context else -0.5 for o in offsets[1:]]
    return {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets}
