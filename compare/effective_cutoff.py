"""A model's effective cutoff, read from which version of each fact it gives.

For every batch date of the corpus, the share of the probed facts a side answers with the version
current at that date — and a fact first seen after that date should be unknown then. A model
trained up to some batch gives that batch's versions, so its curve peaks there; the estimate is
the best-matching date (Cheng et al. 2024, *Dated Data*; LLMLagBench 2025), its 95% interval a
bootstrap over the facts. A model that knows no fact peaks before the corpus; one that gives every
current version peaks at the newest batch. When the facts cannot tell the dates apart the answer is
"cannot estimate", with the reason and what would fix it — never a made-up date.

>>> from corpus.facts import FactVersion
>>> def v(answer, day): return FactVersion(record_ids=[answer], answer=answer,
...     first_seen=day, last_confirmed=day)
>>> b = [BatchDate(name=str(y), day=date(y, 1, 1)) for y in (2020, 2021, 2022)]
>>> facts = [FactHistory(fact_id=str(i), question=f"q{i}", versions=[v(f"a{i}", date(2020, 1, 1)),
...     v(f"b{i}", date(2021, 1, 1)), v(f"c{i}", date(2022, 1, 1))]) for i in range(4)]
>>> estimate_cutoff("tuned", facts, [f.versions[1] for f in facts], b, min_per_batch=1).describe()
'2021-01-01 (95% interval 2021-01-01 … 2021-01-01), estimated from 4 facts'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from compare.versions_given import answer_key
from corpus.facts import FactHistory, FactVersion
from corpus.record import Record

Status = Literal["estimated", "before_corpus", "after_newest", "cannot_estimate"]
Method = Literal["answers", "likelihood"]
BEFORE = "before the corpus"
MIN_PER_BATCH = 3  # facts new or changed in a batch, below which its date cannot be told apart
RESAMPLES = 1000


class BatchDate(BaseModel):
    """One dated batch of facts: its name and the newest date its lines state."""

    name: str
    day: date


class CurvePoint(BaseModel):
    """One candidate date: the share of facts given with the version current then."""

    label: str  # a batch name, or "before the corpus"
    day: date | None  # None: before the corpus
    share: float
    facts: int  # facts the share is over


class CutoffEstimate(BaseModel):
    """Where a side's knowledge stops, with its interval; or why that cannot be told."""

    side: str
    method: Method = "answers"
    status: Status
    day: date | None = None  # the best-matching batch date (None: before the corpus / unknown)
    low: str | None = None  # the interval's ends, as candidate labels
    high: str | None = None
    low_index: int | None = None  # positions on the curve (0 = before the corpus for answers)
    high_index: int | None = None
    best_index: int | None = None
    facts: int = 0  # facts the estimate rests on
    curve: list[CurvePoint] = Field(default_factory=list)
    reason: str | None = None
    fix: str | None = None

    @property
    def usable(self) -> bool:
        """True when there is an estimate (a date, or before/after the corpus)."""
        return self.status != "cannot_estimate"

    def describe(self) -> str:
        """One line: the estimate, its interval and how many facts it rests on."""
        if self.status == "cannot_estimate":
            return f"cannot estimate: {self.reason} — {self.fix}"
        interval = f"95% interval {self.low} … {self.high}"
        if self.status == "before_corpus":
            what = f"{BEFORE} ({interval})"
        elif self.status == "after_newest":
            what = f"at or after the newest batch, {self.day} ({interval})"
        else:
            what = f"{self.day} ({interval})"
        return f"{what}, estimated from {self.facts} facts"

    def position(self, day: date) -> int:
        """Where a date falls on the curve: the last candidate on or before it."""
        found = 0
        for i, point in enumerate(self.curve):
            if point.day is None or point.day <= day:
                found = i
        return found

    def contradicts(self, day: date | None) -> bool:
        """True when a declared cutoff lies outside the estimate's interval."""
        if day is None or not self.usable or self.low_index is None or self.high_index is None:
            return False
        where = self.position(day)
        return where < self.low_index or where > self.high_index


def batch_dates(records: Sequence[Record]) -> list[BatchDate]:
    """The batches that hold facts (question and answer records), oldest first, each dated by
    its newest line so every version it states is current on that date."""
    days: dict[str, date] = {}
    for r in records:
        if r.is_qa and r.as_of is not None:
            name = r.batch or str(r.as_of)
            days[name] = max(days.get(name, r.as_of), r.as_of)
    return sorted((BatchDate(name=n, day=d) for n, d in days.items()), key=lambda b: b.day)


def _key(version: FactVersion | None) -> frozenset[str] | None:
    return None if version is None else answer_key(version.answer)


def match_matrix(
    facts: Sequence[FactHistory],
    given: Sequence[FactVersion | None],
    days: Sequence[date | None],
) -> np.ndarray:
    """1 where a fact's given version (None: unknown) is the one expected on a day (None:
    before the corpus, when every fact is unknown)."""
    rows = []
    for history, version in zip(facts, given, strict=True):
        said = _key(version)
        rows.append([said == _key(history.version_on(d) if d is not None else None) for d in days])
    return np.asarray(rows, dtype=np.float64).reshape(len(facts), len(days))


def estimate_cutoff(
    side: str,
    facts: Sequence[FactHistory],
    given: Sequence[FactVersion | None],
    batches: Sequence[BatchDate],
    *,
    min_per_batch: int = MIN_PER_BATCH,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> CutoffEstimate:
    """The effective cutoff from the version each answered fact gives (None: it states none)."""
    labels = [BEFORE, *(b.name for b in batches)]
    days: list[date | None] = [None, *(b.day for b in batches)]
    refused = _cannot_tell(side, facts, days, labels, min_per_batch)
    if refused is not None:
        return refused
    matches = match_matrix(facts, given, days)
    return _estimate(side, "answers", matches, np.ones_like(matches), days, labels, resamples, seed)


def estimate_by_likelihood(
    side: str,
    facts: Sequence[FactHistory],
    likeliest: Sequence[FactVersion],
    batches: Sequence[BatchDate],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> CutoffEstimate:
    """The cutoff from the likeliest version of each changed fact, over the dates each fact
    held a version (likelihood cannot say "unknown"); "cannot estimate" when the picks at the
    best date are no better than chance."""
    labels = [b.name for b in batches]
    days: list[date | None] = [b.day for b in batches]
    if not facts or len(batches) < 2:
        return _cannot(side, "likelihood", "no changed fact was scored", _FIX_CHANGED)
    held = np.asarray(
        [[h.version_on(d) is not None for d in days if d is not None] for h in facts], dtype=float
    )
    matches = match_matrix(facts, likeliest, days) * held
    found = _estimate(side, "likelihood", matches, held, days, labels, resamples, seed)
    best = found.best_index or 0
    chance = float(
        np.mean([1 / len({answer_key(v.answer) for v in h.versions}) for h in facts])
    )  # a model that knows nothing picks one of a fact's answers at random
    low = _boot_share(matches[:, best], held[:, best], resamples, seed)
    if low <= chance:
        return _cannot(
            side,
            "likelihood",
            f"the likeliest versions match the best date only {found.curve[best].share:.0%} of "
            f"the time, no better than picking at random ({chance:.0%})",
            "the model does not prefer any batch's versions; read the estimate from its answers",
        )
    return found


_FIX_CHANGED = (
    "add a later batch that restates some facts with new answers (the probe reads a cutoff "
    "from which version of a changed fact a model gives)"
)


def _cannot(side: str, method: Method, reason: str, fix: str) -> CutoffEstimate:
    return CutoffEstimate(
        side=side, method=method, status="cannot_estimate", reason=reason, fix=fix
    )


def _cannot_tell(
    side: str,
    facts: Sequence[FactHistory],
    days: Sequence[date | None],
    labels: Sequence[str],
    min_per_batch: int,
) -> CutoffEstimate | None:
    """Why these facts cannot place a cutoff (None when they can)."""
    if not facts:
        return _cannot(
            side, "answers", "no fact was answered", "check that the side answers at all"
        )
    if not any(h.changed for h in facts):
        return _cannot(
            side, "answers", f"none of the {len(facts)} facts asked changed", _FIX_CHANGED
        )
    if len(days) < 3:
        return _cannot(side, "answers", "the facts come from one batch", "add a later dated batch")
    expected = [[_key(h.version_on(d)) if d is not None else None for d in days] for h in facts]
    # a batch is told from the date before it only by facts new or changed in it
    told = [sum(row[i] != row[i - 1] for row in expected) for i in range(1, len(days))]
    few = [f"{labels[i + 1]} ({n})" for i, n in enumerate(told) if n < min_per_batch]
    if few:
        return _cannot(
            side,
            "answers",
            f"too few facts asked are new or changed in batch {', '.join(few)}; each batch needs "
            f"{min_per_batch}",
            "ask more facts (python -m compare probe --facts N), or add facts to those batches",
        )
    return None


def _estimate(
    side: str,
    method: Method,
    matches: np.ndarray,
    counted: np.ndarray,
    days: Sequence[date | None],
    labels: Sequence[str],
    resamples: int,
    seed: int,
) -> CutoffEstimate:
    """The best-matching candidate and its bootstrap interval over the facts."""
    totals = counted.sum(axis=0)
    shares = np.divide(matches.sum(axis=0), totals, out=np.zeros(len(days)), where=totals > 0)
    best = int(np.argmax(shares))  # a tie goes to the earliest date
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(matches), size=(resamples, len(matches)))
    hits, seen = matches[picks].sum(axis=1), counted[picks].sum(axis=1)
    boot = np.divide(hits, seen, out=np.zeros_like(hits), where=seen > 0).argmax(axis=1)
    low, high = (
        int(np.sort(boot)[int(0.025 * resamples)]),
        int(np.sort(boot)[-1 - int(0.025 * resamples)]),
    )
    last = len(days) - 1
    status: Status = "estimated"
    if days[best] is None:
        status = "before_corpus"
    elif best == last:
        status = "after_newest"
    return CutoffEstimate(
        side=side,
        method=method,
        status=status,
        day=days[best],
        low=_end(days[low]),
        high=_end(days[high]),
        low_index=low,
        high_index=high,
        best_index=best,
        facts=len(matches),
        curve=[
            CurvePoint(label=labels[i], day=days[i], share=float(shares[i]), facts=int(totals[i]))
            for i in range(len(days))
        ],
    )


def _end(day: date | None) -> str:
    return BEFORE if day is None else str(day)


def _boot_share(hits: np.ndarray, counted: np.ndarray, resamples: int, seed: int) -> float:
    """The lower 95% bound of a share, by bootstrap over the facts."""
    keep = counted > 0
    values = hits[keep]
    if values.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    return float(np.quantile(means, 0.025))
