"""The tuned side as an answerer: any OpenAI-compatible chat endpoint (with `tuning.retry` and `tuning.jobs`, the only modules that import `openai`).

An OpenAI fine-tune, Vertex, vLLM, Ollama, TGI or `python -m tuning.serve` are all reached the
same way, by base URL and model name. Every failure becomes an `Answer` with a readable error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import openai

from answers import Answer, Question, SourceHit, Usage
from answers.choices import lettered_prompt, parse_letter
from answers.prompts import passages_messages, with_sources
from tuning.choosing import continuation_logprob, first_best, loglik_summary, loglik_texts
from tuning.errors import EndpointError
from tuning.manifest import TuningManifest
from tuning.retry import BudgetSpent, RetryPolicy
from tuning.settings import TuningSettings

# No system prompt by default: the tuned model was trained on the records as they are, so the
# question alone (with the template's own default system turn) is what it learned to answer.
DEFAULT_SYSTEM: str | None = None


class ChatClient:
    """A chat-completions client for one endpoint and model, safe to share between threads.

    A 429 or 503 that says Retry-After is waited out within `retry_budget_s`; 5xx, timeouts and
    lost connections are retried `max_retries` times with backoff (tuning.retry); the API key
    never leaves the request header.
    """

    def __init__(self, settings: TuningSettings, model: str | None = None) -> None:
        self.model = model or settings.model
        self.max_tokens = settings.max_tokens
        self.retry = RetryPolicy(settings.max_retries, settings.retry_budget_s)
        # retries are ours (tuning.retry), so the openai client makes one attempt per call
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            timeout=settings.timeout,
            max_retries=0,
        )
        self._loglik: bool | None = None
        self._probe = threading.Lock()

    @property
    def where(self) -> str:
        """The endpoint's base URL, for messages."""
        return str(self._client.base_url)

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        """(reply text, tokens used); raises EndpointError with a readable message for every
        failure."""

        def ask() -> Any:
            return self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self.max_tokens,
                temperature=0,
            )

        return _parse_reply(self._call(ask), self.where)

    def score(self, texts: list[str]) -> tuple[list[tuple[list[int], list[float | None]]], Usage]:
        """Each text's token offsets and log-probabilities from `/v1/completions` with
        `echo: true, logprobs: 1, max_tokens: 0` (lm-eval's local-completions request)."""

        def ask() -> Any:
            return self._client.completions.create(
                model=self.model, prompt=texts, echo=True, logprobs=1, max_tokens=0, temperature=0
            )

        reply = self._call(ask)
        return _parse_scores(reply, len(texts), self.where), _usage(reply)

    def supports_loglik(self) -> bool:
        """Whether the endpoint returns prompt log-probabilities (asked once, then remembered)."""
        with self._probe:
            if self._loglik is None:
                try:
                    [(offsets, logprobs)], _ = self.score(["Question: 1 + 1?\nAnswer: 2"])
                    self._loglik = len(offsets) > 1 and isinstance(logprobs[-1], float)
                except EndpointError:
                    self._loglik = False
            return self._loglik

    def _call(self, ask: Callable[[], Any]) -> Any:
        try:
            return self.retry.call(ask)
        except BudgetSpent as err:
            raise EndpointError(f"{self.where}: {err}") from err
        except openai.APIError as err:
            raise EndpointError(describe(err, self.where)) from err
        except (ValueError, json.JSONDecodeError) as err:
            raise EndpointError(f"{self.where}: unreadable reply ({err})") from err

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _parse_reply(reply: Any, where: str) -> tuple[str, Usage]:
    """Check the reply has the shape of a chat completion; a malformed body is an EndpointError."""
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise EndpointError(f"{where}: malformed reply, no choices in {_peek(reply)}")
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        raise EndpointError(f"{where}: malformed reply, no message content in {_peek(reply)}")
    return text.strip(), _usage(reply)


def _usage(reply: Any) -> Usage:
    """Tokens from the reply's usage; the seconds it waited for a busy model from the local
    server's `queue_s` (an endpoint that does not say counts as no wait)."""
    usage = getattr(reply, "usage", None)
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    queued = getattr(reply, "queue_s", None)
    waited = float(queued) if isinstance(queued, int | float) and queued > 0 else 0.0
    return Usage(prompt_tokens=int(prompt), completion_tokens=int(completion), queued_s=waited)


def _parse_scores(
    reply: Any, expected: int, where: str
) -> list[tuple[list[int], list[float | None]]]:
    """(text offsets, token log-probabilities) per prompt of a text completion with logprobs."""
    choices = sorted(getattr(reply, "choices", None) or [], key=lambda c: c.index)
    out = []
    for choice in choices:
        logprobs = getattr(choice, "logprobs", None)
        offsets = getattr(logprobs, "text_offset", None)
        values = getattr(logprobs, "token_logprobs", None)
        if not isinstance(offsets, list) or not isinstance(values, list):
            raise EndpointError(f"{where}: no prompt logprobs in the completion {_peek(reply)}")
        out.append(([int(o) for o in offsets], [None if v is None else float(v) for v in values]))
    if len(out) != expected:
        raise EndpointError(f"{where}: {len(out)} completions for {expected} prompts")
    return out


def _peek(reply: Any) -> str:
    text = reply if isinstance(reply, str) else repr(reply)
    return text[:120] + ("…" if len(text) > 120 else "")


def describe(err: openai.APIError, where: str) -> str:
    """A one-line message for an endpoint failure, naming what to check."""
    if isinstance(err, openai.APITimeoutError):
        return f"{where}: no reply within the timeout — raise TUNING_TIMEOUT or check the server"
    if isinstance(err, openai.APIConnectionError):
        return f"{where}: cannot connect — is the server running? ({err.__cause__ or err})"
    if isinstance(err, openai.RateLimitError):
        return f"{where}: rate limited (429) after retries — wait, or raise TUNING_MAX_RETRIES"
    if isinstance(err, openai.InternalServerError) and err.status_code == 503:
        return f"{where}: unavailable (503) after retries: {_server_message(err)}"
    if isinstance(err, openai.AuthenticationError):
        return f"{where}: API key refused (401) — check TUNING_API_KEY"
    if isinstance(err, openai.NotFoundError):
        return f"{where}: not found (404): {_server_message(err)} — check TUNING_MODEL"
    if isinstance(err, openai.APIStatusError):
        return f"{where}: server error {err.status_code}: {_server_message(err)}"
    return f"{where}: {type(err).__name__}: {err}"


def _server_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return err.message


class TunedAnswerer:
    """Answers from a tuned model behind an OpenAI-compatible endpoint; never raises."""

    remote = True  # every answer waits on an HTTP endpoint: a run may ask several at once

    def __init__(
        self,
        settings: TuningSettings,
        manifest: TuningManifest | None = None,
        name: str = "tuned",
        client: ChatClient | None = None,
        system: str | None = DEFAULT_SYSTEM,
    ) -> None:
        self.name = name
        self.manifest = manifest
        self.client = client or ChatClient(settings)
        self.system = system
        self.method = settings.choice_method

    @property
    def endpoint(self) -> str:
        """The URL its answers wait on: sides on one endpoint share its concurrency."""
        return self.client.where

    @classmethod
    def from_settings(cls, settings: TuningSettings, name: str = "tuned") -> TunedAnswerer:
        """The answerer for the configured endpoint, with the manifest at `manifest_path` if set."""
        manifest = TuningManifest.load(settings.manifest_path) if settings.manifest_path else None
        return cls(settings, manifest, name=name)

    @property
    def knowledge_cutoff(self) -> date | None:
        """The newest date the model was trained on, from its manifest."""
        return self.manifest.knowledge_cutoff if self.manifest else None

    def answer(self, question: Question) -> Answer:
        """Ask the model the question alone (it cannot answer as of a date: it knows what it
        learned before its cutoff); with choices, pick one (`Answer.choice`)."""
        if question.choices:
            return self._choose(question)
        return self._ask(self._turns(question.text), [])

    def choice_method(self) -> str:
        """'loglik' or 'letter': the setting, with 'auto' resolved against the endpoint."""
        if self.method != "auto":
            return self.method
        return "loglik" if self.client.supports_loglik() else "letter"

    def _turns(self, text: str) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, {"role": "user", "content": text}]

    def _choose(self, question: Question, sources: Sequence[SourceHit] = ()) -> Answer:
        """Multiple choice: log-likelihood of each choice, or a lettered prompt whose reply is
        parsed strictly (an unparseable reply is `choice=None`, its text shown as it came); with
        sources, the passages come first, as for an open question."""
        started = time.perf_counter()
        choices = list(question.choices)
        method = self.choice_method()
        try:
            if method == "loglik":
                context, texts = loglik_texts(with_sources(question.text, sources), choices)
                scored, usage = self.client.score(texts)
                sums = [
                    continuation_logprob(offsets, values, len(context), len(text))
                    for (offsets, values), text in zip(scored, texts, strict=True)
                ]
                pick: int | None = first_best(sums)
                text = loglik_summary(first_best(sums), sums, choices)
            else:
                asked = lettered_prompt(question.text, choices)
                messages = passages_messages(asked, sources) if sources else self._turns(asked)
                text, usage = self.client.complete(messages)
                pick = parse_letter(text, len(choices))
        except Exception as err:  # an answerer must never take the comparison down
            error = str(err) if isinstance(err, EndpointError) else err
            return Answer.failed(
                self.name, error, latency_s=_since(started), knowledge_cutoff=self.knowledge_cutoff
            )
        return Answer(
            answerer=self.name,
            text=text,
            choice=pick,
            choice_method=method,
            usage=usage,
            sources=list(sources),
            latency_s=_since(started),
            knowledge_cutoff=self.knowledge_cutoff,
        )

    def answer_with_context(self, question: Question, sources: Sequence[SourceHit]) -> Answer:
        """Ask with retrieved sources, through the prompt generative RAG uses too; a
        multiple-choice question picks a choice with the sources in front of it."""
        if question.choices:
            return self._choose(question, sources)
        return self._ask(passages_messages(question.text, sources), list(sources))

    def _ask(self, messages: list[dict[str, str]], sources: list[SourceHit]) -> Answer:
        started = time.perf_counter()
        try:
            text, usage = self.client.complete(messages)
        except Exception as err:  # an answerer must never take the comparison down
            error = str(err) if isinstance(err, EndpointError) else err
            return Answer.failed(
                self.name,
                error,
                latency_s=_since(started),
                knowledge_cutoff=self.knowledge_cutoff,
                sources=sources,
            )
        return Answer(
            answerer=self.name,
            text=text,
            sources=sources,
            usage=usage,
            latency_s=_since(started),
            knowledge_cutoff=self.knowledge_cutoff,
        )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
