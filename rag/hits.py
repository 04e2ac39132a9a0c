"""What retrieval returns: one hit per record, and the hits of one query with their cost."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from compare.answer import SourceHit

OWN_KEYS = ("record_id", "format", "batch", "as_of", "source", "content_hash", "answer", "chunk")


class Hit(BaseModel):
    """One retrieved record: its best node's cosine similarity to the query, and what it says."""

    record_id: str
    score: float
    text: str
    answer: str = ""
    as_of: date | None = None
    metadata: dict[str, str | int] = Field(default_factory=dict)
    stale: bool = False  # a newer record answers the same question
    superseded_by: str | None = None
    node_id: str = ""

    @property
    def full_text(self) -> str:
        """What the record says: the embedded text, with the answer when that text lacks it."""
        if not self.answer or self.answer in self.text:
            return self.text
        return f"{self.text}\n{self.answer}"

    def source(self) -> SourceHit:
        """The hit as the shared `SourceHit` an `Answer` carries."""
        return SourceHit(
            record_id=self.record_id,
            score=self.score,
            text=self.full_text,
            as_of=self.as_of,
            stale=self.stale,
        )


class Retrieval(BaseModel):
    """Hits for one query, with what embedding the query cost."""

    hits: list[Hit]
    query_tokens: int
    seconds: float


def make_hit(node: str, score: float, text: str, meta: dict[str, Any]) -> Hit:
    """A hit from a stored node: its id, cosine similarity, text and metadata."""
    as_of = str(meta.get("as_of") or "")
    return Hit(
        record_id=str(meta.get("record_id", node.rsplit("#", 1)[0])),
        score=score,
        text=text,
        answer=str(meta.get("answer", "")),
        as_of=date.fromisoformat(as_of) if as_of else None,
        metadata={key: meta[key] for key in OWN_KEYS if key in meta},
        node_id=node,
    )
