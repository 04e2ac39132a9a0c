"""Summarise a scored run into the numbers a team reads: means with CIs, splits, gaps, latency.

The third step of a run (ask → score → summarise → price → advise).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from answers import metrics
from compare.run import RunResult, Scored
from compare.stats import Interval, bootstrap_mean, paired_difference

HEADLINE = "token_f1"
FACT_METRIC = "numbers"  # the figures a fact states: what goes stale when a fact changes
COMPARED = tuple(metrics.LABELS)  # every metric a side is compared on, in display order
KIND_ORDER = ("stable", "changed", "new")  # the eval's kinds of fact, oldest knowledge first


class SideQuality(BaseModel):
    """One answerer's quality on one metric: overall, on known facts, on facts it has not seen."""

    answerer: str
    metric: str
    overall: Interval
    known: Interval | None = None
    unknown: Interval | None = None
    # by the eval's kind of fact (stable / changed / new): the same split for every side, so
    # a team sees each side on the facts that changed and the facts added after the tuning
    by_kind: dict[str, Interval] = Field(default_factory=dict)


class PairGap(BaseModel):
    """Mean difference a - b over the same questions, with its paired bootstrap CI."""

    a: str
    b: str
    metric: str
    diff: Interval


class SideStats(BaseModel):
    """Latency, tokens, errors, retrieval and label scores of one answerer."""

    answerer: str
    answered: int
    errors: int
    abstained: int
    cached: int
    latency_p50_s: float  # time answering: latency less the wait for a busy model
    latency_p95_s: float
    wait_p50_s: float = 0.0  # time waiting for a busy model (as the server reported it)
    wait_p95_s: float = 0.0
    mean_prompt_tokens: float
    mean_completion_tokens: float
    mean_embedding_tokens: float
    retrieval: dict[str, float] = Field(default_factory=dict)
    label_accuracy: float | None = None
    label_macro_f1: float | None = None
    first_error: str | None = None


class RunSummary(BaseModel):
    """Everything the report and the app show about a run's quality."""

    quality: list[SideQuality]
    gaps: list[PairGap]
    sides: list[SideStats]
    chance: float | None = None  # accuracy of guessing on the multiple-choice items

    def metrics(self) -> list[str]:
        """The metrics measured in this run, in display order."""
        present = {q.metric for q in self.quality}
        return [m for m in COMPARED if m in present]

    def quality_of(self, answerer: str, metric: str = HEADLINE) -> SideQuality | None:
        """One answerer's quality on one metric."""
        return next(
            (q for q in self.quality if q.answerer == answerer and q.metric == metric), None
        )

    def gap(self, a: str, b: str, metric: str = HEADLINE) -> PairGap | None:
        """The a - b gap, whichever order it was computed in."""
        for g in self.gaps:
            if g.metric == metric and (g.a, g.b) == (a, b):
                return g
            if g.metric == metric and (g.a, g.b) == (b, a):
                flipped = Interval(
                    mean=-g.diff.mean, low=-g.diff.high, high=-g.diff.low, n=g.diff.n
                )
                return PairGap(a=a, b=b, metric=metric, diff=flipped)
        return None


def summarise_run(run: RunResult, *, seed: int = 0) -> RunSummary:
    """Means with bootstrap CIs per side and metric, split by known/unknown facts, and pairwise gaps."""
    qa_ids = {i.id for i in run.items if not i.is_classification}
    quality, gaps, sides = [], [], []
    per_side = {
        name: [s for s in run.for_answerer(name) if s.item_id in qa_ids] for name in run.answerers
    }
    kinds = {i.id: i.kind for i in run.items if i.kind}
    for name, rows in per_side.items():
        for metric in _metrics_present(rows):
            quality.append(_side_quality(name, metric, rows, kinds, seed))
        sides.append(_side_stats(run, name))
    for a, b in combinations(run.answerers, 2):
        for metric in _metrics_present(per_side[a]):
            pairs = [
                (x.metrics.get(metric), y.metrics.get(metric))
                for x, y in zip(per_side[a], per_side[b], strict=True)
            ]
            pairs = [(x, y) for x, y in pairs if _finite(x) and _finite(y)]
            if pairs:
                xs, ys = zip(*pairs, strict=True)
                gaps.append(
                    PairGap(a=a, b=b, metric=metric, diff=paired_difference(xs, ys, seed=seed))
                )
    choice_items = [i for i in run.items if i.is_multiple_choice and i.choices]
    chance = (
        sum(1 / len(i.choices or [1]) for i in choice_items) / len(choice_items)
        if choice_items
        else None
    )
    return RunSummary(quality=quality, gaps=gaps, sides=sides, chance=chance)


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _metrics_present(rows: list[Scored]) -> list[str]:
    present = {m for r in rows for m in r.metrics}
    return [m for m in COMPARED if m in present]


def _side_quality(
    name: str, metric: str, rows: list[Scored], kinds: dict[str, str], seed: int
) -> SideQuality:
    def interval(subset: list[Scored]) -> Interval | None:
        values = [r.metrics[metric] for r in subset if _finite(r.metrics.get(metric))]
        return bootstrap_mean(values, seed=seed) if values else None

    overall = interval(rows) or Interval(mean=0.0, low=0.0, high=0.0, n=0)
    present = set(kinds.values())
    order = [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))
    by_kind = {
        kind: got
        for kind in order
        if (got := interval([r for r in rows if kinds.get(r.item_id) == kind])) is not None
    }
    return SideQuality(
        answerer=name,
        metric=metric,
        overall=overall,
        known=interval([r for r in rows if r.known is True]),
        unknown=interval([r for r in rows if r.known is False]),
        by_kind=by_kind,
    )


def _side_stats(run: RunResult, name: str) -> SideStats:
    rows = run.for_answerer(name)
    ok = [r for r in rows if r.answer.ok]
    timed = [r.answer for r in ok if not r.cached] or [r.answer for r in ok]
    latencies = [a.answering_s for a in timed] or [0.0]
    waits = [a.usage.queued_s for a in timed] or [0.0]
    retrieval = {
        m: float(np.mean([r.metrics[m] for r in rows if m in r.metrics]))
        for m in ("hit@1", "hit@5", "mrr")
        if any(m in r.metrics for r in rows)
    }
    items = {i.id: i for i in run.items}
    labelled = [r for r in rows if items[r.item_id].is_classification]
    accuracy = macro = None
    if labelled:
        gold = [items[r.item_id].reference for r in labelled]
        predicted = [
            metrics.predicted_label(r.answer.text, items[r.item_id].labels or []) for r in labelled
        ]
        accuracy, macro = metrics.accuracy(predicted, gold), metrics.macro_f1(predicted, gold)
    errors = [r for r in rows if not r.answer.ok]
    return SideStats(
        answerer=name,
        answered=len(ok),
        errors=len(errors),
        abstained=sum(r.answer.abstained for r in rows),
        cached=sum(r.cached for r in rows),
        latency_p50_s=float(np.percentile(latencies, 50)),
        latency_p95_s=float(np.percentile(latencies, 95)),
        wait_p50_s=float(np.percentile(waits, 50)),
        wait_p95_s=float(np.percentile(waits, 95)),
        mean_prompt_tokens=_mean([r.answer.usage.prompt_tokens for r in ok]),
        mean_completion_tokens=_mean([r.answer.usage.completion_tokens for r in ok]),
        mean_embedding_tokens=_mean([r.answer.usage.embedding_tokens for r in ok]),
        retrieval=retrieval,
        label_accuracy=accuracy,
        label_macro_f1=macro,
        first_error=errors[0].answer.error if errors else None,
    )


def _mean(values: list[int]) -> float:
    return float(np.mean(values)) if values else 0.0
