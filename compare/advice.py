"""The advice: a verdict that names its measured reason (better, fresher, cheaper), or says the
evidence is not enough and how many more questions would settle it.

The last step of a run (ask → score → summarise → price → advise). `advise` is the whole decision
table, in order of precedence; every number it uses is in `AdviceInputs`, every criterion in
`compare.criteria`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from compare.criteria import AdviceInputs, AdviceSettings, Criterion, criteria, quality_drop
from compare.stats import Interval, questions_needed

__all__ = ["Advice", "AdviceInputs", "AdviceSettings", "Criterion", "Verdict", "advise"]

Verdict = Literal[
    "keep_rag",
    "retune_now",
    "keep_model",
    "combine",
    "do_not_ship",
    "not_enough_evidence",
    "cannot_judge_staleness",
    "incomplete",
]
TITLES: dict[str, str] = {
    "keep_rag": "Keep RAG",
    "retune_now": "Re-tune now",
    "keep_model": "Keep the current tuned model",
    "combine": "Combine: the tuned model with retrieved sources",
    "do_not_ship": "Do not ship the re-tuned model",
    "not_enough_evidence": "Not enough evidence",
    "cannot_judge_staleness": "The eval cannot judge staleness",
    "incomplete": "No verdict",
}


class Advice(BaseModel):
    """The verdict and every number behind it."""

    verdict: Verdict
    headline: str
    reasons: list[str]
    criteria: list[Criterion]
    inputs: AdviceInputs
    settings: AdviceSettings
    further_questions: int | None = None  # for "not enough evidence": how many more would settle it


def advise(i: AdviceInputs, s: AdviceSettings) -> Advice:
    """Apply the decision table in order of precedence and explain the verdict."""
    c = {k.name: k for k in criteria(i, s)}

    def done(verdict: Verdict, why: str, *reasons: str, more: int | None = None) -> Advice:
        return Advice(
            verdict=verdict,
            headline=f"{TITLES[verdict]}: {why}",
            reasons=[r for r in reasons if r],
            criteria=list(c.values()),
            inputs=i,
            settings=s,
            further_questions=more,
        )

    # 1. a side that failed everywhere gets no verdict about it
    if i.failed_sides:
        failed = ", ".join(i.failed_sides)
        return done("incomplete", f"{failed} failed on every question; fix it and run again")
    # 2. a re-tuned model that forgot what the current one knew
    if c["forgetting"].status == "not_met":
        return done("do_not_ship", "it forgot what the current model knows", c["forgetting"].value)
    deciding = _deciding_gap(i)
    if deciding is None:
        return done("incomplete", "only one side ran; run RAG and the tuned model side by side")
    pair, gap = deciding
    # 3. the combination beats both sides, beyond noise, on enough questions
    more = _further_questions(gap, s)
    if c["combination_wins"].met and gap.n >= s.min_questions:
        return done("combine", "better than either side alone", c["combination_wins"].value)
    # 4. too few questions, or a gap within noise that more questions could still resolve
    if gap.n < s.min_questions or (not gap.excludes_zero and more > 0):
        return done(
            "not_enough_evidence",
            f"{pair} differ by {gap} on {gap.n} questions; about {max(more, 1):,} more would settle it",
            f"to detect a difference of {s.smallest_difference:.2f} in {i.metric} at 95% "
            f"confidence and 80% power takes about {gap.n + more:,} paired questions",
            more=max(more, 1),
        )
    needed = [k for k in ("new_data", "stale_on_new_facts", "task_changed") if c[k].met]
    justified = all(c[k].met for k in ("affordable", "fast_enough")) and (
        c["worth_it"].met or c["task_changed"].met
    )
    retune_why = f"re-tune called for by {_names(needed)}" if needed else ""
    # 5. retrieval is better
    if c["retrieval_wins"].met:
        if needed and justified and _closes_gap(i):
            return done("retune_now", "fresher facts are worth a re-tune", retune_why)
        blocked = _blocked(c) if needed else ""
        return done("keep_rag", _rag_reason(i), c["retrieval_wins"].value, retune_why, blocked)
    # 6. the tuned model is better (or they are equal within the smallest difference that matters)
    if c["eval_covers_new_facts"].status == "not_met":
        return done(
            "cannot_judge_staleness",
            f"it asks nothing about the {i.new_records:,} records newer than the model's cutoff",
            "add questions about the newer records (python -m compare make-eval writes some)",
        )
    if needed:
        if justified:
            return done("retune_now", "enough has changed since the cutoff", retune_why)
        return done("keep_rag", "RAG serves the new facts at query time", retune_why, _blocked(c))
    if c["tuned_wins"].met:
        return done("keep_model", "it answers better and little is new", c["tuned_wins"].value)
    return done("keep_model" if _cheaper(i) == "tuned" else "keep_rag", _equal_reason(i, s))


def _deciding_gap(i: AdviceInputs) -> tuple[str, Interval] | None:
    """The comparison the verdict rests on: RAG vs tuned, else whatever pair ran."""
    for pair, gap in (
        ("RAG and the tuned model", i.rag_vs_tuned),
        ("tuned+RAG and RAG", i.tuned_rag_vs_rag),
        ("tuned+RAG and the tuned model", i.tuned_rag_vs_tuned),
    ):
        if gap is not None:
            return pair, gap
    return None


def _further_questions(gap: Interval, s: AdviceSettings) -> int:
    """Questions beyond those asked to detect the smallest difference that matters."""
    needed = max(questions_needed(gap.sd, s.smallest_difference), s.min_questions)
    return max(needed - gap.n, 0)


def _closes_gap(i: AdviceInputs) -> bool:
    """A re-tune is expected to close RAG's lead: the lead lies on the facts the model has not seen."""
    drop, share = quality_drop(i), i.unknown_question_share
    if drop is None or share is None or i.rag_vs_tuned is None:
        return False
    return drop * share >= i.rag_vs_tuned.mean


def _blocked(c: dict[str, Criterion]) -> str:
    blockers = [
        k.name.replace("_", " ")
        for k in c.values()
        if k.name in ("affordable", "fast_enough", "worth_it") and not k.met
    ]
    return f"a re-tune is not justified: {', '.join(blockers)} not met" if blockers else ""


def _rag_reason(i: AdviceInputs) -> str:
    fresher = (
        i.tuned_unknown is not None and quality_drop(i) is not None and (quality_drop(i) or 0) > 0
    )
    return "it answers better" + (" and fresher" if fresher else "")


def _cheaper(i: AdviceInputs) -> str | None:
    costs = {k: v for k, v in i.monthly_usd.items() if k in ("rag", "tuned")}
    return min(costs, key=lambda k: costs[k]) if len(costs) == 2 else None


def _equal_reason(i: AdviceInputs, s: AdviceSettings) -> str:
    cheaper = _cheaper(i)
    within = f"both answer alike (within {s.smallest_difference:.2f} {i.metric})"
    if cheaper is None:
        return within
    other = "tuned" if cheaper == "rag" else "rag"
    return (
        f"{within} and it is cheaper: ${i.monthly_usd[cheaper]:,.2f} vs "
        f"${i.monthly_usd[other]:,.2f} a month"
    )


def _names(keys: list[str]) -> str:
    return ", ".join(k.replace("_", " ") for k in keys)
