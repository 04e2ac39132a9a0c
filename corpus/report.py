"""What a team wants to know about a corpus before tuning on it: counts, tokens, labels, cost drivers."""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import BaseModel, Field

from corpus.record import LoadReport, Record
from corpus.tokens import count_tokens, tokenizer

DEFAULT_TOKEN_LIMIT = 4096
DEFAULT_EPOCHS = 3  # OpenAI's default for small data sets


class TokenStats(BaseModel):
    """Distribution of tokens per record."""

    tokenizer: str
    total: int = 0
    min: int = 0
    median: float = 0.0
    p95: float = 0.0
    max: int = 0


class CorpusSummary(BaseModel):
    """The corpus report: counts per format, batch and label, token statistics, training estimate."""

    records: int
    files: int
    rejected: int
    warnings: int
    per_format: dict[str, int] = Field(default_factory=dict)
    per_batch: dict[str, int] = Field(default_factory=dict)
    labels: dict[str, int] = Field(default_factory=dict)
    duplicates: int = 0
    tokens: TokenStats
    token_limit: int
    over_limit: list[str] = Field(default_factory=list)
    epochs: int
    training_tokens: int = 0


def record_text(record: Record) -> str:
    """All the text a record trains on, turns joined."""
    turns = record.chat()
    return "\n".join(t.content for t in turns) if turns else record.text or ""


def summarise(
    report: LoadReport, *, token_limit: int = DEFAULT_TOKEN_LIMIT, epochs: int = DEFAULT_EPOCHS
) -> CorpusSummary:
    """Summarise a load: per-format/batch/label counts, token stats, over-limit records, tokens × epochs."""
    records = report.records
    counts = count_tokens([record_text(r) for r in records]) if records else []
    arr = np.array(counts or [0])
    stats = TokenStats(
        tokenizer=tokenizer()[0],
        total=int(arr.sum()),
        min=int(arr.min()),
        median=float(np.median(arr)),
        p95=float(np.percentile(arr, 95)),
        max=int(arr.max()),
    )
    return CorpusSummary(
        records=len(records),
        files=len(report.files),
        rejected=len(report.rejects),
        warnings=len(report.warnings),
        per_format=dict(Counter(r.format.value for r in records).most_common()),
        per_batch=dict(sorted(Counter(r.batch or "-" for r in records).items())),
        labels=dict(Counter(r.label for r in records if r.label is not None).most_common()),
        duplicates=sum(1 for r in report.rejects if r.code == "duplicate"),
        tokens=stats,
        token_limit=token_limit,
        over_limit=[r.id for r, n in zip(records, counts, strict=True) if n > token_limit],
        epochs=epochs,
        training_tokens=stats.total * epochs,
    )


def render_summary(summary: CorpusSummary) -> str:
    """The summary as a few aligned lines for a terminal."""
    t = summary.tokens
    rows = [
        f"records        {summary.records} in {summary.files} file(s); {summary.rejected} rejected, "
        f"{summary.warnings} warning(s), {summary.duplicates} duplicate(s)",
        "per format     " + ", ".join(f"{k} {v}" for k, v in summary.per_format.items()),
        "per batch      " + ", ".join(f"{k} {v}" for k, v in summary.per_batch.items()),
        f"tokens         total {t.total:,}; min {t.min}, median {t.median:.0f}, p95 {t.p95:.0f}, "
        f"max {t.max} ({t.tokenizer})",
        f"over {summary.token_limit} tokens  {len(summary.over_limit)}"
        + (f": {', '.join(summary.over_limit[:5])}" if summary.over_limit else ""),
        f"training       {summary.training_tokens:,} tokens = {t.total:,} × {summary.epochs} epochs",
    ]
    if summary.labels:
        rows.insert(3, "labels         " + ", ".join(f"{k} {v}" for k, v in summary.labels.items()))
    return "\n".join(rows)
