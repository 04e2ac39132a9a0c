"""The price book: every price with its source and date, and all price arithmetic.

API models are priced per 1M tokens; local models by machine time at the book's machine-hour rate
(the one place that rate is defined). It sits in the leaf package so that the tuning side's
manifests (a local run's machine time, a hosted job's billed tokens) and the comparison's costs
come from the same arithmetic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

PER_1M = 1_000_000
EDITABLE = ("input_per_1m", "output_per_1m", "training_per_1m", "local")


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

    def with_rows(self, rows: Iterable[Mapping[str, Any]]) -> PriceBook:
        """A copy with edited rows merged in: each row names its `entry` and may change the
        editable fields; missing or empty values keep the book's own.

        >>> book = PriceBook(entries={"m": Price(label="m", input_per_1m=1.0, source="s", date="d")})
        >>> book.with_rows([{"entry": "m", "input_per_1m": 2.5, "output_per_1m": None}]).get("m").input_per_1m
        2.5
        """
        entries = dict(self.entries)
        for row in rows:
            name = str(row["entry"])
            changes = {k: row[k] for k in EDITABLE if k in row and not _missing(row[k])}
            entries[name] = self.get(name).model_copy(update=changes)
        return self.model_copy(update={"entries": entries})


def _missing(value: Any) -> bool:
    """None, or a NaN from an edited table cell."""
    return value is None or (isinstance(value, float) and value != value)


def per_million(tokens: int, usd_per_1m: float) -> float:
    """USD for `tokens` at a price per 1M tokens.

    >>> per_million(250_000, 2.0)
    0.5
    """
    return tokens * usd_per_1m / PER_1M


def hourly(seconds: float, usd_per_hour: float) -> float:
    """USD for `seconds` at an hourly rate.

    >>> hourly(1800, 0.10)
    0.05
    """
    return seconds / 3600 * usd_per_hour


def token_cost(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for one call priced per token.

    >>> token_cost(Price(label="m", input_per_1m=0.3, output_per_1m=1.2, source="s", date="d"), 1000, 100)
    0.00042
    """
    return (prompt_tokens * price.input_per_1m + completion_tokens * price.output_per_1m) / PER_1M


def training_cost(price: Price, tokens: int) -> float:
    """USD for hosted tuning: billed training tokens (dataset tokens × epochs) at the entry's
    training price.

    >>> training_cost(Price(label="ft", training_per_1m=3.0, source="s", date="d"), 2_000_000)
    6.0
    """
    return per_million(tokens, price.training_per_1m or 0.0)


def machine_cost(seconds: float, book: PriceBook) -> float:
    """USD for machine time at the book's hourly rate."""
    return hourly(seconds, book.machine_hour_usd)


def call_cost(
    price: Price, book: PriceBook, prompt_tokens: int, completion_tokens: int, seconds: float
) -> float:
    """A call's cost: by tokens for an API model, by time for a local one."""
    if price.local:
        return machine_cost(seconds, book)
    return token_cost(price, prompt_tokens, completion_tokens)
