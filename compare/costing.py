"""Price a run: what each side costs per query, per 1k, per month, and where the sides break even."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from compare.cost import (
    MonthlyCost,
    PriceBook,
    SideCostModel,
    answer_cost,
    break_even_queries,
    machine_cost,
    monthly_cost,
    tuning_cost,
)
from compare.runner import RunResult


class CostSettings(BaseModel):
    """Which price entries each side is billed at, and the volume to plan for."""

    queries_per_month: int = Field(10_000, ge=0)
    retunes_per_month: float = Field(1.0, ge=0)
    rebuilds_per_month: float = Field(
        30.0, ge=0, description="index rebuilds (a nightly schedule: 30)"
    )
    rag_generator: str | None = Field(
        None, description="LLM that writes RAG answers; None = extractive"
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
    """What the manifests say a build and a tuning run took."""

    index_build_seconds: float = 0.0
    index_embedding_tokens: int = 0
    training_tokens: int = 0  # a re-tune on the current corpus, all epochs
    epochs: int = 1
    training_seconds: float = 0.0


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


def side_models(
    settings: CostSettings, fixed: FixedInputs, book: PriceBook
) -> dict[str, SideCostModel]:
    """How each answerer is priced, with the fixed costs from the manifests."""
    embedder = book.get(settings.rag_embedder)
    if embedder.local:
        build = machine_cost(fixed.index_build_seconds, book)
    else:
        build = fixed.index_embedding_tokens * embedder.input_per_1m / 1_000_000
    if settings.tuning_price:
        tune = tuning_cost(fixed.training_tokens, 1, book.get(settings.tuning_price))
    else:
        tune = machine_cost(fixed.training_seconds, book)
    return {
        "rag": SideCostModel(
            side="rag",
            generator=settings.rag_generator,
            embedder=settings.rag_embedder,
            index_build_usd=build,
        ),
        "tuned": SideCostModel(side="tuned", generator=settings.tuned_model, tuning_run_usd=tune),
        "tuned_rag": SideCostModel(
            side="tuned_rag",
            generator=settings.tuned_model,
            embedder=settings.rag_embedder,
            index_build_usd=build,
            tuning_run_usd=tune,
        ),
    }


def price_run(
    run: RunResult, settings: CostSettings, fixed: FixedInputs, book: PriceBook
) -> CostReport:
    """Per-query cost from each side's measured answers, monthly totals and break-even volumes."""
    models = side_models(settings, fixed, book)
    sides = []
    for name in run.answerers:
        model = models.get(name) or SideCostModel(side=name, generator=settings.tuned_model)
        answers = [s.answer for s in run.for_answerer(name) if s.answer.ok]
        embed_s = settings.embed_seconds_per_query if model.embedder else 0.0
        per_query = (
            float(np.mean([answer_cost(a, model, book, embed_s) for a in answers]))
            if answers
            else 0.0
        )
        month = monthly_cost(
            model,
            per_query,
            settings.queries_per_month,
            settings.retunes_per_month,
            settings.rebuilds_per_month,
        )
        sides.append(SideCost(model=model, monthly=month))
    even = {
        f"{a.model.side} vs {b.model.side}": break_even_queries(a.monthly, b.monthly)
        for a, b in combinations(sides, 2)
    }
    return CostReport(
        settings=settings,
        sides=sides,
        break_even=even,
        tuning_run_usd=models["tuned"].tuning_run_usd,
        index_build_usd=models["rag"].index_build_usd,
    )


def monthly_curve(report: CostReport, volumes: list[int]) -> list[dict[str, float | int | str]]:
    """Monthly total per side at each query volume, for the break-even chart."""
    rows: list[dict[str, float | int | str]] = []
    for side in report.sides:
        for volume in volumes:
            total = side.monthly.per_query_usd * volume + side.monthly.fixed_usd
            rows.append(
                {"side": side.model.side, "queries_per_month": volume, "usd_per_month": total}
            )
    return rows
