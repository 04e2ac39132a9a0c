"""The third side: the tuned model answering with retrieved sources in its prompt.

Composed here so that `rag/` and `tuning/` never import each other: the RAG side supplies the
sources, the tuned side writes the answer, and the Answer carries both sides' costs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from compare.answer import Answer, SourceHit


class SourceFinder(Protocol):
    """The retrieval half: sources for a question (ranked, best first), and the query's token count."""

    def find_sources(self, question: str) -> tuple[list[SourceHit], int]:
        """Ranked sources and the number of tokens embedded for the query."""
        ...


class ContextAnswerer(Protocol):
    """The generation half: an answer written from (record id, text) passages."""

    def answer_with_context(self, question: str, passages: Sequence[tuple[str, str]]) -> Answer:
        """Answer using the passages; never raises."""
        ...


class TunedRagAnswerer:
    """Tuned model + retrieved sources (the combination the research says helps small models)."""

    def __init__(
        self,
        finder: SourceFinder,
        writer: ContextAnswerer,
        *,
        name: str = "tuned_rag",
        passages: int = 3,
    ) -> None:
        self.name = name
        self.finder = finder
        self.writer = writer
        self.passages = passages

    def answer(self, question: str) -> Answer:
        """Retrieve, then let the tuned model answer from the sources; failures become Answer.error."""
        start = time.perf_counter()
        try:
            sources, query_tokens = self.finder.find_sources(question)
        except Exception as err:  # the retrieval half failed: say so, do not raise
            return Answer(
                answerer=self.name,
                error=f"retrieval failed: {err}",
                latency_s=time.perf_counter() - start,
            )
        fresh = [s for s in sources if not s.stale][: self.passages]
        answer = self.writer.answer_with_context(question, [(s.record_id, s.text) for s in fresh])
        return answer.model_copy(
            update={
                "answerer": self.name,
                "sources": sources,
                "embedding_tokens": query_tokens,
                "latency_s": time.perf_counter() - start,
            }
        )
