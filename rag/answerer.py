"""The RAG side as an answerer: extractive (no LLM) or generative (any chat endpoint).

Extractive answers come from the best current hit: a question-answer record's answer, or for a
document chunk the sentence that answers (`rag.reader`), the chunk staying the source. A
multiple-choice question gets the choice that evidence supports (`Answer.choice_method`
"passage"), whenever anything was retrieved.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from answers import Answer, ChatModel, Question, SourceHit, Usage
from answers.choices import lettered_prompt, parse_letter
from answers.prompts import passages_messages
from rag.hits import Hit
from rag.index import RagIndex
from rag.reader import best_sentence, pick_choice
from rag.settings import RagSettings

Mode = Literal["extractive", "generative"]
HOW = {  # how the reader picked a choice, as the answer text says it
    "named": "the choice the best passage names",
    "named, then closest": "of the choices the best passage names, the closest to it",
    "closest": "no choice is named; the one closest in meaning to the best passage",
}


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
            confident = fresh and fresh[0].fact_score >= self.index.tuned().abstain_below
            if not fresh or not (confident or question.choices):
                answer.abstained = True
            elif self.mode == "extractive":
                vector = found.vector
                if vector is None:
                    vector = self.index.embedder.encode_query(question.text)
                answer.text, answer.choice = self._extract(question, fresh[0], vector)
                answer.choice_method = None if answer.choice is None else "passage"
            else:
                assert self.chat is not None
                passages = [h.source() for h in fresh[: self.passages]]
                # a multiple-choice question gets the lettered prompt tuned + RAG gets, so the
                # two sides differ only by their model; the reply is parsed strictly
                asked = (
                    lettered_prompt(question.text, question.choices) if question.choices else None
                )
                reply, used = self.chat.complete(
                    passages_messages(asked or question.text, passages)
                )
                answer.text, answer.usage = reply, answer.usage + used
                if question.choices:
                    answer.choice = parse_letter(reply, len(question.choices))
                    answer.choice_method = "letter"
        except Exception as err:  # an answerer failure must not take the comparison down
            return Answer.failed(
                self.name, err, latency_s=time.perf_counter() - start, knowledge_cutoff=cutoff
            )
        answer.latency_s = time.perf_counter() - start
        return answer

    def _extract(self, question: Question, hit: Hit, vector: np.ndarray) -> tuple[str, int | None]:
        """The answer a hit gives: its answer, or a passage's best sentence; for a
        multiple-choice question, the choice that evidence supports, with how it was picked."""
        encode = self.index.embedder.encode
        evidence = best_sentence(vector, hit.text, encode)[0] if hit.is_passage else hit.answer
        if not question.choices:
            return evidence, None
        rows = encode([*question.choices, evidence])
        picked, how = pick_choice(question.choices, evidence, rows[:-1], rows[-1])
        said = HOW[how]
        return f"{question.choices[picked]} ({said}: {evidence})", picked
