"""The re-tune advice: the seed's criteria made explicit, each with its threshold and measured value.

Criteria: volume of new data since the model's cutoff, quality on new vs known facts, task change,
cost and time of a re-tune against its expected gain, the measured gap to retrieval, and
forgetting (a re-tuned model must not lose quality on the old eval subset).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from compare.stats import Interval

Verdict = Literal["keep_rag", "retune_now", "keep_model", "combine", "do_not_ship"]
HEADLINES: dict[str, str] = {
    "keep_rag": "Keep RAG: retrieval answers better or fresher than the tuned model",
    "retune_now": "Re-tune now: enough has changed since the model's cutoff, and a re-tune is affordable",
    "keep_model": "Keep the current tuned model: little has changed and it answers as well as retrieval",
    "combine": "Combine: the tuned model given retrieved sources beats either side alone",
    "do_not_ship": "Do not ship the re-tuned model: it forgot what the current one knows",
}


class AdviceSettings(BaseModel):
    """Thresholds for every criterion (all editable)."""

    min_new_records: int = Field(
        30, description="new or changed records since the cutoff worth a re-tune"
    )
    min_new_share: float = Field(0.10, description="new records as a share of the training set")
    min_new_tokens: int = Field(2_000, description="new training tokens worth a re-tune")
    max_new_fact_drop: float = Field(
        0.15, description="tuned quality lost on unseen facts vs known ones"
    )
    min_expected_gain: float = Field(0.03, description="overall quality a re-tune should add")
    retune_budget_usd: float = Field(100.0, description="most a re-tune may cost")
    max_retune_hours: float = Field(24.0, description="longest a re-tune may take")
    max_forgetting: float = Field(
        0.02, description="most quality a new model may lose on the old eval set"
    )
    task_changed: bool = Field(False, description="the task itself changed (declared by the team)")


class AdviceInputs(BaseModel):
    """The measured values the advice needs (headline metric: token F1 unless stated)."""

    metric: str = "token_f1"
    fact_metric: str = "token_f1"  # the metric behind tuned_known / tuned_unknown
    new_records: int
    new_tokens: int
    training_records: int
    tuned_known: float | None = None
    tuned_unknown: float | None = None
    unknown_question_share: float = (
        0.0  # share of eval questions about facts the model has not seen
    )
    rag_vs_tuned: Interval | None = None  # rag - tuned
    tuned_rag_vs_rag: Interval | None = None  # tuned_rag - rag
    tuned_rag_vs_tuned: Interval | None = None
    retune_cost_usd: float = 0.0
    retune_hours: float = 0.0
    forgetting: Interval | None = None  # new model - previous model on the old eval subset


class Criterion(BaseModel):
    """One criterion with its measured value and threshold."""

    name: str
    value: str
    threshold: str
    met: bool
    meaning: str


class Advice(BaseModel):
    """The verdict and every number behind it."""

    verdict: Verdict
    headline: str
    reasons: list[str]
    criteria: list[Criterion]
    inputs: AdviceInputs
    settings: AdviceSettings


def advise(inputs: AdviceInputs, settings: AdviceSettings) -> Advice:
    """Apply the criteria in order of precedence and explain the verdict."""
    c = _criteria(inputs, settings)
    met = {k.name: k.met for k in c}
    reasons: list[str] = []
    if inputs.forgetting is not None and not met["forgetting"]:
        verdict: Verdict = "do_not_ship"
        reasons.append(
            f"the re-tuned model changes {inputs.metric} by {inputs.forgetting} on the old eval set"
        )
    elif met["combination_wins"]:
        verdict = "combine"
        reasons.append(
            f"tuned+RAG beats RAG by {inputs.tuned_rag_vs_rag} ({inputs.metric}, 95% CI)"
        )
    elif met["retrieval_wins"]:
        verdict = "keep_rag"
        reasons.append(
            f"RAG beats the tuned model by {inputs.rag_vs_tuned} ({inputs.metric}, 95% CI)"
        )
    elif met["new_data"] or met["stale_on_new_facts"] or met["task_changed"]:
        why = [
            k.name.replace("_", " ")
            for k in c
            if k.name in ("new_data", "stale_on_new_facts", "task_changed") and k.met
        ]
        if met["affordable"] and met["fast_enough"] and (met["worth_it"] or met["task_changed"]):
            verdict = "retune_now"
            reasons.append("needed: " + ", ".join(why))
        else:
            verdict = "keep_rag"
            blockers = [
                k.name.replace("_", " ")
                for k in c
                if k.name in ("affordable", "fast_enough", "worth_it") and not k.met
            ]
            reasons.append(
                f"a re-tune is called for ({', '.join(why)}) but not justified "
                f"({', '.join(blockers)}: not met); RAG serves new facts at query time"
            )
    else:
        verdict = "keep_model"
        reasons.append(
            "little new data, no measurable loss on new facts, and retrieval is not clearly better"
        )
    return Advice(
        verdict=verdict,
        headline=HEADLINES[verdict],
        reasons=reasons,
        criteria=c,
        inputs=inputs,
        settings=settings,
    )


def _criteria(i: AdviceInputs, s: AdviceSettings) -> list[Criterion]:
    share = i.new_records / i.training_records if i.training_records else float(i.new_records > 0)
    drop = (
        (i.tuned_known - i.tuned_unknown)
        if i.tuned_known is not None and i.tuned_unknown is not None
        else None
    )
    gain = drop * i.unknown_question_share if drop is not None else None
    return [
        Criterion(
            name="new_data",
            value=f"{i.new_records} records ({share:.0%} of {i.training_records} trained on), {i.new_tokens:,} tokens",
            threshold=f">= {s.min_new_records} records and (>= {s.min_new_share:.0%} or >= {s.min_new_tokens:,} tokens)",
            met=i.new_records >= s.min_new_records
            and (share >= s.min_new_share or i.new_tokens >= s.min_new_tokens),
            meaning="a significant block of new data has accumulated since the model's cutoff",
        ),
        Criterion(
            name="stale_on_new_facts",
            value=_fmt(
                drop,
                f"{i.fact_metric} known {_num(i.tuned_known)} vs unseen {_num(i.tuned_unknown)}: drop {_num(drop)}",
            ),
            threshold=f"drop >= {s.max_new_fact_drop:.2f}",
            met=drop is not None and drop >= s.max_new_fact_drop,
            meaning="monitoring shows the tuned model answers worse about facts it has not seen",
        ),
        Criterion(
            name="task_changed",
            value="declared" if s.task_changed else "not declared",
            threshold="declared by the team",
            met=s.task_changed,
            meaning="the task or its requirements changed",
        ),
        Criterion(
            name="worth_it",
            value=_fmt(
                gain,
                f"expected gain {_num(gain)} = drop {_num(drop)} × {i.unknown_question_share:.0%} of questions unseen",
            ),
            threshold=f">= {s.min_expected_gain:.2f}",
            met=gain is not None and gain >= s.min_expected_gain,
            meaning="re-tuning should add measurable quality, not just cost",
        ),
        Criterion(
            name="affordable",
            value=f"${i.retune_cost_usd:,.2f} per re-tune",
            threshold=f"<= ${s.retune_budget_usd:,.2f}",
            met=i.retune_cost_usd <= s.retune_budget_usd,
            meaning="the re-tune fits the budget",
        ),
        Criterion(
            name="fast_enough",
            value=f"{i.retune_hours:.2f} h per re-tune",
            threshold=f"<= {s.max_retune_hours:g} h",
            met=i.retune_hours <= s.max_retune_hours,
            meaning="the re-tune (with evaluation) fits the time available",
        ),
        Criterion(
            name="retrieval_wins",
            value=_fmt(i.rag_vs_tuned, f"RAG - tuned = {i.rag_vs_tuned}"),
            threshold="95% CI above 0",
            met=i.rag_vs_tuned is not None and i.rag_vs_tuned.low > 0,
            meaning="retrieval answers better than the tuned model, beyond noise",
        ),
        Criterion(
            name="combination_wins",
            value=_fmt(i.tuned_rag_vs_rag, f"tuned+RAG - RAG = {i.tuned_rag_vs_rag}"),
            threshold="95% CI above 0 (and above tuned alone)",
            met=_above_zero(i.tuned_rag_vs_rag) and _above_zero(i.tuned_rag_vs_tuned),
            meaning="giving the tuned model retrieved sources beats both sides",
        ),
        Criterion(
            name="forgetting",
            value=_fmt(i.forgetting, f"new - current model on the old eval set = {i.forgetting}"),
            threshold=f"mean >= -{s.max_forgetting:.2f}",
            met=i.forgetting is None or i.forgetting.mean >= -s.max_forgetting,
            meaning="no catastrophic forgetting: the new model keeps what the current one knew",
        ),
    ]


def _above_zero(interval: Interval | None) -> bool:
    return interval is not None and interval.low > 0


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _fmt(value: object, text: str) -> str:
    return "not measured" if value is None else text
