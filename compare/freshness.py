"""What each side knows of the current corpus, and how stale it is.

A record is known to the RAG side when its content hash is in the index manifest; to the tuned side
when it is in the tuning manifest, or dated on/before a remote model's declared cutoff.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, Field

from corpus import Record


class Knowledge(BaseModel):
    """What one side was built from (taken from its manifest)."""

    side: str
    content_hashes: frozenset[str] | None = None  # None: training set unknown, use the cutoff
    cutoff: date | None = None
    built_at: datetime | None = None

    def knows(self, record: Record) -> bool:
        """True when this side has seen this exact record."""
        if self.content_hashes is not None:
            return record.content_hash in self.content_hashes
        return self.cutoff is not None and record.as_of is not None and record.as_of <= self.cutoff


class Freshness(BaseModel):
    """A side's view of the corpus: newest fact known, what it has not seen, and its age."""

    side: str
    newest_known: date | None
    built_at: datetime | None
    known: int
    unknown: int
    unknown_share: float
    age_days: (
        int | None
    )  # days between the corpus's newest record and the newest one this side knows
    unknown_ids: list[str] = Field(default_factory=list)


def freshness(records: Iterable[Record], knowledge: Knowledge) -> Freshness:
    """Count known and unknown current records for one side."""
    records = list(records)
    known = [r for r in records if knowledge.knows(r)]
    unknown = [r for r in records if not knowledge.knows(r)]
    known_dates = [r.as_of for r in known if r.as_of]
    all_dates = [r.as_of for r in records if r.as_of]
    newest_known = max(known_dates) if known_dates else knowledge.cutoff
    newest = max(all_dates) if all_dates else None
    age = (newest - newest_known).days if newest and newest_known else None
    return Freshness(
        side=knowledge.side,
        newest_known=newest_known,
        built_at=knowledge.built_at,
        known=len(known),
        unknown=len(unknown),
        unknown_share=len(unknown) / len(records) if records else 0.0,
        age_days=max(age, 0) if age is not None else None,
        unknown_ids=sorted(r.id for r in unknown),
    )
