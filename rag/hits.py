"""What retrieval returns: one hit per version of a fact, and the hits of one query with their cost."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from answers import SourceHit
from rag.layout import node_fields
from rag.nodes import int_date

OWN_KEYS = ("record_id", "format", "batch", "as_of", "source", "content_hash", "answer", "chunk")
OPEN = 99_991_231  # valid_until of a version that still holds


class Hit(BaseModel):
    """One retrieved version of a fact: its best node's cosine similarity to the query, what it
    says, and the interval it held."""

    record_id: str  # the record whose text is embedded (the version's first statement)
    score: float
    text: str
    answer: str = ""
    as_of: date | None = None  # the date of that record: when this version was first stated
    metadata: dict[str, str | int] = Field(default_factory=dict)
    stale: bool = False  # not the current version of its fact (today, or as of the date asked)
    superseded_by: str | None = None  # record id of the version that replaced it
    node_id: str = ""
    entry: str = ""  # the version's key in the index
    fact_id: str = ""
    record_ids: tuple[str, ...] = ()  # every record that stated this version
    version: int = 0
    versions: int = 1
    held_from: date | None = None
    held_until: date | None = None  # None: it still holds (or held on the date asked)
    last_confirmed: date | None = None
    fact_score: float = 0.0  # the best score of any version of its fact for this query
    rank: float = 0.0  # what orders the hits: the score, blended and adjusted (see rag.index)
    names: frozenset[str] = frozenset()  # what the record's question names (rag.facts.names)

    @property
    def full_text(self) -> str:
        """What the record says: the embedded text, with the answer when that text lacks it (a
        document chunk is its own text)."""
        if self.is_passage or not self.answer or self.answer in self.text:
            return self.text
        return f"{self.text}\n{self.answer}"

    @property
    def is_passage(self) -> bool:
        """True for a chunk of a document (a plain `text` record) rather than a QA record."""
        return self.metadata.get("format") == "text"

    def source(self) -> SourceHit:
        """The hit as the shared `SourceHit` an `Answer` carries."""
        return SourceHit(
            record_id=self.record_id,
            score=self.score,
            text=self.full_text,
            as_of=self.as_of,
            stale=self.stale,
            fact_id=self.fact_id or None,
            held_from=self.held_from,
            held_until=self.held_until,
            superseded_by=self.superseded_by,
            last_confirmed=self.last_confirmed,
        )


class Retrieval(BaseModel):
    """Hits for one query, with the query's vector and what embedding it cost."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hits: list[Hit]
    query_tokens: int
    seconds: float
    vector: np.ndarray | None = None


def make_hit(node: str, score: float, text: str, meta: dict[str, Any]) -> Hit:
    """A hit from a stored node: its id, cosine similarity, text and stored metadata."""
    meta = node_fields(meta)
    as_of = str(meta.get("as_of") or "")
    until = int(meta.get("valid_until", OPEN) or OPEN)
    confirmed = str(meta.get("last_confirmed") or "")
    entry = str(meta.get("entry") or node.rsplit("#", 1)[0])
    record_id = str(meta.get("record_id", entry))
    return Hit(
        record_id=record_id,
        score=score,
        text=text,
        answer=str(meta.get("answer", "")),
        as_of=date.fromisoformat(as_of) if as_of else None,
        metadata={key: meta[key] for key in OWN_KEYS if key in meta},
        superseded_by=str(meta.get("superseded_by") or "") or None,
        node_id=node,
        entry=entry,
        fact_id=str(meta.get("fact_id") or entry),
        record_ids=tuple(str(meta.get("record_ids") or record_id).split("\n")),
        version=int(meta.get("version", 0) or 0),
        versions=int(meta.get("versions", 1) or 1),
        held_from=int_date(int(meta.get("valid_from", 0) or 0)),
        held_until=None if until == OPEN else int_date(until),
        last_confirmed=date.fromisoformat(confirmed) if confirmed else None,
        rank=score,
        names=frozenset(n for n in str(meta.get("names") or "").split("\n") if n),
    )
