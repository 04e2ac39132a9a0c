"""A model answering with retrieved passages in its prompt: base + RAG and tuned + RAG.

Composed here so that `rag/` and `tuning/` never import each other: the index supplies the
sources, a model behind an endpoint writes the answer, and the Answer carries both halves' usage.
Both retrieval sides that call a model are built this one way, so they differ only by the model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from answers import Answer, Question, SourceHit, Usage

PASSAGES = 3  # current passages a writer is given, best first


class SourceFinder(Protocol):
    """The retrieval half: ranked sources for a question, and what embedding the query cost."""

    def find_sources(self, question: Question) -> tuple[list[SourceHit], Usage]:
        """Ranked sources (best first) and the query's usage."""
        ...


class ContextAnswerer(Protocol):
    """The generation half: an answer written from retrieved sources."""

    def answer_with_context(self, question: Question, sources: Sequence[SourceHit]) -> Answer:
        """Answer using the sources; never raises."""
        ...


class WithPassages:
    """A writer model + retrieved sources (generative RAG; with the tuned model, the combination
    the research says helps small models)."""

    remote = True  # the writing half waits on an HTTP endpoint

    def __init__(
        self,
        finder: SourceFinder,
        writer: ContextAnswerer,
        *,
        name: str,
        passages: int = PASSAGES,
    ) -> None:
        self.name = name
        self.finder = finder
        self.writer = writer
        self.passages = passages

    @property
    def endpoint(self) -> str | None:
        """The writer's endpoint (None for a writer in this process)."""
        return getattr(self.writer, "endpoint", None)

    def answer(self, question: Question) -> Answer:
        """Retrieve, then let the writer answer from the sources; failures become answers."""
        start = time.perf_counter()
        try:
            sources, usage = self.finder.find_sources(question)
        except Exception as err:  # the retrieval half failed: say so, do not raise
            return Answer.failed(self.name, err, latency_s=time.perf_counter() - start)
        fresh = [s for s in sources if not s.stale][: self.passages]
        answer = self.writer.answer_with_context(question, fresh)
        return answer.model_copy(
            update={
                "answerer": self.name,
                "sources": sources,
                "usage": answer.usage + usage,
                "latency_s": time.perf_counter() - start,
            }
        )
