"""The tables behind the app's charts: plain DataFrames built from a comparison or the run history
(no streamlit here, so each is testable on its own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from answers import Answer, SourceHit
from compare.comparison import Comparison
from compare.runs_db import RunRecord
from compare.summary import HEADLINE as METRIC
from compare.versions_given import version_given
from corpus.facts import FactHistory, FactVersion, shown_day
from corpus.names import printable
from ui import charts


def quality_frame(c: Comparison, metric: str = METRIC) -> pd.DataFrame:
    """Rows of (side, split, mean, low, high, n) for the quality chart."""
    rows = []
    for q in c.summary.quality:
        if q.metric != metric:
            continue
        for split, interval in zip(
            charts.SPLIT_ORDER, (q.overall, q.known, q.unknown), strict=True
        ):
            if interval is not None and interval.n:
                rows.append(
                    {
                        "side": charts.side_label(q.answerer),
                        "split": split,
                        "mean": interval.mean,
                        "low": interval.low,
                        "high": interval.high,
                        "n": interval.n,
                    }
                )
    return pd.DataFrame(rows)


def kind_frame(c: Comparison, metric: str = METRIC) -> pd.DataFrame:
    """Rows of (side, split, mean, low, high, n) per kind of fact (stable / changed / new)."""
    rows = [
        {
            "side": charts.side_label(q.answerer),
            "split": f"{kind} facts",
            "mean": interval.mean,
            "low": interval.low,
            "high": interval.high,
            "n": interval.n,
        }
        for q in c.summary.quality
        if q.metric == metric
        for kind, interval in q.by_kind.items()
        if interval.n
    ]
    return pd.DataFrame(rows)


def gap_frame(c: Comparison, metric: str = METRIC) -> pd.DataFrame:
    """Rows of (pair, mean, low, high, beyond_noise) for the gap chart."""
    return pd.DataFrame(
        [
            {
                "pair": f"{charts.side_label(g.a)} − {charts.side_label(g.b)}",
                "mean": g.diff.mean,
                "low": g.diff.low,
                "high": g.diff.high,
                "beyond_noise": "yes" if g.diff.excludes_zero else "no",
            }
            for g in c.summary.gaps
            if g.metric == metric
        ]
    )


def latency_frame(c: Comparison) -> pd.DataFrame:
    """Rows of (side, stat, ms) for the latency chart: answering p50 / p95 and the median wait
    for a busy model, apart."""
    stats = (("p50", "latency_p50_s"), ("p95", "latency_p95_s"), ("wait p50", "wait_p50_s"))
    return pd.DataFrame(
        [
            {"side": charts.side_label(s.answerer), "stat": stat, "ms": getattr(s, field) * 1000}
            for s in c.summary.sides
            for stat, field in stats
        ]
    )


def question_frame(
    c: Comparison, facts: Mapping[str, FactHistory] | None = None, metric: str = METRIC
) -> pd.DataFrame:
    """One row per question: question, reference, and every side's answer and score side by
    side; an answer that gives a superseded version of its fact is marked stale with the dates
    that version held (`facts`: record id -> its fact's history)."""
    rows = []
    scored = {(s.item_id, s.answerer): s for s in c.run.scored}
    for item in c.run.items:
        row: dict[str, Any] = {
            "question": item.question,
            "reference": item.reference,
            "kind": item.kind or "",
        }
        history = (facts or {}).get(item.record_id or "")
        for name in c.run.answerers:
            s = scored.get((item.id, name))
            if s is None:
                continue
            label = charts.side_label(name)
            row[label] = _answer_cell(s.answer, history, item.as_of)
            row[f"{label} {metric_short(metric)}"] = s.metrics.get(metric, 0.0)
        rows.append(row)
    return pd.DataFrame(rows)


def metric_short(metric: str) -> str:
    """A column suffix for a metric: 'token_f1' -> 'F1'."""
    return {"token_f1": "F1", "accuracy": "acc", "contains": "contains"}.get(metric, metric)


def _answer_cell(answer: Answer, history: FactHistory | None, as_of: date | None) -> str:
    if not answer.ok:
        return f"error: {answer.error}"
    given = version_given(answer.text, history, as_of) if history is not None else None
    if given is not None and given.stale:
        return f"⚠ {given.describe()}: {answer.text}"
    return answer.text


def sources_frame(sources: Sequence[SourceHit]) -> pd.DataFrame:
    """One row per retrieved source, best score first: when its version held and its text."""
    return pd.DataFrame(
        [
            {
                "record": s.record_id,
                "score": round(s.score, 3),
                "held from": shown_day(s.held_from or s.as_of),
                "held until": shown_day(s.held_until, ""),
                "status": "superseded" if s.stale else "current",
                "text": s.text,
            }
            for s in sorted(sources, key=lambda s: s.score, reverse=True)
        ]
    )


def history_frames(runs: Sequence[RunRecord]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history table (one row per run) and the trend chart's points (one per run and side)."""
    table, points = [], []
    for run in runs:
        row: dict[str, Any] = {
            "run": run.run_id,
            "started": f"{run.started_at:%Y-%m-%d %H:%M}",
            "eval": run.eval_name,
            "verdict": run.verdict,
        }
        for name in run.answerers:
            value = run.headline.get(name)
            row[charts.side_label(name)] = value
            if value is not None:
                points.append(
                    {"started_at": run.started_at, "side": charts.side_label(name), "value": value}
                )
        table.append(row)
    return pd.DataFrame(table), pd.DataFrame(points)


def rejects_frame(rejects: Sequence[Any]) -> pd.DataFrame:
    """One row per bad line: where, what is wrong and how to fix it."""
    return pd.DataFrame(
        [
            {
                "line": f"{printable(Path(r.file).name)}:{r.line}",
                "code": r.code,
                "message": r.message,
                "fix": r.hint,
            }
            for r in rejects
        ]
    )


def problems_by_code(items: Sequence[Any]) -> pd.DataFrame:
    """One row per code: how many lines, the first one, and what to do about it."""
    rows: dict[str, dict[str, Any]] = {}
    for r in items:
        row = rows.setdefault(
            r.code,
            {"code": r.code, "lines": 0, "first": f"{printable(Path(r.file).name)}:{r.line}",
             "message": r.message, "hint": r.hint},
        )  # fmt: skip
        row["lines"] += 1
    ordered: list[dict[str, Any]] = sorted(rows.values(), key=lambda entry: -int(entry["lines"]))
    return pd.DataFrame(ordered)


def history_frame(history: FactHistory) -> pd.DataFrame:
    """One row per version of a fact: the answer, when it was first seen and last confirmed, and
    until when it held (empty: it still holds); an absent date reads "undated", never "None"."""
    return pd.DataFrame(
        [
            {
                "answer": v.answer,
                "first seen": shown_day(v.first_seen),
                "last confirmed": shown_day(v.last_confirmed),
                "held until": shown_day(v.until, ""),
                "status": _status(history, v),
                "records": ", ".join(v.record_ids),
            }
            for v in history.versions
        ]
    )


def _status(history: FactHistory, version: FactVersion) -> str:
    """current / superseded, and whether the version is a variant of the one before it."""
    held = "current" if version.until is None else "superseded"
    return f"{held} (variant)" if version.variant else held


def fact_counts(histories: Sequence[FactHistory]) -> dict[str, int]:
    """Facts, changed facts, facts re-confirmed in a later batch, facts with variant answers."""
    return {
        "facts": len(histories),
        "changed": sum(h.changed for h in histories),
        "variants": sum(h.has_variants for h in histories),
        "reconfirmed": sum(
            any(
                v.last_confirmed and v.first_seen and v.last_confirmed > v.first_seen
                for v in h.versions
            )
            for h in histories
        ),
    }


def changes_per_batch(histories: Sequence[FactHistory]) -> dict[str, int]:
    """New answers per batch: every version after a fact's first, at the batch it appeared in."""
    counts: dict[str, int] = {}
    for h in histories:
        for v in h.versions[1:]:
            if v.variant:  # stated alongside the answer before it: not a change
                continue
            batch = v.batches[0] if v.batches else "-"
            counts[batch] = counts.get(batch, 0) + 1
    return dict(sorted(counts.items()))


def history_lines(history: FactHistory) -> list[str]:
    """A fact's versions as Markdown list lines, newest first, with the dates each held (an
    absent date reads "undated"; a variant is said to be one)."""
    lines = []
    for v in reversed(history.versions):
        since = shown_day(v.first_seen)
        also = " (a variant stated alongside the answer below)" if v.variant else ""
        if v.until is None:
            confirmed = (
                f", last confirmed {shown_day(v.last_confirmed)}"
                if v.last_confirmed != v.first_seen
                else ""
            )
            lines.append(f"- current since {since}{confirmed}{also}: {v.answer}")
        else:
            lines.append(f"- superseded: held {since} → {shown_day(v.until)}{also}: {v.answer}")
    return lines
