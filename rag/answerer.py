"""The RAG side as an answerer: extractive (no LLM) or generative (any chat endpoint)."""

from __future__ import annotations

import time
from typing import Literal

from answers import Answer, ChatModel, Question, SourceHit, Usage
from answers.prompts import passages_messages
from rag.index import RagIndex
from rag.settings import RagSettings

Mode = Literal["extractive", "generative"]


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
        self.remote = mode == "generative"  # then every answer waits on an HTTP endpoint
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

    def find_sources(self, question: Question) -> tuple[list[SourceHit], Usage]:
        """Ranked sources for a question (as of its date) and the tokens embedded for it."""
        found = self.index.search(question.text, self.k, question.as_of)
        return [h.source() for h in found.hits], Usage(embedding_tokens=found.query_tokens)

    def answer(self, question: Question) -> Answer:
        """Answer one question; any failure becomes `Answer.failed`, never an exception."""
        start = time.perf_counter()
        cutoff = self.index.manifest.newest_as_of
        try:
            found = self.index.search(question.text, self.k, question.as_of)
            fresh = [h for h in found.hits if not h.stale]
            answer = Answer(
                answerer=self.name,
                sources=[h.source() for h in found.hits],
                usage=Usage(embedding_tokens=found.query_tokens),
                knowledge_cutoff=cutoff,
            )
            if not fresh or fresh[0].score < self.index.settings.abstain_below:
                answer.abstained = True
            elif self.mode == "extractive":
                answer.text = fresh[0].answer
            else:
                assert self.chat is not None
                passages = [h.source() for h in fresh[: self.passages]]
                reply, used = self.chat.complete(passages_messages(question.text, passages))
                answer.text, answer.usage = reply, answer.usage + used
        except Exception as err:  # an answerer failure must not take the comparison down
            return Answer.failed(
                self.name, err, latency_s=time.perf_counter() - start, knowledge_cutoff=cutoff
            )
        answer.latency_s = time.perf_counter() - start
        return answer
