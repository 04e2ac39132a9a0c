"""Make an eval set from a corpus: a sample stratified by batch, language and kind of fact, each
question reworded so the eval does not ask the training text back.

Kinds come from the fact histories: *stable* facts never changed, *changed* facts hold a newer
answer than before, *new* facts first appear after the tuned model's cutoff (or, with no cutoff,
after the oldest batch). A changed fact gives two items: the current answer asked today, and the
older answer asked as of the day it held. Classification records become label items.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from answers.metrics import contains_reference
from compare.evalset import EvalItem, Reworded
from compare.rephrase import is_russian, overlap, problem, reword_offline
from corpus import Format, Record
from corpus.facts import FactHistory, FactVersion, fact_histories

Reword = Callable[[str], str]  # a question -> its rewording (may raise: the offline way is used)
LABEL_SHARE = 0.1  # of the items, at most this share are classification items


class MadeEval(BaseModel):
    """A generated eval set and what it holds."""

    items: list[EvalItem]
    method: str  # how questions were reworded
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)  # by kind / lang / batch
    mean_overlap: float = 0.0  # token F1 of reworded vs record question (1.0 = copies)
    refused: int = 0  # rewordings refused (a copy, or the answer given away) and redone offline
    skipped: int = 0  # facts whose question states its own answer

    def summary(self) -> str:
        """One line per count, for a terminal."""
        lines = [f"{len(self.items)} items; questions reworded {self.method}"]
        for name, counts in self.counts.items():
            lines.append(f"  by {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        lines.append(
            f"  mean overlap with the record's question {self.mean_overlap:.3f} (token F1; "
            f"1.0 = a copy); {self.refused} rewordings refused and redone offline; "
            f"{self.skipped} facts skipped (their question states the answer)"
        )
        return "\n".join(lines)


def make_eval(
    records: Sequence[Record],
    *,
    size: int = 60,
    seed: int = 0,
    cutoff: date | None = None,
    reword: Reword | None = None,
    histories: Sequence[FactHistory] | None = None,
) -> MadeEval:
    """An eval of about `size` items over every loaded record (all dated lines, not only the
    newest); facts as `histories` groups them (default: by id and wording, `corpus.facts`)."""
    rng = random.Random(seed)
    by_id = {r.id: r for r in records}
    histories = list(histories) if histories is not None else fact_histories(records)
    baseline = cutoff or min((r.as_of for r in records if r.as_of), default=None)
    candidates = [(h, _kind(h, baseline)) for h in histories]
    labels = [r for r in records if r.format is Format.CLASSIFICATION and r.label]
    label_n = min(len(labels), round(size * LABEL_SHARE)) if labels else 0
    chosen = stratified(candidates, by_id, size - label_n, rng)
    state = _Rewording(reword)
    items: list[EvalItem] = []
    for history, kind in chosen:
        items.extend(state.items_for(history, kind, by_id, len(items)))
    items.extend(_label_items(labels, label_n, rng, len(items)))
    return MadeEval(
        items=items,
        method="through the endpoint" if reword else "offline (rules: frame + synonyms)",
        counts={
            "kind": dict(Counter(i.kind or "-" for i in items).most_common()),
            "lang": dict(Counter(i.lang or "-" for i in items).most_common()),
            "batch": dict(sorted(Counter(_batch(i, by_id) for i in items).items())),
        },
        mean_overlap=sum(state.overlaps) / len(state.overlaps) if state.overlaps else 0.0,
        refused=state.refused,
        skipped=state.skipped,
    )


def write_eval(made: MadeEval, path: Path) -> None:
    """The items as eval JSONL, one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(i.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
        for i in made.items
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _kind(history: FactHistory, baseline: date | None) -> str:
    """stable / changed / new, against the cutoff (or the oldest batch)."""
    first = history.versions[0].first_seen
    if baseline is not None and first is not None and first > baseline:
        return "new"
    return "changed" if history.changed else "stable"


def stratified(
    candidates: list[tuple[FactHistory, str]],
    by_id: dict[str, Record],
    size: int,
    rng: random.Random,
    asks: Callable[[str], int] = lambda kind: 2 if kind == "changed" else 1,
) -> list[tuple[FactHistory, str]]:
    """Round-robin over (batch, language, kind) strata in a seeded order: every stratum is
    represented before any gets a second item; each pick spends `asks(kind)` of `size` (an
    eval asks a changed fact twice)."""
    strata: dict[tuple[str, str, str], list[tuple[FactHistory, str]]] = defaultdict(list)
    for history, kind in candidates:
        record = by_id[history.current.record_ids[-1]]
        strata[(record.batch or "-", _lang(record.question or ""), kind)].append((history, kind))
    pools = [strata[key] for key in sorted(strata)]
    for pool in pools:
        rng.shuffle(pool)
    rng.shuffle(pools)
    chosen: list[tuple[FactHistory, str]] = []
    budget = size
    while budget > 0 and any(pools):
        for pool in pools:
            if pool and budget > 0:
                history, kind = pool.pop()
                chosen.append((history, kind))
                budget -= asks(kind)
    return chosen


class _Rewording:
    """Rewords questions, checks each, and keeps the figures the summary reports."""

    def __init__(self, reword: Reword | None) -> None:
        self.reword = reword
        self.overlaps: list[float] = []
        self.refused = self.skipped = 0

    def items_for(
        self, history: FactHistory, kind: str, by_id: dict[str, Record], start: int
    ) -> list[EvalItem]:
        versions: list[tuple[FactVersion, date | None]] = [(history.current, None)]
        older = _held_before(history)
        if kind == "changed" and older is not None:
            versions.append((older, older.first_seen))  # asked as of the day it held
        items: list[EvalItem] = []
        for version, as_of in versions:
            record = by_id[version.record_ids[-1]]
            asked, kept = _asked_part(record)
            made = self.question(asked, version.answer)
            if made is None:
                self.skipped += 1
                continue
            question, how = made
            if kept:
                question = (
                    f"{kept}\n\n{question}" if asked == record.context else f"{question}\n\n{kept}"
                )
            items.append(
                EvalItem(
                    id=f"g{start + len(items) + 1:04d}",
                    question=question,
                    reference=version.answer,
                    record_id=record.id,
                    as_of=as_of,
                    kind=kind,
                    lang=_lang(asked),
                    reworded=how,
                )
            )
        return items

    def question(self, original: str, answer: str) -> tuple[str, Reworded] | None:
        """A checked rewording and how it was made, or None when the record's own question
        states the answer."""
        if contains_reference(original, answer):
            return None  # the record's own question states its answer: no fair question
        reworded = None
        if self.reword is not None:
            try:
                reworded = self.reword(original)
            except Exception:  # the endpoint failed: this one is reworded offline
                reworded = None
            if reworded is not None and problem(original, reworded, answer) is not None:
                self.refused, reworded = self.refused + 1, None
        how: Reworded = "endpoint" if reworded is not None else "offline"
        if reworded is None:
            reworded = reword_offline(original)
            if problem(original, reworded, answer) is not None:
                reworded = f"Regarding this: {reworded}"  # the frame alone, never the answer
        self.overlaps.append(overlap(original, reworded))
        return reworded, how


def _held_before(history: FactHistory) -> FactVersion | None:
    """The version the current one replaced on a later date (a variant stated on the current
    version's own date is not an older answer)."""
    current = history.current
    for version in reversed(history.versions[:-1]):
        if version.first_seen != current.first_seen:
            return version
    return None


def _label_items(labels: list[Record], n: int, rng: random.Random, start: int) -> list[EvalItem]:
    """Classification records as label items, the label set taken from their own file."""
    by_file: dict[str, set[str]] = defaultdict(set)
    for r in labels:
        by_file[r.source.file].add(r.label or "")
    picked = rng.sample(labels, n) if n else []
    return [
        EvalItem(
            id=f"g{start + i + 1:04d}",
            question=r.text or "",
            reference=r.label or "",
            record_id=r.id,
            kind="classification",
            lang=_lang(r.text or ""),
            labels=sorted(by_file[r.source.file]),
        )
        for i, r in enumerate(picked)
    ]


def _asked_part(record: Record) -> tuple[str, str]:
    """(the part that asks, the part kept as it is): an instruction record often holds a generic
    instruction and puts the user's question in its input; the part ending in "?" is the question.

    >>> from corpus.record import SourceRef
    >>> r = Record(id="a", format=Format.INSTRUCTION, question="Answer in one sentence.",
    ...     context="How big is the Team plan?", answer="1 TB", content_hash="h",
    ...     source=SourceRef(file="f", line=1))
    >>> _asked_part(r)
    ('How big is the Team plan?', 'Answer in one sentence.')
    """
    question, context = (record.question or "").strip(), (record.context or "").strip()
    if context and context.endswith("?") and not question.endswith("?"):
        return context, question
    return question, context


def _lang(text: str) -> str:
    return "ru" if is_russian(text) else "en"


def _batch(item: EvalItem, by_id: dict[str, Record]) -> str:
    record = by_id.get(item.record_id or "")
    return (record.batch or "-") if record else "-"
