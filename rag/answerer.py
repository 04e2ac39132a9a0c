"""The extractive RAG side as an answerer (no LLM), and the sources any retrieving side reads.

Answers come from the best current hit: a question-answer record's answer, or for a
document chunk the sentence that answers (`rag.reader`), the chunk staying the source. A
multiple-choice question gets the choice that evidence supports (`Answer.choice_method`
"passage"), whenever anything was retrieved. A model writing from the passages is composed in
`compare.with_passages` from `find_sources` and a model behind an endpoint.
"""

from __future__ import annotations

import time

import numpy as np

from answers import Answer, Question, SourceHit, Usage
from rag.hits import Hit
from rag.index import RagIndex
from rag.reader import best_sentence, pick_choice
from rag.settings import RagSettings

HOW = {  # how the reader picked a choice, as the answer text says it
    "named": "the choice the best passage names",
    "named, then closest": "of the choices the best passage names, the closest to it",
    "closest": "no choice is named; the one closest in meaning to the best passage",
}


class RagAnswerer:
    """Retrieve, then answer with the best source: the lookup that needs no model."""

    remote = False  # answered in this process

    def __init__(self, index: RagIndex, *, name: str = "rag", k: int | None = None) -> None:
        self.index = index
        self.name = name
        self.k = k or index.settings.k

    @classmethod
    def from_settings(cls, settings: RagSettings) -> RagAnswerer:
        """Open the index the settings point at and answer from it."""
        return cls(RagIndex.open(settings))

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
            else:
                vector = found.vector
                if vector is None:
                    vector = self.index.embedder.encode_query(question.text)
                answer.text, answer.choice = self._extract(question, fresh[0], vector)
                answer.choice_method = None if answer.choice is None else "passage"
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
