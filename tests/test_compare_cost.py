"""Prices and monthly cost (answers.prices, compare.cost) checked against worked examples."""

from __future__ import annotations

import pytest

from answers.prices import PriceBook, machine_cost, token_cost
from compare.cost import (
    CostSettings,
    FixedInputs,
    MonthlyCost,
    SideCostModel,
    break_even_queries,
    monthly_cost,
    side_models,
)
from tests.conftest import ROOT


def test_cost_worked_examples() -> None:
    book = PriceBook.load(ROOT / "data" / "prices.json")
    mini = book.get("gpt-4o-mini-ft")
    # 1,000 in × $0.30/1M + 200 out × $1.20/1M = $0.0003 + $0.00024
    assert token_cost(mini, 1000, 200) == pytest.approx(0.00054)
    # 100k dataset tokens × 3 epochs × $3/1M
    hosted = CostSettings(tuning_price="gpt-4o-mini-ft")
    models = side_models(hosted, FixedInputs(training_tokens=300_000), book)
    assert models["tuned"].tuning_run_usd == pytest.approx(0.90)
    # 36 s of machine time at $0.10/h
    assert machine_cost(36, book) == pytest.approx(0.001)
    for entry in book.entries.values():
        assert entry.source and entry.date


def test_monthly_and_break_even() -> None:
    plan = CostSettings(queries_per_month=10_000, retunes_per_month=0, rebuilds_per_month=4)
    rag = monthly_cost(SideCostModel(side="rag", index_build_usd=1.0), 0.002, plan)
    plan = plan.model_copy(update={"retunes_per_month": 1, "rebuilds_per_month": 0})
    tuned = monthly_cost(SideCostModel(side="tuned", tuning_run_usd=50.0), 0.001, plan)
    assert (rag.total_usd, tuned.total_usd) == pytest.approx((24.0, 60.0))
    # 0.002 V + 4 = 0.001 V + 50 -> V = 46,000
    assert break_even_queries(rag, tuned) == pytest.approx(46_000)
    same_slope = MonthlyCost(
        side="x",
        per_query_usd=0.002,
        per_1k_usd=2,
        queries=1,
        query_usd=0,
        fixed_usd=0,
        total_usd=0,
    )
    assert break_even_queries(rag, same_slope) is None
