"""One comparison end to end, along the run's own path: ask → score → summarise → price → advise.

`Comparison` is the central result every screen and report reads; `assess` re-derives everything but
the answers (new prices, volumes or thresholds re-price and re-advise without asking again).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from answers import Answerer, Progress
from answers.metrics import Embed
from compare.advice import Advice, AdviceInputs, AdviceSettings, advise
from compare.asking import ask_all
from compare.cost import CostReport, CostSettings, price_run
from compare.evalset import EvalItem
from compare.freshness import Freshness, freshness
from compare.judge import Judge
from compare.knowledge import SidesKnowledge
from compare.price_book import PriceBook
from compare.run import RunResult
from compare.runs_db import ResultRow, RunRecord, RunsDatabase
from compare.scoring import score_run
from compare.stats import Interval, paired_difference
from compare.summary import FACT_METRIC, HEADLINE, RunSummary, summarise_run
from corpus import Record

RAG_SIDES = ("rag", "tuned_rag")
TUNED_SIDES = ("tuned", "tuned_rag", "tuned_previous")


class Context(BaseModel):
    """What a run is judged against: the corpus, what each side knows, prices and thresholds."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    records: list[Record]
    knowledge: SidesKnowledge
    book: PriceBook
    cost: CostSettings = CostSettings()
    advice: AdviceSettings = AdviceSettings()
    rag_generative: bool = False  # generative RAG calls an LLM for every answer: it is priced so


class Comparison(BaseModel):
    """One evaluation run with everything derived from it."""

    run: RunResult
    summary: RunSummary
    freshness: list[Freshness]
    cost: CostReport
    advice: Advice


def compare(
    items: Sequence[EvalItem],
    answerers: Sequence[Answerer],
    context: Context,
    *,
    configurations: Mapping[str, str] | None = None,
    db: RunsDatabase | None = None,
    embed: Embed | None = None,
    judge: Judge | None = None,
    eval_name: str = "eval",
    concurrency: int = 1,
    progress: Progress | None = None,
) -> Comparison:
    """Ask, score, summarise, price and advise; the run is kept in the database's history."""
    started = datetime.now(UTC)
    asked = ask_all(
        items,
        answerers,
        configurations=configurations,
        cache=db,
        concurrency=concurrency,
        progress=progress,
    )
    scored = score_run(
        items,
        asked,
        records={r.id: r for r in context.records},
        knowledge=context.knowledge.by_answerer(),
        embed=embed,
        judge=judge,
        concurrency=concurrency,
    )
    run = RunResult(
        run_id=f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        started_at=started,
        eval_name=eval_name,
        answerers=[a.name for a in answerers],
        items=list(items),
        scored=scored,
    )
    comparison = assess(run, context)
    if db is not None:
        rows = [
            ResultRow(item_id=s.item_id, answerer=s.answerer, answer=s.answer, metrics=s.metrics)
            for s in comparison.run.scored
        ]
        db.save_run(run_record(comparison), rows, comparison.model_dump_json())
    return comparison


def assess(run: RunResult, context: Context) -> Comparison:
    """Everything derived from a run's answers: summary, cost, freshness and advice."""
    summary = summarise_run(run)
    priced, cost = price_run(
        run,
        context.cost,
        context.knowledge.fixed,
        context.book,
        rag_generative=context.rag_generative,
    )
    views = freshness_views(run, context)
    inputs = advice_inputs(priced, summary, views, context, cost)
    return Comparison(
        run=priced,
        summary=summary,
        freshness=views,
        cost=cost,
        advice=advise(inputs, context.advice),
    )


def freshness_views(run: RunResult, context: Context) -> list[Freshness]:
    """Freshness of the sides this run asked, and of no other."""
    k = context.knowledge
    views = []
    if k.index is not None and set(RAG_SIDES) & set(run.answerers):
        views.append(freshness(context.records, k.index))
    if k.tuned is not None and set(TUNED_SIDES) & set(run.answerers):
        views.append(freshness(context.records, k.tuned))
    return views


def headline_metric(run: RunResult, settings: AdviceSettings | None = None) -> str:
    """The metric verdicts rest on: the one chosen, else choice accuracy when every question is
    multiple choice, else token F1."""
    if settings is not None and settings.metric != "auto":
        return settings.metric
    qa = [i for i in run.items if not i.is_classification]
    if qa and all(i.is_multiple_choice for i in qa):
        return "accuracy"
    return HEADLINE


def advice_inputs(
    run: RunResult,
    summary: RunSummary,
    views: Sequence[Freshness],
    context: Context,
    cost: CostReport,
) -> AdviceInputs:
    """Gather the measured values each advice criterion needs (None where not measured)."""
    metric = headline_metric(run, context.advice)
    # staleness shows in the figures a fact states; fall back to the headline without them
    numbers = summary.quality_of("tuned", FACT_METRIC)
    fact_metric = FACT_METRIC if numbers and numbers.known and numbers.unknown else metric
    tuned = summary.quality_of("tuned", fact_metric)
    tuned_rows = [s for s in run.for_answerer("tuned") if s.known is not None]
    tuned_view = next((v for v in views if v.side == "tuned"), None)
    failed = [s.answerer for s in summary.sides if s.answered == 0 and s.errors]
    k = context.knowledge
    return AdviceInputs(
        metric=metric,
        fact_metric=fact_metric,
        sides=[s.answerer for s in summary.sides if s.answered],
        failed_sides=failed,
        cutoff=str(tuned_view.cutoff) if tuned_view and tuned_view.cutoff else None,
        new_records=tuned_view.new_since_cutoff if tuned_view else None,
        new_tokens=k.new_tokens,
        training_records=k.training_records,
        eval_new_questions=_eval_new_questions(run, context) if tuned_view else None,
        tuned_known=tuned.known.mean if tuned and tuned.known else None,
        tuned_unknown=tuned.unknown.mean if tuned and tuned.unknown else None,
        unknown_question_share=(sum(not s.known for s in tuned_rows) / len(tuned_rows))
        if tuned_rows
        else None,
        rag_vs_tuned=_gap(summary, "rag", "tuned", metric),
        tuned_rag_vs_rag=_gap(summary, "tuned_rag", "rag", metric),
        tuned_rag_vs_tuned=_gap(summary, "tuned_rag", "tuned", metric),
        retune_cost_usd=cost.tuning_run_usd if k.tuned and k.fixed.training_tokens else None,
        retune_hours=k.retune_hours or None,
        forgetting=_forgetting(run, metric),
        monthly_usd={s.model.side: s.monthly.total_usd for s in cost.sides},
    )


def _gap(summary: RunSummary, a: str, b: str, metric: str) -> Interval | None:
    gap = summary.gap(a, b, metric)
    return gap.diff if gap else None


def _eval_new_questions(run: RunResult, context: Context) -> int:
    """Eval questions about records dated after the tuned model's cutoff."""
    tuned = context.knowledge.tuned
    if tuned is None:
        return 0
    by_id = {r.id: r for r in context.records}
    return sum(
        1
        for item in run.items
        if (record := by_id.get(item.record_id or "")) is not None and tuned.is_after_cutoff(record)
    )


def _forgetting(run: RunResult, metric: str) -> Interval | None:
    """New tuned model minus the previous one, on the questions the previous one knew."""
    if "tuned_previous" not in run.answerers:
        return None
    prev = {s.item_id: s for s in run.for_answerer("tuned_previous") if s.known}
    now = {s.item_id: s for s in run.for_answerer("tuned") if s.item_id in prev}
    ids = [i for i in sorted(now) if metric in now[i].metrics and metric in prev[i].metrics]
    if not ids:
        return None
    return paired_difference(
        [now[i].metrics[metric] for i in ids], [prev[i].metrics[metric] for i in ids]
    )


def run_record(c: Comparison) -> RunRecord:
    """What the run history keeps of a comparison, to follow quality over time."""
    metric = c.advice.inputs.metric
    quality = [q for q in c.summary.quality if q.metric == metric]
    return RunRecord(
        run_id=c.run.run_id,
        started_at=c.run.started_at,
        eval_name=c.run.eval_name,
        answerers=c.run.answerers,
        verdict=c.advice.verdict,
        metric=metric,
        headline={q.answerer: q.overall.mean for q in quality},
        headline_unseen={q.answerer: q.unknown.mean for q in quality if q.unknown},
    )


def caveats(c: Comparison) -> list[str]:
    """What limits the verdict: sides that failed on some questions score 0 on those."""
    notes = []
    for side in c.summary.sides:
        if side.errors:
            total = side.answered + side.errors
            notes.append(
                f"{side.answerer} failed on {side.errors} of {total} questions "
                f"({side.first_error}); a failed answer scores 0, so fix the side before "
                "trusting its numbers"
            )
    return notes
