"""What each side costs: per answer, per query, per month, and where two sides break even.

Cost is arithmetic on measured tokens and seconds (`compare.price_book` holds the prices). Every
answer's `cost_usd` and every report figure come from `answer_cost` under one `CostSettings`, so the
Ask tab, the run and the report never disagree.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from answers import Answer
from compare.price_book import PER_1M, PriceBook, call_cost, machine_cost
from compare.run import RunResult


class CostSettings(BaseModel):
    """Which price entries each side is billed at, and the volume to plan for."""

    queries_per_month: int = Field(10_000, ge=0)
    retunes_per_month: float = Field(1.0, ge=0)
    rebuilds_per_month: float = Field(
        30.0, ge=0, description="index rebuilds (a nightly schedule: 30)"
    )
    rag_generator: str | None = Field(
        None,
        description="LLM that writes RAG answers; None = extractive, or the tuned model's entry "
        "when RAG answers are generated through the tuning endpoint",
    )
    rag_embedder: str = "local-minilm-embedder"
    tuned_model: str = "local-smollm2-135m"
    tuning_price: str | None = Field(
        None, description="hosted tuning price entry; None = local machine time"
    )
    embed_seconds_per_query: float = Field(
        0.01, ge=0, description="query embedding time (measured in bench/)"
    )


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
    settings: CostSettings, fixed: FixedInputs, book: PriceBook, *, rag_generative: bool = False
) -> dict[str, SideCostModel]:
    """How each answerer is priced, with the fixed costs from the manifests.

    Generative RAG calls an LLM for every answer: it is billed at `rag_generator`, or at the tuned
    model's entry when none is named (the tuning endpoint writes those answers).
    """
    embedder = book.get(settings.rag_embedder)
    if embedder.local:
        build = machine_cost(fixed.index_build_seconds, book)
    else:
        build = fixed.index_embedding_tokens * embedder.input_per_1m / PER_1M
    if settings.tuning_price:
        price = book.get(settings.tuning_price).training_per_1m or 0.0
        tune = fixed.training_tokens * price / PER_1M  # hosted tuning bills tokens × epochs
    else:
        tune = machine_cost(fixed.training_seconds, book)
    rag_generator = settings.rag_generator or (settings.tuned_model if rag_generative else None)
    tuned = SideCostModel(side="tuned", generator=settings.tuned_model, tuning_run_usd=tune)
    return {
        "rag": SideCostModel(
            side="rag",
            generator=rag_generator,
            embedder=settings.rag_embedder,
            index_build_usd=build,
        ),
        "tuned": tuned,
        "tuned_previous": tuned.model_copy(update={"side": "tuned_previous"}),
        "tuned_rag": SideCostModel(
            side="tuned_rag",
            generator=settings.tuned_model,
            embedder=settings.rag_embedder,
            index_build_usd=build,
            tuning_run_usd=tune,
        ),
    }


def answer_cost(
    answer: Answer, model: SideCostModel, book: PriceBook, embed_seconds: float = 0.0
) -> float:
    """The cost of one measured answer under a side's price model (a failed answer costs 0)."""
    if not answer.ok:
        return 0.0
    embed_seconds = embed_seconds if model.embedder else 0.0
    usage, cost = answer.usage, 0.0
    if model.generator:
        seconds = max(answer.latency_s - embed_seconds, 0.0)
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
    *,
    rag_generative: bool = False,
) -> tuple[RunResult, CostReport]:
    """Every answer priced (`cost_usd`), then per-query means, monthly totals and break-even."""
    models = side_models(settings, fixed, book, rag_generative=rag_generative)
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
        tuning_run_usd=models["tuned"].tuning_run_usd,
        index_build_usd=models["rag"].index_build_usd,
    )
    return priced, report


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
