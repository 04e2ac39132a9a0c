"""The tuned side as an answerer: any OpenAI-compatible chat endpoint (the only `openai` import).

An OpenAI fine-tune, Vertex, vLLM, Ollama, TGI or `python -m tuning.serve` are all reached the
same way, by base URL and model name. Every failure becomes an `Answer` with a readable error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

import openai

from answers import Answer, Question, SourceHit, Usage
from answers.prompts import passages_messages
from tuning.errors import EndpointError
from tuning.manifest import TuningManifest
from tuning.settings import TuningSettings

# No system prompt by default: the tuned model was trained on the records as they are, so the
# question alone (with the template's own default system turn) is what it learned to answer.
DEFAULT_SYSTEM: str | None = None


class ChatClient:
    """A thin chat-completions client: retries with backoff on 429/5xx/timeouts are the openai
    client's own; the API key never leaves the request header."""

    def __init__(self, settings: TuningSettings, model: str | None = None) -> None:
        self.model = model or settings.model
        self.max_tokens = settings.max_tokens
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        """(reply text, tokens used); raises EndpointError with a readable message for every
        failure."""
        try:
            reply = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self.max_tokens,
                temperature=0,
            )
        except openai.APIError as err:
            raise EndpointError(describe(err, str(self._client.base_url))) from err
        except (ValueError, json.JSONDecodeError) as err:
            raise EndpointError(f"{self._client.base_url}: unreadable reply ({err})") from err
        return _parse_reply(reply, str(self._client.base_url))

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
    usage = getattr(reply, "usage", None)
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    return text.strip(), Usage(prompt_tokens=int(prompt), completion_tokens=int(completion))


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
        learned before its cutoff)."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return self._ask([*head, {"role": "user", "content": question.text}], [])

    def answer_with_context(self, question: Question, sources: Sequence[SourceHit]) -> Answer:
        """Ask with retrieved sources, through the prompt generative RAG uses too."""
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
