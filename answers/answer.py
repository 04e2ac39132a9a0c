"""What every side is asked and what it returns: `Question`, `Answer`, `SourceHit`, `Usage`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from answers.redact import redact

# (done, total, what is being done): every long job reports progress through this one shape
Progress = Callable[[int, int, str], None]


class Usage(BaseModel):
    """Tokens one answer cost: sent to a model, written by it, and embedded for retrieval.

    Example: Usage(prompt_tokens=400, completion_tokens=30) + Usage(embedding_tokens=9)
        -> Usage(prompt_tokens=400, completion_tokens=30, embedding_tokens=9)
    """

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    # seconds the request waited for a busy model before it ran, as the server reported them
    # (part of the answer's latency, not of the model's work)
    queued_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            embedding_tokens=self.embedding_tokens + other.embedding_tokens,
            queued_s=self.queued_s + other.queued_s,
        )


class Question(BaseModel):
    """One question as every side is asked it: the text, the day it is asked as of (None: today),
    and, for a multiple-choice item, the choices."""

    model_config = ConfigDict(frozen=True)

    text: str
    as_of: date | None = None
    choices: tuple[str, ...] = ()

    def key(self) -> str:
        """What identifies the question in an answer cache: text, date and choices."""
        if self.as_of is None and not self.choices:
            return self.text  # the form earlier caches used, so their answers still hit
        return "\x1f".join([self.text, str(self.as_of or ""), *self.choices])


class SourceHit(BaseModel):
    """A corpus record an answer rests on; for a fact that changed, which version of it this is
    and the dates that version held."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    score: float
    text: str = ""
    as_of: date | None = None
    stale: bool = False  # not the current version of its fact (today, or on the date asked)
    fact_id: str | None = None  # the fact this record states a version of
    held_from: date | None = None  # first stated
    held_until: date | None = None  # replaced then; None: it still holds (held on the date asked)
    superseded_by: str | None = None  # the record id of the version that replaced it
    last_confirmed: date | None = None  # the newest batch that stated this version again


class Answer(BaseModel):
    """One side's answer to one question; a failure is an Answer with `error` set."""

    answerer: str
    text: str = ""
    sources: list[SourceHit] = Field(default_factory=list)
    latency_s: float = 0.0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    knowledge_cutoff: date | None = None
    abstained: bool = False
    choice: int | None = None  # the option picked, for a multiple-choice question
    # how it was picked: "loglik" (likelihood of each choice), "letter" (a lettered prompt, parsed
    # strictly), "passage" (the choice best supported by the retrieved passage)
    choice_method: str | None = None
    error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _loose_token_counts(cls, data: Any) -> Any:
        """Answers cached before `Usage` kept their token counts as top-level fields."""
        if isinstance(data, dict) and "usage" not in data:
            keys = ("prompt_tokens", "completion_tokens", "embedding_tokens")
            if any(k in data for k in keys):
                usage = {k: data[k] for k in keys if k in data}
                data = {k: v for k, v in data.items() if k not in keys} | {"usage": usage}
        return data

    @field_validator("error")
    @classmethod
    def _no_secrets(cls, error: str | None) -> str | None:
        """An error text is stored, reported and shown: it never carries a key."""
        return None if error is None else redact(error)

    @property
    def answering_s(self) -> float:
        """Seconds the answer took, less the time it waited for a busy model.

        >>> Answer(answerer="tuned", latency_s=9.0, usage=Usage(queued_s=7.5)).answering_s
        1.5
        """
        return max(self.latency_s - self.usage.queued_s, 0.0)

    @property
    def ok(self) -> bool:
        """True when the side answered without error."""
        return self.error is None

    @classmethod
    def failed(
        cls, answerer: str, error: BaseException | str, *, latency_s: float = 0.0, **fields: Any
    ) -> Answer:
        """The one way a failure becomes an answer: `Type: message` for an exception, the text
        itself for a message already written for a person."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(answerer=answerer, error=text, latency_s=latency_s, **fields)


@runtime_checkable
class Answerer(Protocol):
    """Anything that answers a question: the RAG side, the tuned side, or both combined."""

    name: str

    def answer(self, question: Question) -> Answer:
        """Answer one question; never raise for an answerer failure, return `Answer.failed`."""
        ...


@runtime_checkable
class ChatModel(Protocol):
    """Anything that completes a chat (tuning's `ChatClient` is one): the reply and its usage."""

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        """Complete the conversation; raise on failure."""
        ...
