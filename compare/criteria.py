"""The advice's criteria, each measured, not measured, or met against its threshold.

The seed's reasons to re-tune made explicit (new data, quality drop on new facts, task change,
cost, time, forgetting) beside the measured gaps between the sides. `compare.advice` turns them
into a verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from compare.stats import Interval

Status = Literal["met", "not_met", "not_measured"]


class AdviceSettings(BaseModel):
    """Thresholds for every criterion (all editable)."""

    metric: Literal["auto", "token_f1", "contains", "accuracy", "numbers", "judge"] = Field(
        "auto",
        description="the quality metric verdicts rest on; auto = choice accuracy when every "
        "question is multiple choice, else token F1",
    )
    min_new_records: int = Field(30, description="records dated after the cutoff worth a re-tune")
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
    smallest_difference: float = Field(
        0.05, gt=0, description="the smallest quality difference that matters (headline metric)"
    )
    min_questions: int = Field(
        20, ge=1, description="fewer paired questions than this are not enough for any verdict"
    )
    task_changed: bool = Field(False, description="the task itself changed (declared by the team)")
    many_changed_facts: int = Field(
        10,
        ge=1,
        description="trained facts the corpus now states otherwise from which a re-tune should "
        "be RAFT (retrieved passages in the prompts), so the model reads the current version",
    )


class AdviceInputs(BaseModel):
    """The measured values the advice needs; None means not measured."""

    metric: str = "token_f1"
    fact_metric: str = "token_f1"  # the metric behind tuned_known / tuned_unknown
    sides: list[str] = Field(default_factory=list)  # sides that answered
    failed_sides: list[str] = Field(default_factory=list)  # sides that failed on every question
    # the retrieval side a verdict calls "RAG": the best of those that retrieve without the
    # tuned model (extractive, base + RAG), and its display name
    retrieval_side: str | None = None
    retrieval_label: str | None = None
    cutoff: str | None = None  # the tuned model's knowledge cutoff, as text
    new_records: int | None = None  # corpus records dated after the tuned model's cutoff
    new_tokens: int = 0
    changed_facts: int | None = None  # trained records the corpus now states otherwise
    training_records: int = 0
    eval_new_questions: int | None = None  # eval questions about records newer than the cutoff
    tuned_known: float | None = None
    tuned_unknown: float | None = None
    unknown_question_share: float | None = None  # share of eval questions the model has not seen
    rag_vs_tuned: Interval | None = None  # the retrieval side - tuned
    tuned_rag_vs_rag: Interval | None = None  # tuned + RAG - the retrieval side
    tuned_rag_vs_base_rag: Interval | None = None  # when base + RAG is not the retrieval side
    tuned_rag_vs_tuned: Interval | None = None
    tuning_added: Interval | None = None  # tuned - base on every question
    tuning_added_trained: Interval | None = None  # ... on facts the tuned model was trained on
    tuning_added_untrained: Interval | None = None  # ... on facts it was not
    retune_cost_usd: float | None = None
    retune_hours: float | None = None
    forgetting: Interval | None = None  # new model - previous model on the old eval subset
    monthly_usd: dict[str, float] = Field(default_factory=dict)  # side -> total at the volume


class Criterion(BaseModel):
    """One criterion: its measured value, threshold and status; what would measure it if not."""

    name: str
    value: str
    threshold: str
    status: Status
    meaning: str
    to_measure: str = ""

    @property
    def met(self) -> bool:
        """True only when measured and met: not measured never counts as met."""
        return self.status == "met"


def criteria(i: AdviceInputs, s: AdviceSettings) -> list[Criterion]:
    """Every criterion with its status (met / not met / not measured)."""
    return [
        _new_data(i, s),
        _stale(i, s),
        _eval_covers_new(i),
        Criterion(
            name="task_changed",
            value="declared" if s.task_changed else "not declared",
            threshold="declared by the team",
            status="met" if s.task_changed else "not_met",
            meaning="the task or its requirements changed",
        ),
        _worth_it(i, s),
        _bounded(
            "affordable",
            i.retune_cost_usd,
            f"${i.retune_cost_usd or 0:,.2f} per re-tune",
            f"<= ${s.retune_budget_usd:,.2f}",
            (i.retune_cost_usd or 0) <= s.retune_budget_usd,
            "the re-tune fits the budget",
            "a tuning manifest with training tokens, or a hosted tuning price",
        ),
        _bounded(
            "fast_enough",
            i.retune_hours,
            f"{i.retune_hours or 0:.2f} h per re-tune",
            f"<= {s.max_retune_hours:g} h",
            (i.retune_hours or 0) <= s.max_retune_hours,
            "the re-tune (with evaluation) fits the time available",
            "a tuning manifest that records the training speed (python -m tuning.train writes it)",
        ),
        _beats("retrieval_wins", rag_name(i), "tuned", i.rag_vs_tuned, "retrieval answers better"),
        _beats(
            "tuned_wins",
            "tuned",
            rag_name(i),
            _neg(i.rag_vs_tuned),
            "the tuned model answers better",
        ),
        _combination(i),
        _tuning_added(i, s),
        _forgetting(i, s),
    ]


def rag_name(i: AdviceInputs) -> str:
    """How the advice names the retrieval side: 'RAG (extractive)', 'RAG (Base + RAG)', or 'RAG'
    when none is known."""
    label = i.retrieval_label
    if not label:
        return "RAG"
    return label if label.startswith("RAG") else f"RAG ({label})"


def _new_data(i: AdviceInputs, s: AdviceSettings) -> Criterion:
    share = (i.new_records or 0) / i.training_records if i.training_records else None
    shown = (
        f"{share:.0%} of {i.training_records} trained on"
        if share is not None
        else "no training set"
    )
    met = (i.new_records or 0) >= s.min_new_records and (
        (share or 0) >= s.min_new_share or i.new_tokens >= s.min_new_tokens
    )
    return _bounded(
        "new_data",
        i.new_records,
        f"{i.new_records} records {_since(i.cutoff)} ({shown}), {i.new_tokens:,} tokens",
        f">= {s.min_new_records} records and (>= {s.min_new_share:.0%} or >= {s.min_new_tokens:,} tokens)",
        met,
        "a significant block of new data has accumulated since the model's cutoff",
        "the tuned model's cutoff: a tuning manifest, or a declared cutoff (TUNING_CUTOFF)",
    )


def _stale(i: AdviceInputs, s: AdviceSettings) -> Criterion:
    drop = quality_drop(i)
    return _bounded(
        "stale_on_new_facts",
        drop,
        f"{i.fact_metric} known {_num(i.tuned_known)} vs unseen {_num(i.tuned_unknown)}: drop {_num(drop)}",
        f"drop >= {s.max_new_fact_drop:.2f}",
        drop is not None and drop >= s.max_new_fact_drop,
        "the tuned model answers worse about facts it has not seen",
        "eval questions about facts the tuned model knows AND about facts it has not seen",
    )


def _eval_covers_new(i: AdviceInputs) -> Criterion:
    measured = i.new_records is not None and i.eval_new_questions is not None
    return Criterion(
        name="eval_covers_new_facts",
        value=f"{i.eval_new_questions} questions about the {i.new_records} records after the cutoff"
        if measured
        else "not measured",
        threshold="at least one question when the corpus has newer records",
        status="not_measured"
        if not measured
        else ("not_met" if (i.new_records or 0) > 0 and not i.eval_new_questions else "met"),
        meaning="the eval can tell whether the tuned model went stale",
        to_measure="" if measured else "eval items with record_id, and the tuned model's cutoff",
    )


def _worth_it(i: AdviceInputs, s: AdviceSettings) -> Criterion:
    drop = quality_drop(i)
    gain = (
        drop * i.unknown_question_share
        if drop is not None and i.unknown_question_share is not None
        else None
    )
    return _bounded(
        "worth_it",
        gain,
        f"expected gain {_num(gain)} = drop {_num(drop)} × {i.unknown_question_share or 0:.0%} of questions unseen",
        f">= {s.min_expected_gain:.2f}",
        gain is not None and gain >= s.min_expected_gain,
        "re-tuning should add measurable quality, not just cost",
        "the drop on unseen facts (see stale_on_new_facts)",
    )


def _beats(name: str, a: str, b: str, gap: Interval | None, meaning: str) -> Criterion:
    return _bounded(
        name,
        gap,
        f"{a} - {b} = {gap}",
        "95% CI above 0",
        gap is not None and gap.low > 0,
        f"{meaning}, beyond noise",
        "run RAG and the tuned model on the same questions",
    )


def _combination(i: AdviceInputs) -> Criterion:
    gaps = {
        rag_name(i): i.tuned_rag_vs_rag,
        "base+RAG": i.tuned_rag_vs_base_rag,
        "tuned": i.tuned_rag_vs_tuned,
    }
    measured = {k: g for k, g in gaps.items() if g is not None}
    complete = i.tuned_rag_vs_rag is not None and i.tuned_rag_vs_tuned is not None
    return _bounded(
        "combination_wins",
        measured if complete else None,
        "; ".join(f"tuned+RAG - {k} = {g}" for k, g in measured.items()),
        "every 95% CI above 0",
        complete and all(g.low > 0 for g in measured.values()),
        "giving the tuned model retrieved sources beats the best retrieval side (base + RAG "
        "when it ran) and the tuned model alone",
        "run tuned+RAG beside RAG (base + RAG) and the tuned model",
    )


def _tuning_added(i: AdviceInputs, s: AdviceSettings) -> Criterion:
    """What tuning added on the facts it was trained on: the one place tuning must show."""
    trained = i.tuning_added_trained
    enough = trained is not None and trained.n >= s.min_questions
    asked = f"only {trained.n} questions" if trained is not None else "no questions"
    return _bounded(
        "tuning_added",
        trained if enough else None,
        f"tuned - base on its training facts = {trained} (on facts it was not trained on "
        f"{i.tuning_added_untrained}; all questions {i.tuning_added})",
        "95% CI above 0 on its training facts",
        trained is not None and trained.low > 0,
        "tuning taught the model its own training facts, measurably",
        f"run the base model (side base) beside the tuned one on at least {s.min_questions} "
        f"questions about facts it was trained on ({asked} so far)",
    )


def _forgetting(i: AdviceInputs, s: AdviceSettings) -> Criterion:
    return _bounded(
        "forgetting",
        i.forgetting,
        f"new - current model on the old eval set = {i.forgetting}",
        f"mean >= -{s.max_forgetting:.2f}",
        i.forgetting is not None and i.forgetting.mean >= -s.max_forgetting,
        "no catastrophic forgetting: the new model keeps what the current one knew",
        "serve the current model beside the re-tuned one (TUNING_PREVIOUS_MODEL, "
        "RAGORTUNE_PREVIOUS_ADAPTER) and run both",
    )


def _since(cutoff: str | None) -> str:
    """What makes a record new: dated after the cutoff, or (no date known) unseen in training."""
    return f"dated after {cutoff}" if cutoff else "the model was not trained on (no cutoff date)"


def _bounded(
    name: str,
    measured: object,
    value: str,
    threshold: str,
    met: bool,
    meaning: str,
    to_measure: str,
) -> Criterion:
    """A criterion whose status is not measured when its input is None."""
    if measured is None:
        return Criterion(
            name=name,
            value="not measured",
            threshold=threshold,
            status="not_measured",
            meaning=meaning,
            to_measure=to_measure,
        )
    return Criterion(
        name=name,
        value=value,
        threshold=threshold,
        status="met" if met else "not_met",
        meaning=meaning,
    )


def _neg(gap: Interval | None) -> Interval | None:
    if gap is None:
        return None
    return Interval(mean=-gap.mean, low=-gap.high, high=-gap.low, n=gap.n, sd=gap.sd)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def quality_drop(i: AdviceInputs) -> float | None:
    """The tuned model's quality on facts it knows minus on facts it has not seen."""
    if i.tuned_known is None or i.tuned_unknown is None:
        return None
    return i.tuned_known - i.tuned_unknown
