"""What changed between two runs: per side, the questions fixed, broken and answered differently,
the metric's change with its paired interval, and the verdict and criteria that moved.

Runs over different eval sets are compared on the questions they share (the same text, date and
choices); the others are named. Sides are whatever the two runs asked.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from compare.comparison import Comparison
from compare.run import Scored
from compare.stats import Interval, paired_difference

RIGHT = 0.5  # a score at or above this counts as a right answer (0/1 metrics: right is 1)


class QuestionChange(BaseModel):
    """One question whose answer or score moved between the runs, for one side."""

    question: str
    before: str
    after: str
    score_before: float
    score_after: float
    reference_before: str = ""
    reference_after: str = ""  # the references differ when the eval set followed a changed fact


class SideDiff(BaseModel):
    """One side's change over the shared questions: B minus A."""

    side: str
    questions: int  # shared questions with a score in both runs
    before: float
    after: float
    change: Interval | None = None  # paired bootstrap over the shared questions
    fixed: list[QuestionChange] = Field(default_factory=list)  # wrong in A, right in B
    broken: list[QuestionChange] = Field(default_factory=list)  # right in A, wrong in B
    changed: list[QuestionChange] = Field(default_factory=list)  # another answer, same outcome


class CriterionChange(BaseModel):
    """An advice criterion whose status moved."""

    name: str
    before: str  # status in A ("absent" when A had no such criterion)
    after: str
    value_before: str = ""
    value_after: str = ""


class RunDiff(BaseModel):
    """Run B against run A."""

    a: str
    b: str
    eval_a: str
    eval_b: str
    metric: str
    right_at: float
    shared: int
    only_a: list[str] = Field(default_factory=list)  # questions only run A asked
    only_b: list[str] = Field(default_factory=list)
    sides: list[SideDiff] = Field(default_factory=list)
    sides_only_a: list[str] = Field(default_factory=list)
    sides_only_b: list[str] = Field(default_factory=list)
    verdict_a: str
    verdict_b: str
    headline_a: str
    headline_b: str
    criteria: list[CriterionChange] = Field(default_factory=list)

    @property
    def verdict_changed(self) -> bool:
        """True when the two runs reached different verdicts."""
        return self.verdict_a != self.verdict_b


def diff_runs(
    a: Comparison, b: Comparison, metric: str | None = None, right_at: float = RIGHT
) -> RunDiff:
    """Run B against run A on their shared questions (default metric: B's headline metric)."""
    metric = metric or b.advice.inputs.metric
    keys_a, keys_b = _keys(a), _keys(b)
    shared = [k for k in keys_b if k in keys_a]
    sides = [s for s in b.run.answerers if s in a.run.answerers]
    return RunDiff(
        a=a.run.run_id,
        b=b.run.run_id,
        eval_a=a.run.eval_name,
        eval_b=b.run.eval_name,
        metric=metric,
        right_at=right_at,
        shared=len(shared),
        only_a=[keys_a[k] for k in keys_a if k not in keys_b],
        only_b=[keys_b[k] for k in keys_b if k not in keys_a],
        sides=[_side(a, b, side, shared, metric, right_at) for side in sides],
        sides_only_a=[s for s in a.run.answerers if s not in b.run.answerers],
        sides_only_b=[s for s in b.run.answerers if s not in a.run.answerers],
        verdict_a=a.advice.verdict,
        verdict_b=b.advice.verdict,
        headline_a=a.advice.headline,
        headline_b=b.advice.headline,
        criteria=criteria_moved(a, b),
    )


def criteria_moved(a: Comparison, b: Comparison) -> list[CriterionChange]:
    """The criteria whose status differs between A and B, in B's order (then A's leftovers)."""
    before = {c.name: c for c in a.advice.criteria}
    after = {c.name: c for c in b.advice.criteria}
    moved = []
    for name in [*after, *[n for n in before if n not in after]]:
        x, y = before.get(name), after.get(name)
        if x is None or y is None or x.status != y.status:
            moved.append(
                CriterionChange(
                    name=name,
                    before=x.status if x else "absent",
                    after=y.status if y else "absent",
                    value_before=x.value if x else "",
                    value_after=y.value if y else "",
                )
            )
    return moved


def _references(c: Comparison) -> dict[str, str]:
    """Each question's identity -> its reference."""
    refs: dict[str, str] = {}
    for item in c.run.items:
        refs.setdefault(item.question_for_sides().key(), item.reference)
    return refs


def _keys(c: Comparison) -> dict[str, str]:
    """Each question's identity (text, date, choices) -> its text; the first of repeats wins."""
    keys: dict[str, str] = {}
    for item in c.run.items:
        keys.setdefault(item.question_for_sides().key(), item.question)
    return keys


def _rows(c: Comparison, side: str) -> dict[str, Scored]:
    """A side's results by question identity."""
    ids = {item.id: item.question_for_sides().key() for item in c.run.items}
    rows: dict[str, Scored] = {}
    for s in c.run.for_answerer(side):
        rows.setdefault(ids[s.item_id], s)
    return rows


def _side(
    a: Comparison, b: Comparison, side: str, shared: list[str], metric: str, right_at: float
) -> SideDiff:
    rows_a, rows_b = _rows(a, side), _rows(b, side)
    questions, refs_a, refs_b = _keys(b), _references(a), _references(b)
    before, after = [], []
    fixed, broken, changed = [], [], []
    for key in shared:
        x, y = rows_a.get(key), rows_b.get(key)
        if x is None or y is None:
            continue
        sx, sy = x.metrics.get(metric), y.metrics.get(metric)
        if sx is None or sy is None or math.isnan(sx) or math.isnan(sy):
            continue
        before.append(sx)
        after.append(sy)
        change = QuestionChange(
            question=questions[key],
            before=_text(x),
            after=_text(y),
            score_before=sx,
            score_after=sy,
            reference_before=refs_a[key],
            reference_after=refs_b[key],
        )
        if sx < right_at <= sy:
            fixed.append(change)
        elif sy < right_at <= sx:
            broken.append(change)
        elif change.before.strip() != change.after.strip():
            changed.append(change)
    return SideDiff(
        side=side,
        questions=len(before),
        before=_mean(before),
        after=_mean(after),
        change=paired_difference(after, before) if before else None,
        fixed=fixed,
        broken=broken,
        changed=changed,
    )


def _text(s: Scored) -> str:
    return s.answer.text if s.answer.ok else f"error: {s.answer.error}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def render_diff(d: RunDiff, shown: int = 5) -> str:
    """The diff as text for a terminal: verdict, criteria, then per side the counts and examples."""
    out = [f"run {d.b} ({d.eval_b}) against run {d.a} ({d.eval_a}), metric {d.metric}"]
    if d.verdict_changed:
        out.append(f"verdict changed: {d.verdict_a} -> {d.verdict_b}")
        out += [f"  before: {d.headline_a}", f"  after:  {d.headline_b}"]
    else:
        out.append(f"verdict unchanged: {d.headline_b}")
    for c in d.criteria:
        out.append(f"  criterion {c.name}: {_status(c.before)} -> {_status(c.after)}")
        if c.value_after:
            out.append(f"      now {c.value_after}")
    out.append(f"{d.shared} shared questions")
    for run, names in ((d.a, d.only_a), (d.b, d.only_b)):
        if names:
            out.append(f"{len(names)} questions only in {run}: " + "; ".join(names[:shown]))
            if len(names) > shown:
                out[-1] += f"; and {len(names) - shown} more"
    for side in d.sides_only_a:
        out.append(f"side {side} ran only in {d.a}")
    for side in d.sides_only_b:
        out.append(f"side {side} ran only in {d.b}")
    for s in d.sides:
        moved = f"{s.change}" if s.change else "n/a"
        out.append(
            f"{s.side}: {d.metric} {s.before:.3f} -> {s.after:.3f}, change {moved} on "
            f"{s.questions} questions; fixed {len(s.fixed)}, broken {len(s.broken)}, "
            f"answered differently {len(s.changed)}"
        )
        for kind, changes in (("fixed", s.fixed), ("broken", s.broken), ("changed", s.changed)):
            for q in changes[:shown]:
                line = f"    {kind}: {q.question!r}: {q.before!r} -> {q.after!r}"
                if q.reference_before != q.reference_after:
                    line += f" (reference {q.reference_before!r} -> {q.reference_after!r})"
                out.append(line)
    return "\n".join(out) + "\n"


def _status(status: str) -> str:
    return status.replace("_", " ")


def side_rows(d: RunDiff) -> list[dict[str, object]]:
    """One table row per side: before, after, the change with its interval, and the counts."""
    return [
        {
            "side": s.side,
            "questions": s.questions,
            f"{d.metric} before": round(s.before, 3),
            f"{d.metric} after": round(s.after, 3),
            "change [95% CI]": str(s.change) if s.change else "—",
            "fixed": len(s.fixed),
            "broken": len(s.broken),
            "answered differently": len(s.changed),
        }
        for s in d.sides
    ]


def question_rows(d: RunDiff) -> list[dict[str, object]]:
    """One row per side and question that moved: fixed, broken or answered differently."""
    return [
        {
            "side": s.side,
            "change": kind,
            "question": q.question,
            "before": q.before,
            "after": q.after,
            "reference before": q.reference_before,
            "reference after": q.reference_after,
            "score before": round(q.score_before, 3),
            "score after": round(q.score_after, 3),
        }
        for s in d.sides
        for kind, changes in (("fixed", s.fixed), ("broken", s.broken), ("changed", s.changed))
        for q in changes
    ]
