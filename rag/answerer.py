"""The RAG side as an answerer: extractive (no LLM) or generative (any chat endpoint)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from compare.answer import Answer, SourceHit
from rag.index import Hit, RagIndex
from rag.settings import RagSettings

Mode = Literal["extractive", "generative"]

SYSTEM = (
    "Answer the question using only the numbered sources below. After each fact, cite the source "
    "it came from as [record-id]. If sources disagree, prefer the newest one. If the sources do "
    "not contain the answer, say that you do not know."
)


@runtime_checkable
class ChatModel(Protocol):
    """Anything that completes a chat: (reply, prompt tokens, completion tokens)."""

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, int, int]:
        """Complete the conversation; raise on failure."""
        ...


def build_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The generative prompt: the sources with their record ids and dates, then the question."""
    lines = []
    for hit in hits:
        dated = f" (as of {hit.as_of.isoformat()})" if hit.as_of else ""
        lines.append(f"[{hit.record_id}]{dated}\n{hit.full_text}")
    sources = "\n\n".join(lines) or "(no sources found)"
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sources:\n\n{sources}\n\nQuestion: {question}"},
    ]


class RagAnswerer:
    """Retrieve, then answer with the best source (extractive) or let a chat model write it."""

    def __init__(
        self,
        index: RagIndex,
        *,
        mode: Mode = "extractive",
        chat: ChatModel | None = None,
        name: str = "rag",
        k: int | None = None,
        passages: int = 3,
    ) -> None:
        if mode == "generative" and chat is None:
            raise ValueError("generative mode needs a chat model (e.g. tuning's ChatClient)")
        self.index = index
        self.mode = mode
        self.chat = chat
        self.name = name
        self.k = k or index.settings.k
        self.passages = passages

    @classmethod
    def from_settings(
        cls, settings: RagSettings, *, mode: Mode = "extractive", chat: ChatModel | None = None
    ) -> RagAnswerer:
        """Open the index the settings point at and answer from it."""
        return cls(RagIndex.open(settings), mode=mode, chat=chat)

    def find_sources(self, question: str) -> tuple[list[SourceHit], int]:
        """Ranked sources for a question and the tokens embedded for it (the retrieval half)."""
        found = self.index.search(question, self.k)
        return [h.source() for h in found.hits], found.query_tokens

    def answer(self, question: str) -> Answer:
        """Answer one question; any failure becomes `Answer.error`, never an exception."""
        start = time.perf_counter()
        answer = Answer(answerer=self.name, knowledge_cutoff=self.index.manifest.newest_as_of)
        try:
            found = self.index.search(question, self.k)
            answer.sources = [h.source() for h in found.hits]
            answer.embedding_tokens = found.query_tokens
            fresh = [h for h in found.hits if not h.stale]
            if not fresh or fresh[0].fact_score < self.index.settings.abstain_below:
                answer.abstained = True
            elif self.mode == "extractive":
                answer.text = fresh[0].answer
            else:
                assert self.chat is not None
                reply, prompt, completion = self.chat.complete(
                    build_messages(question, fresh[: self.passages])
                )
                answer.text, answer.prompt_tokens, answer.completion_tokens = (
                    reply,
                    prompt,
                    completion,
                )
        except Exception as err:  # an answerer failure must not take the comparison down
            answer.error = f"{type(err).__name__}: {err}"
        answer.latency_s = time.perf_counter() - start
        return answer
