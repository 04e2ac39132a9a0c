"""CI gates on a run: a side's metric must reach a floor, and some verdicts must not come out.

`--fail-under SIDE:METRIC=VALUE` and `--fail-on-verdict VERDICT` on `compare run` and
`compare advise`. A gate that names a side or a metric the run does not have is an error that
lists what the run has, never a silent pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import get_args

from pydantic import BaseModel

from compare.advice import Verdict
from compare.comparison import Comparison
from compare.summary import COMPARED

RETRIEVAL = ("hit@1", "hit@5", "mrr")  # per-side retrieval scores (`SideStats.retrieval`)
METRICS = (*COMPARED, *RETRIEVAL)  # every metric a gate may name
VERDICTS: tuple[str, ...] = get_args(Verdict)


class GateError(ValueError):
    """A gate that cannot be checked: malformed, or naming something the run lacks."""


class Floor(BaseModel):
    """`SIDE:METRIC=VALUE`: the side's mean on the metric must be at least VALUE."""

    side: str
    metric: str
    value: float

    def __str__(self) -> str:
        return f"{self.side}:{self.metric}={self.value:g}"


def parse_floor(text: str) -> Floor:
    """Read one `--fail-under` value.

    >>> parse_floor("rag:token_f1=0.8")
    Floor(side='rag', metric='token_f1', value=0.8)
    """
    side, colon, rest = text.partition(":")
    metric, equals, number = rest.partition("=")
    if not (colon and equals and side.strip() and metric.strip()):
        raise GateError(f"--fail-under {text!r}: write SIDE:METRIC=VALUE, e.g. rag:token_f1=0.8")
    try:
        value = float(number)
    except ValueError:
        raise GateError(f"--fail-under {text!r}: {number!r} is not a number") from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise GateError(f"--fail-under {text!r}: every metric lies in 0..1; got {value}")
    metric = metric.strip()
    if metric not in METRICS:
        raise GateError(
            f"--fail-under {text!r}: no metric {metric!r}; choose from {', '.join(METRICS)}"
        )
    return Floor(side=side.strip(), metric=metric, value=value)


def parse_verdict(text: str) -> str:
    """Read one `--fail-on-verdict` value (a verdict name, e.g. `retune_now`)."""
    if text not in VERDICTS:
        raise GateError(
            f"--fail-on-verdict {text!r}: no such verdict; choose from {', '.join(VERDICTS)}"
        )
    return text


def check_sides(floors: Sequence[Floor], sides: Sequence[str]) -> None:
    """Before a run: every floor names a side that will be asked."""
    for floor in floors:
        if floor.side not in sides:
            raise GateError(
                f"--fail-under {floor}: the run asks no side {floor.side!r}; "
                f"its sides are {', '.join(sides)}"
            )


def measured(c: Comparison, floor: Floor) -> float:
    """The run's value for a floor's side and metric; GateError listing the choices if absent."""
    check_sides([floor], c.run.answerers)
    if floor.metric in RETRIEVAL:
        side = next(s for s in c.summary.sides if s.answerer == floor.side)
        present = dict(side.retrieval)
    else:
        present = {q.metric: q.overall.mean for q in c.summary.quality if q.answerer == floor.side}
    if floor.metric not in present:
        have = ", ".join(m for m in METRICS if m in present) or "none"
        raise GateError(
            f"--fail-under {floor}: run {c.run.run_id} has no {floor.metric!r} for "
            f"{floor.side!r}; it measured {have}"
        )
    return present[floor.metric]


def failed_gates(c: Comparison, floors: Sequence[Floor], verdicts: Sequence[str]) -> list[str]:
    """A line per gate that failed (empty: every gate passed); GateError for an unknown one."""
    failures = []
    for floor in floors:
        value = measured(c, floor)
        if value < floor.value:
            failures.append(f"{floor.side} {floor.metric} {value:.3f} is under {floor.value:g}")
    if c.advice.verdict in verdicts:
        failures.append(f"the verdict is {c.advice.verdict}: {c.advice.headline}")
    return failures
