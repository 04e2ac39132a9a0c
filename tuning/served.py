"""The chat models one server answers to: the base model and adapters of it, sharing one copy of
the weights, each under its own id; a request's `model` picks one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tuning.errors import TuningError
from tuning.limits import Refused


@dataclass(frozen=True)
class Variant:
    """One served chat model: its id and the PEFT adapter that answers as it (None: the loaded
    model with every adapter switched off, i.e. the base model, or a model loaded merged)."""

    id: str
    adapter: str | None = None


class ServedModels:
    """The served chat ids in order; the first answers requests that name no model."""

    def __init__(self, variants: Sequence[Variant]) -> None:
        if not variants:
            raise TuningError("no chat model to serve — give --adapter DIR|none, without --no-base")
        ids = [v.id for v in variants]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise TuningError(
                f"served ids must differ: {', '.join(repeated)} twice — name them with "
                "--adapter NAME=DIR or --base-name NAME"
            )
        self.variants = list(variants)

    @classmethod
    def single(cls, name: str) -> ServedModels:
        """One id for the model as loaded."""
        return cls([Variant(name)])

    @property
    def ids(self) -> list[str]:
        """Every served id, the default first."""
        return [v.id for v in self.variants]

    def pick(self, requested: str | None) -> Variant:
        """The variant a request names (none named: the default); 404 for an id not served.

        >>> served = ServedModels([Variant("tuned", "adapter0"), Variant("base")])
        >>> served.pick(None).id, served.pick("base").adapter
        ('tuned', None)
        """
        if not requested:
            return self.variants[0]
        for variant in self.variants:
            if variant.id == requested:
                return variant
        served = ", ".join(repr(i) for i in self.ids)
        message = f"model {requested[:200]!r} not served here; this server serves {served}"
        raise Refused(404, message, "model_not_found")


@contextmanager
def answering_as(model: Any, variant: Variant) -> Iterator[None]:
    """Switch a PEFT model to the variant's adapter, or switch its adapters off for the base.

    Not merged: a switch is then free and exact, where merging costs a pass over the weights per
    switch and leaves rounding behind (`bench/tuning_bench.py` measures both); the gate runs one
    job at a time, so a switch never changes the model under another request.
    """
    if not hasattr(model, "disable_adapter"):  # a plain model: it answers as loaded
        yield
    elif variant.adapter is None:
        with model.disable_adapter():
            yield
    else:
        model.set_adapter(variant.adapter)
        yield
