"""One evaluation end to end: run, summarise, freshness, cost, advice, and keep it in the history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel

from compare.advice import AdviceInputs, AdviceSettings, advise
from compare.answer import Answerer
from compare.cost import PriceBook
from compare.costing import CostSettings, FixedInputs, price_run
from compare.evalset import EvalItem
from compare.freshness import Freshness, Knowledge, freshness
from compare.judge import Judge
from compare.metrics import Embed
from compare.report import Comparison
from compare.runner import Progress, RunContext, RunResult, run_eval
from compare.stats import Interval, paired_difference
from compare.store import Store
from compare.summary import FACT_METRIC, HEADLINE, RunSummary, summarise_run
from corpus import Record


class SideFacts(BaseModel):
    """What the manifests say about both sides, for freshness, cost and the advice."""

    index: Knowledge
    tuned: Knowledge
    previous_tuned: Knowledge | None = None
    training_records: int = 0  # records the current tuned model was trained on
    new_tokens: int = 0  # training tokens in the records the tuned model has not seen
    fixed: FixedInputs = FixedInputs()
    retune_hours: float = 0.0


def knowledge_by_answerer(facts: SideFacts) -> dict[str, list[Knowledge]]:
    """Which manifests tell what each answerer knows (tuned+RAG knows what either side knows)."""
    mapping = {
        "rag": [facts.index],
        "tuned": [facts.tuned],
        "tuned_rag": [facts.index, facts.tuned],
    }
    if facts.previous_tuned is not None:
        mapping["tuned_previous"] = [facts.previous_tuned]
    return mapping


def evaluate(
    items: Sequence[EvalItem],
    answerers: Sequence[Answerer],
    *,
    records: Sequence[Record],
    facts: SideFacts,
    book: PriceBook,
    cost: CostSettings,
    advice: AdviceSettings,
    configurations: dict[str, str] | None = None,
    store: Store | None = None,
    embed: Embed | None = None,
    judge: Judge | None = None,
    eval_name: str = "eval",
    progress: Progress | None = None,
) -> Comparison:
    """Ask, score, summarise, price and advise; the run is saved in the store's history."""
    context = RunContext(records={r.id: r for r in records}, knowledge=knowledge_by_answerer(facts))
    run = run_eval(
        items,
        answerers,
        configurations=configurations,
        context=context,
        store=store,
        embed=embed,
        judge=judge,
        eval_name=eval_name,
        progress=progress,
    )
    comparison = assess(run, records=records, facts=facts, book=book, cost=cost, advice=advice)
    if store is not None:
        store.save_run(
            run.run_id,
            run.started_at,
            eval_name,
            run.answerers,
            headline_numbers(comparison),
            [(s.item_id, s.answerer, s.answer, s.metrics) for s in run.scored],
        )
    return comparison


def assess(
    run: RunResult,
    *,
    records: Sequence[Record],
    facts: SideFacts,
    book: PriceBook,
    cost: CostSettings,
    advice: AdviceSettings,
) -> Comparison:
    """Everything derived from a run: summary, freshness, cost and advice (cheap: no model is asked)."""
    summary = summarise_run(run)
    views = [freshness(records, facts.index), freshness(records, facts.tuned)]
    priced = price_run(run, cost, facts.fixed, book)
    inputs = advice_inputs(run, summary, views[1], facts, priced.tuning_run_usd)
    return Comparison(
        run=run, summary=summary, freshness=views, cost=priced, advice=advise(inputs, advice)
    )


def advice_inputs(
    run: RunResult, summary: RunSummary, tuned_view: Freshness, facts: SideFacts, retune_usd: float
) -> AdviceInputs:
    """Gather the measured values each advice criterion needs."""
    # staleness shows in the figures a fact states; fall back to the headline without them
    numbers = summary.quality_of("tuned", FACT_METRIC)
    fact_metric = FACT_METRIC if numbers and numbers.known and numbers.unknown else HEADLINE
    tuned = summary.quality_of("tuned", fact_metric)
    tuned_rows = [s for s in run.for_answerer("tuned") if s.known is not None]
    gap = summary.gap
    return AdviceInputs(
        metric=HEADLINE,
        fact_metric=fact_metric,
        new_records=tuned_view.unknown,
        new_tokens=facts.new_tokens,
        training_records=facts.training_records,
        tuned_known=tuned.known.mean if tuned and tuned.known else None,
        tuned_unknown=tuned.unknown.mean if tuned and tuned.unknown else None,
        unknown_question_share=(sum(not s.known for s in tuned_rows) / len(tuned_rows))
        if tuned_rows
        else 0.0,
        rag_vs_tuned=(g.diff if (g := gap("rag", "tuned")) else None),
        tuned_rag_vs_rag=(g.diff if (g := gap("tuned_rag", "rag")) else None),
        tuned_rag_vs_tuned=(g.diff if (g := gap("tuned_rag", "tuned")) else None),
        retune_cost_usd=retune_usd,
        retune_hours=facts.retune_hours,
        forgetting=_forgetting(run),
    )


def _forgetting(run: RunResult) -> Interval | None:
    """New tuned model minus the previous one, on the questions the previous one knew."""
    if "tuned_previous" not in run.answerers:
        return None
    prev = {s.item_id: s for s in run.for_answerer("tuned_previous") if s.known}
    now = {s.item_id: s for s in run.for_answerer("tuned") if s.item_id in prev}
    ids = sorted(now)
    if not ids:
        return None
    return paired_difference(
        [now[i].metrics[HEADLINE] for i in ids], [prev[i].metrics[HEADLINE] for i in ids]
    )


def headline_numbers(c: Comparison) -> dict[str, float | str | None]:
    """The few numbers the run history keeps per run, to follow quality over time."""
    numbers: dict[str, float | str | None] = {"verdict": c.advice.verdict}
    for q in c.summary.quality:
        if q.metric == HEADLINE:
            numbers[f"{q.answerer}.{HEADLINE}"] = q.overall.mean
            numbers[f"{q.answerer}.{HEADLINE}.unseen"] = q.unknown.mean if q.unknown else None
    return numbers


def batches(records: Sequence[Record]) -> list[tuple[str, date | None, int]]:
    """(batch, date, records) per corpus batch, oldest first, for the timeline.

    A batch named by its date (`2026-03-01`) is placed there; otherwise at its oldest record.
    """
    seen: dict[str, list[Record]] = {}
    for r in records:
        seen.setdefault(r.batch or "-", []).append(r)
    rows = [(b, _batch_date(b, rs), len(rs)) for b, rs in seen.items()]
    return sorted(rows, key=lambda row: (row[1] or date.min, row[0]))


def _batch_date(batch: str, records: Sequence[Record]) -> date | None:
    try:
        return date.fromisoformat(batch[:10])
    except ValueError:
        return min((r.as_of for r in records if r.as_of), default=None)
