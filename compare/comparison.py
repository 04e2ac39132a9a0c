"""One comparison end to end, along the run's own path: ask → score → summarise → price → advise.

`Comparison` is the central result every screen and report reads; `assess` re-derives everything but
the answers (new prices, volumes or thresholds re-price and re-advise without asking again).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from answers import Answerer, Progress
from answers.metrics import Embed
from answers.prices import PriceBook
from compare.advice import Advice, AdviceInputs, AdviceSettings, advise
from compare.asking import ask_all
from compare.cost import CostReport, CostSettings, price_run
from compare.evalset import EvalItem
from compare.freshness import Freshness, freshness
from compare.judge import Judge
from compare.knowledge import SidesKnowledge
from compare.run import RunResult, Scored
from compare.runs_db import ResultRow, RunRecord, RunsDatabase
from compare.scoring import score_run
from compare.side_table import retrieval_sides, side_for, side_label, sides_writing_with
from compare.stats import Interval, paired_difference
from compare.summary import FACT_METRIC, HEADLINE, RunSummary, summarise_run
from corpus import Record

# the cells of the side table the advice reads
TUNED, BASE = side_for("tuned", retrieves=False), side_for("base", retrieves=False)
COMBINED, BASE_RAG = side_for("tuned", retrieves=True), side_for("base", retrieves=True)
PREVIOUS = side_for("previous", retrieves=False)


class Context(BaseModel):
    """What a run is judged against: the corpus, what each side knows, prices and thresholds."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    records: list[Record]
    knowledge: SidesKnowledge
    book: PriceBook
    cost: CostSettings = CostSettings()
    advice: AdviceSettings = AdviceSettings()
    writers: dict[str, str] = Field(default_factory=dict)  # side -> which model writes it


class Comparison(BaseModel):
    """One evaluation run with everything derived from it."""

    run: RunResult
    summary: RunSummary
    freshness: list[Freshness]
    cost: CostReport
    advice: Advice
    writers: dict[str, str] = Field(default_factory=dict)  # side -> which model wrote its answers


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
    priced, cost = price_run(run, context.cost, context.knowledge.fixed, context.book)
    views = freshness_views(run, context)
    inputs = advice_inputs(priced, summary, views, context, cost)
    return Comparison(
        run=priced,
        summary=summary,
        freshness=views,
        cost=cost,
        advice=advise(inputs, context.advice),
        writers={n: w for n, w in context.writers.items() if n in run.answerers},
    )


def freshness_views(run: RunResult, context: Context) -> list[Freshness]:
    """Freshness of the sides this run asked, and of no other."""
    k = context.knowledge
    views = []
    if k.index is not None and retrieval_sides(run.answerers):
        views.append(freshness(context.records, k.index))
    if k.tuned is not None and sides_writing_with("tuned", run.answerers):
        views.append(freshness(context.records, k.tuned))
    if k.previous_tuned is not None and sides_writing_with("previous", run.answerers):
        views.append(freshness(context.records, k.previous_tuned))
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
    numbers = summary.quality_of(TUNED, FACT_METRIC)
    fact_metric = FACT_METRIC if numbers and numbers.known and numbers.unknown else metric
    tuned = summary.quality_of(TUNED, fact_metric)
    tuned_rows = [s for s in run.for_answerer(TUNED) if s.known is not None]
    tuned_view = next((v for v in views if v.side == TUNED), None)
    failed = [s.answerer for s in summary.sides if s.answered == 0 and s.errors]
    retrieval = best_retrieval_side(summary, metric)
    k = context.knowledge
    added = _tuning_added(run, metric)
    return AdviceInputs(
        metric=metric,
        fact_metric=fact_metric,
        sides=[s.answerer for s in summary.sides if s.answered],
        failed_sides=failed,
        retrieval_side=retrieval,
        retrieval_label=side_label(retrieval) if retrieval else None,
        cutoff=str(tuned_view.cutoff) if tuned_view and tuned_view.cutoff else None,
        new_records=tuned_view.new_since_cutoff if tuned_view else None,
        new_tokens=k.new_tokens,
        changed_facts=k.changed_facts if k.tuned is not None else None,
        training_records=k.training_records,
        eval_new_questions=_eval_new_questions(run, context) if tuned_view else None,
        tuned_known=tuned.known.mean if tuned and tuned.known else None,
        tuned_unknown=tuned.unknown.mean if tuned and tuned.unknown else None,
        unknown_question_share=(sum(not s.known for s in tuned_rows) / len(tuned_rows))
        if tuned_rows
        else None,
        rag_vs_tuned=_gap(summary, retrieval, TUNED, metric),
        tuned_rag_vs_rag=_gap(summary, COMBINED, retrieval, metric),
        tuned_rag_vs_base_rag=_gap(summary, COMBINED, BASE_RAG, metric)
        if retrieval != BASE_RAG
        else None,
        tuned_rag_vs_tuned=_gap(summary, COMBINED, TUNED, metric),
        tuning_added=added[0],
        tuning_added_trained=added[1],
        tuning_added_untrained=added[2],
        retune_cost_usd=cost.tuning_run_usd if k.tuned and k.fixed.training_tokens else None,
        retune_hours=k.retune_hours or None,
        forgetting=_forgetting(run, metric),
        monthly_usd={s.model.side: s.monthly.total_usd for s in cost.sides},
    )


def best_retrieval_side(summary: RunSummary, metric: str) -> str | None:
    """The retrieval side a verdict calls "RAG": of those that retrieve without the tuned model
    (extractive, base + RAG), the one with the best mean on the headline metric."""
    scored = [
        (q.overall.mean, q.answerer)
        for q in summary.quality
        if q.metric == metric and q.answerer in _plain_retrieval(summary)
    ]
    return max(scored)[1] if scored else None


def _plain_retrieval(summary: RunSummary) -> list[str]:
    names = [s.answerer for s in summary.sides if s.answered]
    return [n for n in retrieval_sides(names) if n not in sides_writing_with("tuned", names)]


def _gap(summary: RunSummary, a: str | None, b: str | None, metric: str) -> Interval | None:
    if a is None or b is None:
        return None
    gap = summary.gap(a, b, metric)
    return gap.diff if gap else None


def _tuning_added(
    run: RunResult, metric: str
) -> tuple[Interval | None, Interval | None, Interval | None]:
    """Tuned minus base on the same questions: all of them, those about facts the tuned model was
    trained on, and those about facts it was not."""
    return (
        _paired(run, TUNED, BASE, metric),
        _paired(run, TUNED, BASE, metric, lambda tuned, _: tuned.known is True),
        _paired(run, TUNED, BASE, metric, lambda tuned, _: tuned.known is False),
    )


def _paired(
    run: RunResult,
    a: str,
    b: str,
    metric: str,
    keep: Callable[[Scored, Scored], bool] = lambda x, y: True,
) -> Interval | None:
    """Side a minus side b on the questions both were scored on where `keep(a_row, b_row)`;
    None when either side did not run or no question is left."""
    if a not in run.answerers or b not in run.answerers:
        return None
    rows_b = {s.item_id: s for s in run.for_answerer(b) if metric in s.metrics}
    pairs = [
        (x, rows_b[x.item_id])
        for x in run.for_answerer(a)
        if x.item_id in rows_b and metric in x.metrics and keep(x, rows_b[x.item_id])
    ]
    if not pairs:
        return None
    return paired_difference(
        [x.metrics[metric] for x, _ in pairs], [y.metrics[metric] for _, y in pairs]
    )


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
    return _paired(run, TUNED, PREVIOUS, metric, lambda _, previous: previous.known is True)


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


NEAR_PERFECT = 0.95  # a retrieval side this good on its own corpus's reworded questions


def caveats(c: Comparison) -> list[str]:
    """What limits the verdict: sides that failed on some questions score 0 on those; a
    declared cutoff the knowledge probe contradicts; a retrieval side near-perfect on questions
    reworded offline from its own corpus."""
    notes = []
    for side in c.summary.sides:
        if side.errors:
            total = side.answered + side.errors
            notes.append(
                f"{side.answerer} failed on {side.errors} of {total} questions "
                f"({side.first_error}); a failed answer scores 0, so fix the side before "
                "trusting its numbers"
            )
    notes += [f"{side_label(f.side)}: {f.mismatch}" for f in c.freshness if f.mismatch]
    notes += _easy_eval(c)
    return notes


def _easy_eval(c: Comparison) -> list[str]:
    """Offline rewording keeps a record's subject words, so retrieval finds its record almost
    by its own wording: a near-perfect score there says little about real users' questions."""
    offline = {i.id for i in c.run.items if i.reworded == "offline"}
    if len(offline) < max(5, len(c.run.items) // 2):
        return []
    metric = c.advice.inputs.metric
    notes = []
    for name in retrieval_sides(c.run.answerers):
        values = [
            s.metrics[metric]
            for s in c.run.for_answerer(name)
            if s.item_id in offline and metric in s.metrics
        ]
        if values and sum(values) / len(values) >= NEAR_PERFECT:
            notes.append(
                f"{side_label(name)} scores {sum(values) / len(values):.3f} {metric} on "
                f"{len(values)} questions reworded offline from its own corpus; the rules keep "
                "each record's subject words, so retrieval finds it almost by its own wording. "
                "For a harder test, reword through a model (make-eval --reword endpoint) or "
                "write questions by hand"
            )
    return notes
