"""How fresh each side is: the newest fact it knows, what is new since its cutoff, and the corpus's
dated batches on one timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field

from compare.knowledge import Knowledge
from corpus import Record


class Freshness(BaseModel):
    """A side's view of the corpus: newest fact known, what it has not seen, and its age."""

    side: str
    newest_known: date | None
    built_at: datetime | None
    cutoff: date | None = None
    known: int
    unknown: int
    unknown_share: float
    # records dated after the side's cutoff: new facts and new versions of old facts
    new_since_cutoff: int = 0
    # records dated on/before the cutoff that the side still does not know (left out of training)
    unseen_before_cutoff: int = 0
    age_days: (
        int | None
    )  # days between the corpus's newest record and the newest one this side knows
    unknown_ids: list[str] = Field(default_factory=list)
    basis: str = "manifest"  # where the cutoff comes from: manifest, declared, estimated from N
    declared_cutoff: date | None = None
    manifest_cutoff: date | None = None
    estimated: str | None = None  # the knowledge probe's estimate, in words
    mismatch: str | None = None  # a declared or manifest cutoff outside the probe's interval


def freshness(records: Iterable[Record], knowledge: Knowledge) -> Freshness:
    """Count known, new-since-cutoff and unseen-before-cutoff current records for one side."""
    records = list(records)
    known = [r for r in records if knowledge.knows(r)]
    unknown = [r for r in records if not knowledge.knows(r)]
    after = [r for r in unknown if knowledge.is_after_cutoff(r)]
    known_dates = [r.as_of for r in known if r.as_of]
    all_dates = [r.as_of for r in records if r.as_of]
    newest_known = max(known_dates) if known_dates else knowledge.cutoff
    newest = max(all_dates) if all_dates else None
    age = (newest - newest_known).days if newest and newest_known else None
    return Freshness(
        side=knowledge.side,
        newest_known=newest_known,
        built_at=knowledge.built_at,
        cutoff=knowledge.cutoff,
        known=len(known),
        unknown=len(unknown),
        unknown_share=len(unknown) / len(records) if records else 0.0,
        new_since_cutoff=len(after) if knowledge.cutoff is not None else len(unknown),
        unseen_before_cutoff=len(unknown) - len(after) if knowledge.cutoff is not None else 0,
        age_days=max(age, 0) if age is not None else None,
        unknown_ids=sorted(r.id for r in unknown),
        basis=knowledge.basis,
        declared_cutoff=knowledge.declared_cutoff,
        manifest_cutoff=knowledge.manifest_cutoff,
        estimated=knowledge.estimate.describe() if knowledge.estimate else None,
        mismatch=knowledge.mismatch(),
    )


class Batch(BaseModel):
    """One dated batch of the corpus, for the timeline."""

    name: str
    day: date | None
    records: int


def batch_timeline(records: Sequence[Record]) -> list[Batch]:
    """Records per corpus batch, oldest first; a batch is placed at its name's date
    (`2026-03-01`), else at its oldest record."""
    seen: dict[str, list[Record]] = {}
    for r in records:
        seen.setdefault(r.batch or "-", []).append(r)
    rows = [Batch(name=b, day=_batch_date(b, rs), records=len(rs)) for b, rs in seen.items()]
    return sorted(rows, key=lambda row: (row.day or date.min, row.name))


def _batch_date(batch: str, records: Sequence[Record]) -> date | None:
    try:
        return date.fromisoformat(batch[:10])
    except ValueError:
        return min((r.as_of for r in records if r.as_of), default=None)
