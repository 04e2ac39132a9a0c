"""A re-tune plan from the probe: the records newer than the model's effective cutoff, split by
what the model already gives, with what the research says about each group, and the training file
for the chosen groups in any export format.

A fact the probe asked is placed by the model's own answer; one it did not ask is placed by its
history (first seen after the cutoff: unknown; a newer answer since: the model gives an older one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from compare.knowledge_probe import ProbeResult
from compare.versions_given import answer_key
from corpus.export import ExportResult, write_export
from corpus.facts import FactHistory, facts_by_record
from corpus.record import Record

Group = Literal["right", "older", "unknown"]
GROUPS: tuple[Group, ...] = ("right", "older", "unknown")
DEFAULT_GROUPS: tuple[Group, ...] = ("older", "unknown")
TITLES: dict[Group, str] = {
    "right": "already gives the current version",
    "older": "gives an older version",
    "unknown": "does not know the fact at all",
}
RESEARCH: dict[Group, str] = {
    "right": "nothing to teach; a few of them in the set let a forgetting check see that they "
    "survive the re-tune",
    "older": "the new answer has to displace one the model holds: a fact is learned from many "
    "phrasings, not one (Ovadia et al. 2023) — add paraphrases",
    "unknown": "unknown facts are learned slowly, and forcing them in raises hallucination on the "
    "facts the model knew (Gekhman et al. 2024): train them with paraphrases and early stopping, "
    "or leave them to retrieval",
}
PLAN_COMMAND = "python -m compare probe --plan-out FILE"


class PlanGroup(BaseModel):
    """The records of one group, and how many of their facts the probe asked."""

    group: Group
    title: str
    research: str
    record_ids: list[str] = Field(default_factory=list)
    facts: int = 0
    asked: int = 0  # facts placed by the model's answer; the rest by their history


class RetunePlan(BaseModel):
    """The records newer than the cutoff, grouped by what the model gives."""

    side: str
    cutoff: date | None  # None: before the corpus, every record is newer
    basis: str  # where the cutoff comes from
    newer_records: int
    groups: list[PlanGroup]

    def group(self, name: Group) -> PlanGroup:
        """One group of the plan."""
        return next(g for g in self.groups if g.group == name)

    def lines(self) -> list[str]:
        """The plan in words, one line per group."""
        since = f"after {self.cutoff}" if self.cutoff else "in the corpus"
        head = f"{self.newer_records} records dated {since} ({self.basis}):"
        return [head] + [
            f"  {len(g.record_ids)} records ({g.facts} facts, {g.asked} asked) {g.title}: "
            f"{g.research}"
            for g in self.groups
        ]


def retune_plan(
    records: Sequence[Record],
    histories: Sequence[FactHistory],
    probe: ProbeResult | None,
    side: str,
    cutoff: date | None,
    basis: str,
) -> RetunePlan:
    """Group the current records dated after `cutoff` by what `side` gives for their fact."""
    newer = [r for r in records if r.is_qa and (cutoff is None or (r.as_of and r.as_of > cutoff))]
    by_record = facts_by_record(histories)
    given = _given(probe, side)
    groups = {g: PlanGroup(group=g, title=TITLES[g], research=RESEARCH[g]) for g in GROUPS}
    seen: dict[Group, set[str]] = {g: set() for g in GROUPS}
    asked: dict[Group, set[str]] = {g: set() for g in GROUPS}
    for record in newer:
        history = by_record.get(record.id)
        fact = history.fact_id if history else record.id
        if fact in given:
            group = _by_answer(record, given[fact])
        else:
            group = _by_history(record, history, cutoff)
        groups[group].record_ids.append(record.id)
        seen[group].add(fact)
        if fact in given:
            asked[group].add(fact)
    for g in GROUPS:
        groups[g].facts, groups[g].asked = len(seen[g]), len(asked[g])
    return RetunePlan(
        side=side,
        cutoff=cutoff,
        basis=basis,
        newer_records=len(newer),
        groups=[groups[g] for g in GROUPS],
    )


def _given(probe: ProbeResult | None, side: str) -> dict[str, frozenset[str] | None]:
    """Per fact the probe asked: the answer key of the version the side gave (None: none)."""
    found = probe.side(side) if probe else None
    if probe is None or found is None:
        return {}
    out: dict[str, frozenset[str] | None] = {}
    for history, reading in zip(probe.facts, found.readings, strict=True):
        if reading.usable:
            version = history.versions[reading.given] if reading.given is not None else None
            out[history.fact_id] = answer_key(version.answer) if version else None
    return out


def _by_answer(record: Record, given: frozenset[str] | None) -> Group:
    """Where a record of an asked fact goes: by the version the model gave (None: none)."""
    if given is None:
        return "unknown"
    return "right" if given == answer_key(record.answer or "") else "older"


def _by_history(record: Record, history: FactHistory | None, cutoff: date | None) -> Group:
    """Where a record of a fact not asked goes: by the version its history held at the cutoff."""
    held = history.version_on(cutoff) if history and cutoff else None
    if held is None:
        return "unknown"
    return "right" if answer_key(held.answer) == answer_key(record.answer or "") else "older"


def plan_records(
    plan: RetunePlan,
    records: Iterable[Record],
    groups: Sequence[Group] = DEFAULT_GROUPS,
    paraphrases: int = 0,
) -> list[Record]:
    """The records of the chosen groups, each followed by `paraphrases` rephrasings of its
    question (`tuning.paraphrase`: template frames around the question's own words)."""
    from tuning.paraphrase import paraphrases as rephrase

    wanted = {rid for g in plan.groups if g.group in groups for rid in g.record_ids}
    out: list[Record] = []
    for index, record in enumerate(r for r in records if r.id in wanted):
        out.append(record)
        for k, question in enumerate(rephrase(record.question or "", paraphrases, index), 1):
            out.append(_reworded(record, question, k))
    return out


def _reworded(record: Record, question: str, k: int) -> Record:
    """The record asked another way (its context and answer kept)."""
    from tuning.data import with_question

    update: dict[str, object] = {
        "id": f"{record.id}~p{k}",
        "question": question,
        "content_hash": f"{record.content_hash}~p{k}",
    }
    if record.messages:
        update["messages"] = tuple(with_question(list(record.messages), question))
    return record.model_copy(update=update)


def write_plan(
    plan: RetunePlan,
    records: Iterable[Record],
    target: str,
    out: Path,
    groups: Sequence[Group] = DEFAULT_GROUPS,
    paraphrases: int = 0,
) -> ExportResult:
    """The training file of the chosen groups in an export format (`corpus.export`)."""
    return write_export(plan_records(plan, records, groups, paraphrases), target, out)


def parse_groups(text: str) -> list[Group]:
    """'older,unknown' -> the groups, checked.

    >>> parse_groups("older, unknown")
    ['older', 'unknown']
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in GROUPS]
    if bad or not names:
        raise ValueError(f"unknown plan group(s) {bad or text!r}; choose from {', '.join(GROUPS)}")
    return [g for g in GROUPS if g in names]


def group_counts(plan: RetunePlan) -> Mapping[str, int]:
    """Records per group, for a table."""
    return {g.group: len(g.record_ids) for g in plan.groups}
