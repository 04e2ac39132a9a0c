"""Cost as arithmetic on measured tokens and seconds: per query, fixed, monthly, and break-even.

API models are priced per 1M tokens from the price book; local models by machine time at the
book's machine-hour rate. Every figure can be traced to a price entry with its source and date.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from compare.answer import Answer

PER_1M = 1_000_000


class Price(BaseModel):
    """One price book entry."""

    label: str
    input_per_1m: float = 0.0
    cached_input_per_1m: float | None = None
    output_per_1m: float = 0.0
    training_per_1m: float | None = None
    hour_usd: float | None = None
    local: bool = False
    unconfirmed: bool = False
    source: str
    date: str


class PriceBook(BaseModel):
    """Prices with their sources; `machine_hour_usd` prices local models by time."""

    about: str = ""
    machine_hour_usd: float = 0.10
    entries: dict[str, Price] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PriceBook:
        """Read a price book JSON file."""
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: Path) -> None:
        """Write the price book back (after edits in the app)."""
        path.write_text(self.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")

    def get(self, key: str) -> Price:
        """The entry for `key`, or a clear KeyError listing the choices."""
        if key not in self.entries:
            raise KeyError(f"no price entry {key!r}; the price book has {', '.join(self.entries)}")
        return self.entries[key]


def token_cost(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for one call priced per token."""
    return (prompt_tokens * price.input_per_1m + completion_tokens * price.output_per_1m) / PER_1M


def machine_cost(seconds: float, book: PriceBook) -> float:
    """USD for machine time at the book's hourly rate."""
    return seconds / 3600 * book.machine_hour_usd


def call_cost(
    price: Price, book: PriceBook, prompt_tokens: int, completion_tokens: int, seconds: float
) -> float:
    """A call's cost: by tokens for an API model, by time for a local one."""
    if price.local:
        return machine_cost(seconds, book)
    return token_cost(price, prompt_tokens, completion_tokens)


class SideCostModel(BaseModel):
    """How one side is priced: the model behind it, the embedder, and its fixed costs."""

    side: str
    generator: str | None = None  # price entry of the LLM that writes the answer (None: extractive)
    embedder: str | None = None  # price entry of the query embedder (RAG sides)
    index_build_usd: float = 0.0  # one full index build
    tuning_run_usd: float = 0.0  # one tuning run


def answer_cost(
    answer: Answer, model: SideCostModel, book: PriceBook, embed_seconds: float = 0.0
) -> float:
    """The cost of one measured answer under a side's price model."""
    cost = 0.0
    if model.generator:
        gen_seconds = max(answer.latency_s - embed_seconds, 0.0)
        cost += call_cost(
            book.get(model.generator),
            book,
            answer.prompt_tokens,
            answer.completion_tokens,
            gen_seconds,
        )
    if model.embedder:
        cost += call_cost(book.get(model.embedder), book, answer.embedding_tokens, 0, embed_seconds)
    return cost


def tuning_cost(training_tokens: int, epochs: int, price: Price) -> float:
    """A hosted tuning run: dataset tokens × epochs × the training price (OpenAI bills it so)."""
    return training_tokens * epochs * (price.training_per_1m or 0.0) / PER_1M


class MonthlyCost(BaseModel):
    """A month for one side at a query volume and a re-tune / rebuild cadence."""

    side: str
    per_query_usd: float
    per_1k_usd: float
    queries: int
    query_usd: float
    fixed_usd: float
    total_usd: float


def monthly_cost(
    model: SideCostModel,
    per_query_usd: float,
    queries_per_month: int,
    retunes_per_month: float,
    rebuilds_per_month: float,
) -> MonthlyCost:
    """Queries × per-query cost plus re-tunes and index rebuilds at their cadence."""
    fixed = retunes_per_month * model.tuning_run_usd + rebuilds_per_month * model.index_build_usd
    query_usd = per_query_usd * queries_per_month
    return MonthlyCost(
        side=model.side,
        per_query_usd=per_query_usd,
        per_1k_usd=per_query_usd * 1000,
        queries=queries_per_month,
        query_usd=query_usd,
        fixed_usd=fixed,
        total_usd=query_usd + fixed,
    )


def break_even_queries(a: MonthlyCost, b: MonthlyCost) -> float | None:
    """Monthly query volume at which sides a and b cost the same; None when they never cross.

    Example: a = $0.002/query + $0 fixed, b = $0.001/query + $50 fixed -> 50,000 queries.
    """
    slope = a.per_query_usd - b.per_query_usd
    if slope == 0:
        return None
    volume = (b.fixed_usd - a.fixed_usd) / slope
    return volume if volume > 0 else None
