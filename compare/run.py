"""A run's data: every side's answer to every eval question, with its scores."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from answers import Answer
from compare.evalset import EvalItem


class Scored(BaseModel):
    """One answer to one eval question, with its scores."""

    item_id: str
    answerer: str
    answer: Answer
    metrics: dict[str, float] = Field(default_factory=dict)
    known: bool | None = None  # does this side know the record the question depends on?
    cached: bool = False


class RunResult(BaseModel):
    """A whole eval run."""

    run_id: str
    started_at: datetime
    eval_name: str
    answerers: list[str]
    items: list[EvalItem]
    scored: list[Scored]

    def for_answerer(self, name: str) -> list[Scored]:
        """This answerer's results, in item order."""
        return [s for s in self.scored if s.answerer == name]
