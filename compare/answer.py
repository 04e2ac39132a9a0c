"""The answer every side returns, and the protocol they share.

A leaf module: it imports nothing from this project, so `rag/` and `tuning/` can return `Answer`
without depending on the rest of `compare/`.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class SourceHit(BaseModel):
    """A corpus record an answer rests on."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    score: float
    text: str = ""
    as_of: date | None = None
    stale: bool = False  # superseded by a newer record answering the same question


class Answer(BaseModel):
    """One side's answer to one question; a failure is an Answer with `error` set."""

    answerer: str
    text: str = ""
    sources: list[SourceHit] = Field(default_factory=list)
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    cost_usd: float = 0.0
    knowledge_cutoff: date | None = None
    abstained: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the side answered without error."""
        return self.error is None


@runtime_checkable
class Answerer(Protocol):
    """Anything that answers a question: the RAG side, the tuned side, or both combined."""

    name: str

    def answer(self, question: str) -> Answer:
        """Answer one question; never raise for an answerer failure, return Answer(error=...)."""
        ...
