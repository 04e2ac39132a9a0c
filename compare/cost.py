"""What each side costs: per answer, per query, per month, and where two sides break even.

Cost is arithmetic on measured tokens and seconds (`answers.prices` holds the prices). Every
answer's `cost_usd` and every report figure come from `answer_cost` under one `CostSettings`, so the
Ask tab, the run and the report never disagree.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from answers import Answer
from answers.prices import PER_1M, PriceBook, call_cost, machine_cost, training_cost
from compare.run import RunResult
from compare.side_table import SIDE_TABLE, Writer, side_for


class CostSettings(BaseModel):
    """Which price entries each side is billed at, and the volume to plan for."""

    queries_per_month: int = Field(10_000, ge=0)
    retunes_per_month: float = Field(1.0, ge=0)
    rebuilds_per_month: float = Field(
        30.0, ge=0, description="index rebuilds (a nightly schedule: 30)"
    )
    base_model: str = Field(
        "local-smollm2-135m",
        description="price entry of the base model that writes the base and base + RAG sides "
        "(e.g. gpt-4o-mini beside a gpt-4o-mini-ft tuned model)",
    )
    rag_embedder: str = "local-minilm-embedder"
    tuned_model: str = Field(
        "local-smollm2-135m",
        description="price entry of the tuned model (and of the model a re-tune replaces)",
    )
    tuning_price: str | None = Field(
        None, description="hosted tuning price entry; None = local machine time"
    )
    embed_seconds_per_query: float = Field(
        0.01, ge=0, description="query embedding time (measured in bench/)"
    )

    def writer_entry(self, writer: Writer) -> str | None:
        """The price entry of the model a side's answers are written by (None: no model)."""
        return {
            "base": self.base_model,
            "tuned": self.tuned_model,
            "previous": self.tuned_model,
        }.get(writer)


class FixedInputs(BaseModel):
    """What the manifests say a build and a re-tune take."""

    index_build_seconds: float = 0.0
    index_embedding_tokens: int = 0
    training_tokens: int = 0  # a re-tune on the current corpus, all epochs
    training_seconds: float = 0.0


class SideCostModel(BaseModel):
    """How one side is priced: the model behind it, the embedder, and its fixed costs."""

    side: str
    generator: str | None = None  # price entry of the LLM that writes the answer (None: extractive)
    embedder: str | None = None  # price entry of the query embedder (RAG sides)
    index_build_usd: float = 0.0  # one full index build
    tuning_run_usd: float = 0.0  # one tuning run


def side_models(
    settings: CostSettings, fixed: FixedInputs, book: PriceBook
) -> dict[str, SideCostModel]:
    """How every side of the table is priced: its writer's price entry, the query embedder when
    it retrieves, and the fixed costs it carries (an index build when it retrieves, a tuning run
    when the tuned model writes it)."""
    embedder = book.get(settings.rag_embedder)
    if embedder.local:
        build = machine_cost(fixed.index_build_seconds, book)
    else:
        build = fixed.index_embedding_tokens * embedder.input_per_1m / PER_1M
    tune = tuning_run_cost(settings, fixed, book)
    return {
        spec.name: SideCostModel(
            side=spec.name,
            generator=settings.writer_entry(spec.writer),
            embedder=settings.rag_embedder if spec.retrieves else None,
            index_build_usd=build if spec.retrieves else 0.0,
            tuning_run_usd=tune if spec.uses_tuned_model else 0.0,
        )
        for spec in SIDE_TABLE
    }


def tuning_run_cost(settings: CostSettings, fixed: FixedInputs, book: PriceBook) -> float:
    """One tuning run: hosted tuning bills training tokens × epochs at its entry; a local run
    costs its measured machine time."""
    if settings.tuning_price:
        return training_cost(book.get(settings.tuning_price), fixed.training_tokens)
    return machine_cost(fixed.training_seconds, book)


def answer_cost(
    answer: Answer, model: SideCostModel, book: PriceBook, embed_seconds: float = 0.0
) -> float:
    """The cost of one measured answer under a side's price model (a failed answer costs 0)."""
    if not answer.ok:
        return 0.0
    embed_seconds = embed_seconds if model.embedder else 0.0
    usage, cost = answer.usage, 0.0
    if model.generator:
        # a local model is billed for the time it worked on this answer, not the time the
        # answer waited for it while it worked on others
        seconds = max(answer.answering_s - embed_seconds, 0.0)
        price = book.get(model.generator)
        cost += call_cost(price, book, usage.prompt_tokens, usage.completion_tokens, seconds)
    if model.embedder:
        price = book.get(model.embedder)
        cost += call_cost(price, book, usage.embedding_tokens, 0, embed_seconds)
    return cost


class MonthlyCost(BaseModel):
    """A month for one side at a query volume and a re-tune / rebuild cadence."""

    side: str
    per_query_usd: float
    per_1k_usd: float
    queries: int
    query_usd: float
    fixed_usd: float
    total_usd: float


def monthly_cost(model: SideCostModel, per_query_usd: float, settings: CostSettings) -> MonthlyCost:
    """Queries × per-query cost plus re-tunes and index rebuilds at their cadence."""
    fixed = (
        settings.retunes_per_month * model.tuning_run_usd
        + settings.rebuilds_per_month * model.index_build_usd
    )
    query_usd = per_query_usd * settings.queries_per_month
    return MonthlyCost(
        side=model.side,
        per_query_usd=per_query_usd,
        per_1k_usd=per_query_usd * 1000,
        queries=settings.queries_per_month,
        query_usd=query_usd,
        fixed_usd=fixed,
        total_usd=query_usd + fixed,
    )


def break_even_queries(a: MonthlyCost, b: MonthlyCost) -> float | None:
    """Monthly query volume at which sides a and b cost the same; None when they never cross.

    >>> cheap = MonthlyCost(side="a", per_query_usd=0.002, per_1k_usd=2, queries=0, query_usd=0, fixed_usd=0, total_usd=0)
    >>> fixed = MonthlyCost(side="b", per_query_usd=0.001, per_1k_usd=1, queries=0, query_usd=0, fixed_usd=50, total_usd=50)
    >>> round(break_even_queries(cheap, fixed))
    50000
    """
    slope = a.per_query_usd - b.per_query_usd
    if slope == 0:
        return None
    volume = (b.fixed_usd - a.fixed_usd) / slope
    return volume if volume > 0 else None


class SideCost(BaseModel):
    """One side's measured per-query cost and its month."""

    model: SideCostModel
    monthly: MonthlyCost


class CostReport(BaseModel):
    """Costs per side and the break-even volume for every pair."""

    settings: CostSettings
    sides: list[SideCost]
    break_even: dict[str, float | None] = Field(default_factory=dict)  # "a vs b" -> queries/month
    tuning_run_usd: float = 0.0
    index_build_usd: float = 0.0


def price_run(
    run: RunResult,
    settings: CostSettings,
    fixed: FixedInputs,
    book: PriceBook,
) -> tuple[RunResult, CostReport]:
    """Every answer priced (`cost_usd`), then per-query means, monthly totals and break-even."""
    models = side_models(settings, fixed, book)
    embed_s = settings.embed_seconds_per_query
    scored = []
    for s in run.scored:
        model = models.get(s.answerer) or SideCostModel(
            side=s.answerer, generator=settings.tuned_model
        )
        cost = answer_cost(s.answer, model, book, embed_s)
        scored.append(
            s.model_copy(update={"answer": s.answer.model_copy(update={"cost_usd": cost})})
        )
    priced = run.model_copy(update={"scored": scored})
    sides = []
    for name in run.answerers:
        model = models.get(name) or SideCostModel(side=name, generator=settings.tuned_model)
        costs = [s.answer.cost_usd for s in priced.for_answerer(name) if s.answer.ok]
        per_query = float(np.mean(costs)) if costs else 0.0
        sides.append(SideCost(model=model, monthly=monthly_cost(model, per_query, settings)))
    even = {
        f"{a.model.side} vs {b.model.side}": break_even_queries(a.monthly, b.monthly)
        for a, b in combinations(sides, 2)
    }
    report = CostReport(
        settings=settings,
        sides=sides,
        break_even=even,
        tuning_run_usd=tuning_run_cost(settings, fixed, book),
        index_build_usd=max(m.index_build_usd for m in models.values()),
    )
    return priced, report


class Crossing(BaseModel):
    """Where two sides cost the same per month, and which one is cheaper above that volume."""

    a: str
    b: str
    volume: float | None  # queries/month; None: one side is cheaper at every volume
    cheaper_above: str | None = None


def crossings(report: CostReport) -> list[Crossing]:
    """Every pair's break-even, the tuned model against the base model with retrieval first
    (the trade-off a team weighs: short prompts at tuned prices plus training, or passages in
    every prompt at base prices)."""
    per_query = {x.model.side: x.monthly.per_query_usd for x in report.sides}
    out = []
    for pair, volume in report.break_even.items():
        a, _, b = pair.partition(" vs ")
        cheaper = None if volume is None else (a if per_query[a] < per_query[b] else b)
        out.append(Crossing(a=a, b=b, volume=volume, cheaper_above=cheaper))
    weighed = {side_for("tuned", retrieves=False), side_for("base", retrieves=True)}
    return sorted(out, key=lambda x: {x.a, x.b} != weighed)


def monthly_curve(report: CostReport, volumes: list[int]) -> list[dict[str, float | int | str]]:
    """Monthly total per side at each query volume, for the break-even chart."""
    return [
        {
            "side": side.model.side,
            "queries_per_month": volume,
            "usd_per_month": side.monthly.per_query_usd * volume + side.monthly.fixed_usd,
        }
        for side in report.sides
        for volume in volumes
    ]
