"""The advice: a verdict that names its measured reason (better, fresher, cheaper), or says the
evidence is not enough and how many more questions would settle it.

The last step of a run (ask → score → summarise → price → advise). `advise` is the whole decision
table, in order of precedence; every number it uses is in `AdviceInputs`, every criterion in
`compare.criteria`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from compare.criteria import (
    AdviceInputs,
    AdviceSettings,
    Criterion,
    criteria,
    quality_drop,
    rag_name,
)
from compare.stats import Interval, questions_needed

__all__ = ["Advice", "AdviceInputs", "AdviceSettings", "Criterion", "Verdict", "advise"]

Verdict = Literal[
    "keep_rag",
    "retune_now",
    "change_recipe",
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
    "change_recipe": "Re-tuning the same way will not help",
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
        title = f"Keep {rag_name(i)}" if verdict == "keep_rag" else TITLES[verdict]
        return Advice(
            verdict=verdict,
            headline=f"{title}: {why}",
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
    # 3. the combination beats the best retrieval side and the tuned model, beyond noise
    if c["combination_wins"].met and gap.n >= s.min_questions:
        return done(
            "combine",
            "better than the best retrieval side and the tuned model alone",
            c["combination_wins"].value,
            RAFT_HINT,
        )
    # 4. too few questions for the configured minimum, or a gap within noise
    evidence = _evidence(pair, gap, s)
    if evidence is not None:
        why, reasons, more = evidence
        return done("not_enough_evidence", why, *reasons, more=more)
    needed = [k for k in ("new_data", "stale_on_new_facts", "task_changed") if c[k].met]
    justified = all(c[k].met for k in ("affordable", "fast_enough")) and (
        c["worth_it"].met or c["task_changed"].met
    )
    retune_why = f"re-tune called for by {_names(needed)}" if needed else ""
    taught_nothing = c["tuning_added"].status == "not_met"
    nothing = _taught_nothing(i) if taught_nothing else ""
    # 5. retrieval is better
    if c["retrieval_wins"].met:
        if needed and taught_nothing:
            return done("change_recipe", "tuning taught nothing measurable", retune_why, nothing)
        if needed and justified and _closes_gap(i):
            return done(
                "retune_now",
                "fresher facts are worth a re-tune",
                retune_why,
                PLAN_HINT,
                _raft_if_changed(i, s),
            )
        blocked = _blocked(c) if needed else ""
        why = _rag_reason(i)
        return done("keep_rag", why, c["retrieval_wins"].value, retune_why, blocked, nothing)
    # 6. the tuned model is better (or they are equal within the smallest difference that matters)
    if c["eval_covers_new_facts"].status == "not_met":
        return done(
            "cannot_judge_staleness",
            f"it asks nothing about the {i.new_records:,} records newer than the model's cutoff",
            "add questions about the newer records (python -m compare make-eval writes some)",
        )
    if needed:
        if taught_nothing:
            return done("change_recipe", "tuning taught nothing measurable", retune_why, nothing)
        if justified:
            return done(
                "retune_now",
                "enough has changed since the cutoff",
                retune_why,
                PLAN_HINT,
                _raft_if_changed(i, s),
            )
        return done("keep_rag", "RAG serves the new facts at query time", retune_why, _blocked(c))
    if c["tuned_wins"].met:
        return done("keep_model", "it answers better and little is new", c["tuned_wins"].value)
    return done("keep_model" if _cheaper(i) == "tuned" else "keep_rag", _equal_reason(i, s))


PLAN_HINT = (
    "what to re-tune on: python -m compare probe --plan-out FILE asks the model which newer "
    "facts it already gives, gives an older version of, or does not know, and writes the "
    "training file for the groups chosen"
)
RAFT_HINT = (
    "re-tune with retrieved passages in the prompts (RAFT), so the tuned model keeps using the "
    "passages it is handed: `python -m rag.raft --eval EVAL.jsonl --out work/raft` writes the "
    "training file (the passage that answers in a share P = 0.8 of the examples, k = 4 hard "
    "distractors in each, replies that quote the passage), `python -m tuning.train --corpus "
    "CORPUS --until YYYY-MM-DD --raft work/raft` trains on it"
)


def _raft_if_changed(i: AdviceInputs, s: AdviceSettings) -> str:
    """The RAFT recipe, when enough trained facts changed that the model must read the current
    version from the passages rather than recall the one it learned."""
    if i.changed_facts is None or i.changed_facts < s.many_changed_facts:
        return ""
    return (
        f"{i.changed_facts} facts the model was trained on changed since (>= "
        f"{s.many_changed_facts}, many_changed_facts): {RAFT_HINT}"
    )


def _taught_nothing(i: AdviceInputs) -> str:
    return (
        f"tuned - base on the facts it was trained on = {i.tuning_added_trained}: re-tuning the "
        "same way will not teach the new facts either — tune on paraphrases (python -m "
        "tuning.train --paraphrases N), with retrieved passages (RAFT: python -m rag.raft, then "
        "python -m tuning.train --raft work/raft), or keep RAG"
    )


def _deciding_gap(i: AdviceInputs) -> tuple[str, Interval] | None:
    """The comparison the verdict rests on: RAG vs tuned, else whatever pair ran."""
    rag = rag_name(i)
    for pair, gap in (
        (f"{rag} and the tuned model", i.rag_vs_tuned),
        (f"tuned+RAG and {rag}", i.tuned_rag_vs_rag),
        ("tuned+RAG and the tuned model", i.tuned_rag_vs_tuned),
    ):
        if gap is not None:
            return pair, gap
    return None


def _evidence(pair: str, gap: Interval, s: AdviceSettings) -> tuple[str, list[str], int] | None:
    """Why the evidence is not enough, naming what binds — the configured minimum of questions,
    or a gap within noise — with how many more questions would settle it; None when it is
    enough."""
    smallest_more = max(questions_needed(gap.sd, s.smallest_difference) - gap.n, 0)
    observed = abs(gap.mean)
    # the gap as observed is resolved by fewer questions than the smallest difference that
    # matters only when it is at least that large; a smaller one is settled as "no difference
    # that matters" by the smallest difference's count
    observed_more = (
        max(questions_needed(gap.sd, observed) - gap.n, 0)
        if observed >= s.smallest_difference
        else smallest_more
    )
    smallest_line = (
        f"detecting a difference of {s.smallest_difference:.2f} (smallest_difference) at 95% "
        f"confidence and 80% power takes about {gap.n + smallest_more:,} paired questions"
    )
    if gap.n < s.min_questions:
        short = s.min_questions - gap.n
        head = (
            f"{gap.n} paired questions, fewer than the {s.min_questions} a verdict needs "
            f"(min_questions); {short:,} more reach it"
        )
        if gap.excludes_zero:
            return (
                f"{head} — {pair} already differ beyond noise ({gap})",
                [smallest_line],
                short,
            )
        more = max(short, observed_more)
        return (f"{head}; {pair} differ by {gap}, within noise", [smallest_line], more)
    if gap.excludes_zero or smallest_more == 0:
        return None
    if observed >= s.smallest_difference:
        why = (
            f"{pair} differ by {gap} on {gap.n} questions, within noise; about "
            f"{observed_more:,} more would resolve a gap of that size"
        )
    else:
        why = (
            f"{pair} differ by {gap} on {gap.n} questions, within noise and below the "
            f"{s.smallest_difference:.2f} that matters; about {observed_more:,} more would tell "
            "whether a difference that matters exists"
        )
    return why, [smallest_line], max(observed_more, 1)


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
    rag = i.retrieval_side or "rag"
    costs = {k: v for k, v in i.monthly_usd.items() if k in (rag, "tuned")}
    return min(costs, key=lambda k: costs[k]) if len(costs) == 2 else None


def _equal_reason(i: AdviceInputs, s: AdviceSettings) -> str:
    cheaper = _cheaper(i)
    within = f"both answer alike (within {s.smallest_difference:.2f} {i.metric})"
    if cheaper is None:
        return within
    other = "tuned" if cheaper != "tuned" else (i.retrieval_side or "rag")
    return (
        f"{within} and it is cheaper: ${i.monthly_usd[cheaper]:,.2f} vs "
        f"${i.monthly_usd[other]:,.2f} a month"
    )


def _names(keys: list[str]) -> str:
    return ", ".join(k.replace("_", " ") for k in keys)
