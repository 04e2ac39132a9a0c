"""Multiple choice on the tuned side: log-likelihood through /v1/completions and the lettered
prompt with its strict parse, against a local endpoint whose replies are written by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from answers import Question
from tests.test_tuning_client import reply
from tuning.choosing import continuation_logprob, loglik_texts
from tuning.client import TunedAnswerer
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

QUESTION = Question(text="Which river runs through Varnholm?", choices=("Ostra", "Pell", "Kiv"))
# per choice: the log-probability of each continuation token; sums -3.0, -1.5, -2.25
CONTINUATIONS = {"Ostra": [-1.0, -2.0], "Pell": [-1.5], "Kiv": [-0.75, -0.5, -1.0]}
TIED = {"Ostra": [-1.0, -0.5], "Pell": [-1.5], "Kiv": [-3.0]}  # Ostra and Pell both -1.5


def scored(text: str, table: dict[str, list[float]]) -> dict[str, Any]:
    """A completion choice for `text`: context tokens of -0.25 each, then the choice's tokens."""
    choice = next(c for c in table if text.endswith(f" {c}"))
    context = text[: -len(choice) - 1]
    pieces = context.split(" ")  # one token per word of the context, with its space
    tokens = [pieces[0], *(f" {p}" for p in pieces[1:])]
    values = table[choice]
    cut = max(1, len(choice) // len(values))  # the choice in len(values) pieces, space in front
    parts = [choice[i * cut : (i + 1) * cut] for i in range(len(values) - 1)]
    parts.append(choice[(len(values) - 1) * cut :])
    parts[0] = f" {parts[0]}"
    offsets, at = [], 0
    for token in [*tokens, *parts]:
        offsets.append(at)
        at += len(token)
    logprobs = [None, *([-0.25] * (len(tokens) - 1)), *values]
    return {"tokens": [*tokens, *parts], "token_logprobs": logprobs, "text_offset": offsets}


def app() -> FastAPI:
    """Model 'loglik' and 'tied' answer /v1/completions; 'letter-*' only chat, replying '*'."""
    server = FastAPI()

    @server.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        if body["model"] not in ("loglik", "tied"):
            return JSONResponse({"error": {"message": "not found"}}, 404)
        assert body["echo"] is True and body["max_tokens"] == 0 and body["logprobs"] == 1
        table = TIED if body["model"] == "tied" else CONTINUATIONS
        prompts = [body["prompt"]] if isinstance(body["prompt"], str) else body["prompt"]
        if not all(any(p.endswith(f" {c}") for c in table) for p in prompts):  # the probe
            table = {p.rsplit(" ", 1)[1]: [-0.5] for p in prompts}
        choices = [{"index": i, "text": p, "finish_reason": "length", "logprobs": scored(p, table)}
                   for i, p in enumerate(prompts)]  # fmt: skip
        return JSONResponse({"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"],
                             "choices": choices, "usage": {"prompt_tokens": 40, "completion_tokens": 0, "total_tokens": 40}})  # fmt: skip

    @server.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        return JSONResponse(reply(body["model"].removeprefix("letter-")))

    return server


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(app()) as base:
        yield f"{base}/v1"


def tuned(url: str, model: str, method: str = "auto") -> TunedAnswerer:
    settings = TuningSettings(_env_file=None, base_url=url, model=model, choice_method=method)
    return TunedAnswerer(settings)


def test_the_fixture_sums_are_what_the_test_says() -> None:
    context, texts = loglik_texts(QUESTION.text, QUESTION.choices)
    sums = []
    for text in texts:
        s = scored(text, CONTINUATIONS)
        sums.append(
            continuation_logprob(s["text_offset"], s["token_logprobs"], len(context), len(text))
        )
    assert sums == [-3.0, -1.5, -2.25]


def test_loglik_picks_the_likeliest_choice(url: str) -> None:
    got = tuned(url, "loglik").answer(QUESTION)
    assert got.ok, got.error
    assert got.choice == 1
    assert got.text.startswith("B (log-likelihood; sum A -3.00, B -1.50, C -2.25")
    assert got.usage.prompt_tokens == 40


def test_a_tie_goes_to_the_first_choice(url: str) -> None:
    assert tuned(url, "tied", "loglik").answer(QUESTION).choice == 0


@pytest.mark.parametrize(
    ("reply_text", "expected"),
    [
        ("C", 2),
        ("(b)", 1),
        ("Answer: A", 0),
        ("D", None),
        ("Pell", None),
        ("B or C", None),
        ("", None),
    ],
)
def test_the_lettered_reply_is_parsed_strictly(
    url: str, reply_text: str, expected: int | None
) -> None:
    got = tuned(url, f"letter-{reply_text}", "letter").answer(QUESTION)
    assert got.ok and got.choice == expected
    assert got.text == reply_text  # shown as it came, parseable or not


def test_auto_uses_loglik_where_the_endpoint_scores_and_letters_elsewhere(url: str) -> None:
    assert tuned(url, "loglik").choice_method() == "loglik"
    assert tuned(url, "letter-B").choice_method() == "letter"
    assert tuned(url, "letter-B").answer(QUESTION).choice == 1


def test_a_question_without_choices_is_asked_plainly(url: str) -> None:
    got = tuned(url, "letter-Ostra").answer(Question(text=QUESTION.text))
    assert got.text == "Ostra" and got.choice is None
