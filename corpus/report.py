"""What a team wants to know about a corpus before tuning on it: counts, tokens, facts, cost drivers.

The summary is built from a stream, so it works on corpora larger than memory: totals, minimum
and maximum are exact; median and p95 come from a fixed-size uniform sample once a corpus holds
more records than the sample (and the summary says so).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from corpus.chats import render_calls
from corpus.facts import FactBook, FactHistory, FactSummary
from corpus.limits import DEFAULT_PLATFORM, LIMITS, TokenLimit
from corpus.loader import Event, iter_load, no_gc_pauses
from corpus.names import printable
from corpus.outcome import FileReport, LoadReport, Notice, Reject
from corpus.progress import Progress
from corpus.record import Record, turn_pairs
from corpus.tokens import count_tokens, tokenizer

DEFAULT_EPOCHS = 3  # OpenAI's default for small data sets
SAMPLE = 10_000  # records whose token counts give the median and p95
SHOWN_OVER = 20  # ids listed of the records over the limit
BATCH = 512  # records counted per tokenizer call


class TokenStats(BaseModel):
    """Distribution of tokens per record."""

    tokenizer: str
    total: int = 0
    min: int = 0
    median: float = 0.0
    p95: float = 0.0
    max: int = 0
    sampled: int = 0  # records behind median and p95; < the record count when estimated


class CorpusSummary(BaseModel):
    """The corpus report: counts per format, batch and label, tokens, facts, training estimate."""

    records: int
    files: int
    rejected: int
    warnings: int
    skipped: int = 0
    per_format: dict[str, int] = Field(default_factory=dict)
    per_batch: dict[str, int] = Field(default_factory=dict)
    labels: dict[str, int] = Field(default_factory=dict)
    dropped: dict[str, int] = Field(default_factory=dict)
    duplicates: int = 0
    tokens: TokenStats
    token_limit: int
    limit: TokenLimit
    over_limit: list[str] = Field(default_factory=list)  # the first SHOWN_OVER ids
    over_limit_count: int = 0
    epochs: int
    training_tokens: int = 0
    facts: FactSummary = Field(default_factory=FactSummary)


def record_text(record: Record) -> str:
    """All the text a record trains on: turns joined, tool calls and offered tools included."""
    if record.messages:
        parts = [
            t.content + (render_calls(t.tool_calls) if t.tool_calls else "")
            for t in record.messages
        ]
    else:  # a single exchange: its turns as plain pairs (`Record.chat` would build messages)
        r = record
        pairs = turn_pairs(r.format, r.question, r.context, r.answer, r.system, r.text, r.label)
        parts = [content for _, content in pairs]
    if not parts:
        return record.text or ""
    return "\n".join(parts + ([record.tools] if record.tools else []))


class SummaryBuilder:
    """Fold a load's events into a `CorpusSummary`, in memory bounded by the sample size."""

    def __init__(
        self, limit: TokenLimit, epochs: int, seed: int = 0, *, keep_fact_text: bool = False
    ) -> None:
        self.limit, self.epochs = limit, epochs
        self.rng = random.Random(seed)
        self.records = self.files = self.rejected = self.warnings = self.duplicates = 0
        self.skipped = 0
        self.formats: Counter[str] = Counter()
        self.batches: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.total, self.high = 0, 0
        self.low: int | None = None
        self.sample: list[int] = []
        self.over: list[str] = []
        self.over_count = self.counted = 0
        self.pending: list[Record] = []
        self.facts = FactBook(keep_text=keep_fact_text)  # texts only for `histories`

    def add(self, event: Record | Reject | Notice | FileReport) -> None:
        """Take one event of `iter_load` (or of a finished `LoadReport`)."""
        if type(event) is Record:
            self.records += 1
            self.formats[event.format.value] += 1
            self.batches[event.batch or "-"] += 1
            if event.label is not None:
                self.labels[event.label] += 1
            self.facts.add(event)
            self.pending.append(event)
            if len(self.pending) >= BATCH:
                self._count()
        elif type(event) is Reject:
            self.duplicates += event.code == "duplicate"
        elif type(event) is Notice:
            self.warnings += 1
        elif type(event) is FileReport:
            self.files += 1
            self.rejected += event.rejected
            self.skipped += event.skipped
            self.dropped.update(event.dropped)

    def _count(self) -> None:
        counts = count_tokens([record_text(r) for r in self.pending])
        for record, n in zip(self.pending, counts, strict=True):
            self.total += n
            self.low = n if self.low is None else min(self.low, n)
            self.high = max(self.high, n)
            if n > self.limit.tokens:
                self.over_count += 1
                if len(self.over) < SHOWN_OVER:
                    self.over.append(record.id)
            self._keep(n)
        self.pending = []

    def _keep(self, n: int) -> None:
        """Reservoir sampling: every record has the same chance to be in the sample."""
        self.counted += 1
        if len(self.sample) < SAMPLE:
            self.sample.append(n)
            return
        slot = self.rng.randrange(self.counted)
        if slot < SAMPLE:
            self.sample[slot] = n

    def summary(self) -> CorpusSummary:
        """The summary of everything added."""
        self._count()
        arr = np.array(self.sample or [0])
        stats = TokenStats(
            tokenizer=tokenizer()[0],
            total=self.total,
            min=self.low or 0,
            median=float(np.median(arr)),
            p95=float(np.percentile(arr, 95)),
            max=self.high,
            sampled=len(self.sample),
        )
        return CorpusSummary(
            records=self.records,
            files=self.files,
            rejected=self.rejected,
            warnings=self.warnings,
            skipped=self.skipped,
            per_format=dict(self.formats.most_common()),
            per_batch=dict(sorted(self.batches.items())),
            labels=dict(self.labels.most_common()),
            dropped=dict(self.dropped),
            duplicates=self.duplicates,
            tokens=stats,
            token_limit=self.limit.tokens,
            limit=self.limit,
            over_limit=self.over,
            over_limit_count=self.over_count,
            epochs=self.epochs,
            training_tokens=self.total * self.epochs,
            facts=self.facts.summary(),
        )


def summarise_events(
    events: Iterable[Event], *, limit: TokenLimit | None = None, epochs: int = DEFAULT_EPOCHS
) -> CorpusSummary:
    """Summarise a stream of load events (`iter_load`) without keeping the records."""
    builder = SummaryBuilder(limit or LIMITS[DEFAULT_PLATFORM], epochs)
    for event in events:
        builder.add(event)
    return builder.summary()


def summarise(
    report: LoadReport, *, limit: TokenLimit | None = None, epochs: int = DEFAULT_EPOCHS
) -> CorpusSummary:
    """Summarise a finished load: per-format/batch/label counts, tokens, facts, over-limit records."""
    events: list[Event] = [*report.records, *report.rejects, *report.warnings, *report.files]
    return summarise_events(events, limit=limit, epochs=epochs)


class CorpusSurvey(NamedTuple):
    """A corpus read once: the load, its summary and its fact histories."""

    report: LoadReport
    summary: CorpusSummary
    histories: list[FactHistory]


def survey_corpus(
    paths: Sequence[str | Path] | str | Path,
    *,
    limit: TokenLimit | None = None,
    epochs: int = DEFAULT_EPOCHS,
    progress: Progress | None = None,
) -> CorpusSurvey:
    """Load, summarise and group facts (by id and wording) in one pass over the lines: what
    `python -m corpus report` and `facts` print, kept in memory for a corpus that fits there."""
    report = LoadReport()
    builder = SummaryBuilder(limit or LIMITS[DEFAULT_PLATFORM], epochs, keep_fact_text=True)
    sorted_into: dict[type, list[Any]] = {
        Record: report.records,
        Reject: report.rejects,
        Notice: report.warnings,
        FileReport: report.files,
    }
    with no_gc_pauses():
        for event in iter_load(paths, progress=progress):
            builder.add(event)
            sorted_into[type(event)].append(event)
    return CorpusSurvey(report, builder.summary(), builder.facts.histories())


def render_summary(summary: CorpusSummary) -> str:
    """The summary as a few aligned lines for a terminal."""
    t, f = summary.tokens, summary.facts
    spread = f"median {t.median:.0f}, p95 {t.p95:.0f}"
    if t.sampled < summary.records:
        spread += f" (estimated from a uniform sample of {t.sampled:,} records)"
    rows = [
        f"records        {summary.records} in {summary.files} file(s); {summary.rejected} rejected, "
        f"{summary.skipped} skipped, {summary.warnings} warning(s), {summary.duplicates} duplicate(s)",
        "per format     " + ", ".join(f"{k} {v}" for k, v in summary.per_format.items()),
        "per batch      " + ", ".join(f"{printable(k)} {v}" for k, v in summary.per_batch.items()),
        f"tokens         total {t.total:,}; min {t.min}, {spread}, max {t.max} ({t.tokenizer})",
        f"over limit     {summary.over_limit_count} record(s) over {summary.limit.describe()}"
        + (f" ({', '.join(summary.over_limit[:5])})" if summary.over_limit else ""),
        f"limit source   {summary.limit.cite()}",
        f"training       {summary.training_tokens:,} tokens = {t.total:,} × {summary.epochs} epochs",
        f"facts          {f.facts} ({f.changed} changed, {f.reconfirmed} re-confirmed in a later batch"
        + (f", {f.variants} with variant answers on one date)" if f.variants else ")"),
        "new per batch  "
        + (", ".join(f"{printable(k)} {v}" for k, v in f.new_per_batch.items()) or "-"),
        "changes/batch  "
        + (", ".join(f"{printable(k)} {v}" for k, v in f.changes_per_batch.items()) or "-"),
    ]
    if summary.labels:
        labels = ", ".join(f"{printable(k)} {v}" for k, v in summary.labels.items())
        rows.insert(3, "labels         " + labels)
    if summary.dropped:
        rows.insert(
            1, "dropped        " + ", ".join(f"{k} {v}" for k, v in summary.dropped.items())
        )
    return "\n".join(rows)
