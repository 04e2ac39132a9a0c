"""The re-tune alarm: did this run's verdict differ from the last run on the same questions?

The baseline is the newest earlier run in the history over the same eval set with the same sides;
the change names the verdicts and the criteria whose status moved, and becomes the JSON message a
webhook receives (Slack-compatible `text`, plus structured fields).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from compare.advice import TITLES
from compare.comparison import Comparison
from compare.diff import CriterionChange, criteria_moved
from compare.runs_db import RunsDatabase


class VerdictChange(BaseModel):
    """This run's verdict against its baseline's (none: the first run on these questions)."""

    run_id: str
    eval_name: str
    verdict: str
    headline: str
    previous_run: str | None = None
    previous_verdict: str | None = None
    previous_headline: str = ""
    criteria: list[CriterionChange] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when there was a baseline and its verdict differs."""
        return self.previous_run is not None and self.previous_verdict != self.verdict

    def summary(self) -> str:
        """One line for a log: the change, or that nothing changed."""
        if self.previous_run is None:
            return f"first run on {self.eval_name}: {self.headline}"
        if not self.changed:
            return f"verdict unchanged since run {self.previous_run}: {self.headline}"
        before = TITLES.get(self.previous_verdict or "", self.previous_verdict)
        return f"verdict changed: {before} -> {self.headline}"


def baseline(db: RunsDatabase, now: Comparison) -> Comparison | None:
    """The newest run before `now` over the same eval set and the same sides, as stored."""
    earlier = [
        r
        for r in db.runs()
        if r.run_id != now.run.run_id
        and r.started_at <= now.run.started_at
        and r.eval_name == now.run.eval_name
        and sorted(r.answerers) == sorted(now.run.answerers)
    ]
    for record in reversed(earlier):
        text = db.comparison_json(record.run_id)
        if text is not None:
            return Comparison.model_validate_json(text)
    return None


def verdict_change(previous: Comparison | None, now: Comparison) -> VerdictChange:
    """What moved between the baseline and this run."""
    change = VerdictChange(
        run_id=now.run.run_id,
        eval_name=now.run.eval_name,
        verdict=now.advice.verdict,
        headline=now.advice.headline,
    )
    if previous is None:
        return change
    return change.model_copy(
        update={
            "previous_run": previous.run.run_id,
            "previous_verdict": previous.advice.verdict,
            "previous_headline": previous.advice.headline,
            "criteria": criteria_moved(previous, now),
        }
    )


def message(change: VerdictChange, now: Comparison) -> dict[str, Any]:
    """The webhook's JSON: a `text` a chat webhook shows as it is, and the same as fields."""
    metric = now.advice.inputs.metric
    moved = [
        f"{c.name}: {c.before.replace('_', ' ')} -> {c.after.replace('_', ' ')}"
        for c in change.criteria
    ]
    lines = [f"rag-or-tune on {change.eval_name}: {change.summary()}"]
    if moved:
        lines.append("Criteria that moved: " + "; ".join(moved))
    return {
        "text": "\n".join(lines),
        "event": "verdict_changed" if change.changed else "verdict_checked",
        "run_id": change.run_id,
        "previous_run_id": change.previous_run,
        "eval": change.eval_name,
        "verdict": {"before": change.previous_verdict, "after": change.verdict},
        "headline": {"before": change.previous_headline, "after": change.headline},
        "criteria_moved": [c.model_dump() for c in change.criteria],
        "metric": metric,
        "quality": {
            q.answerer: round(q.overall.mean, 4) for q in now.summary.quality if q.metric == metric
        },
    }
