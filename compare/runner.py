"""Put every answerer through the same eval questions, score each answer, and keep the run.

Answers are cached per (answerer configuration, question), so a re-run only asks what changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from compare import metrics
from compare.answer import Answer, Answerer
from compare.evalset import EvalItem
from compare.freshness import Knowledge
from compare.judge import Judge
from compare.store import Store
from corpus import Record

Progress = Callable[[int, int, str], None]  # (done, total, what is being done)
QA_METRICS = ("exact_match", "token_f1", "rouge_l", "numbers")
RETRIEVAL_K = (1, 5)


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


class RunContext(BaseModel):
    """What scoring needs beyond the answers: the corpus and what each side knows."""

    model_config = {"arbitrary_types_allowed": True}

    records: dict[str, Record] = Field(default_factory=dict)  # current records by id
    knowledge: dict[str, list[Knowledge]] = Field(
        default_factory=dict
    )  # answerer -> its sources of knowledge


def run_eval(
    items: Sequence[EvalItem],
    answerers: Sequence[Answerer],
    *,
    configurations: Mapping[str, str] | None = None,
    context: RunContext | None = None,
    store: Store | None = None,
    embed: metrics.Embed | None = None,
    judge: Judge | None = None,
    eval_name: str = "eval",
    progress: Progress | None = None,
) -> RunResult:
    """Ask every answerer every question (cached answers reused), score, and save the run."""
    context = context or RunContext()
    configurations = configurations or {}
    total = len(items) * len(answerers)
    scored: list[Scored] = []
    started = datetime.now(UTC)
    for answerer in answerers:
        config = configurations.get(answerer.name, answerer.name)
        for item in items:
            if progress:
                progress(len(scored), total, f"{answerer.name}: {item.id}")
            answer, cached = _ask(answerer, item.question, config, store)
            scored.append(
                Scored(
                    item_id=item.id,
                    answerer=answerer.name,
                    answer=answer,
                    cached=cached,
                    known=_known(item, answerer.name, context),
                )
            )
    if progress:
        progress(total, total, "scoring")
    by_id = {item.id: item for item in items}
    for s in scored:
        s.metrics = score_answer(by_id[s.item_id], s.answer)
    if embed is not None:
        _add_semantic(scored, by_id, embed)
    if judge is not None:
        for s in scored:
            if s.answer.ok and not by_id[s.item_id].is_classification:
                item = by_id[s.item_id]
                s.metrics["judge"] = judge.grade(item.question, item.reference, s.answer.text)
    run = RunResult(
        run_id=f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        started_at=started,
        eval_name=eval_name,
        answerers=[a.name for a in answerers],
        items=list(items),
        scored=scored,
    )
    return run


def _ask(
    answerer: Answerer, question: str, config: str, store: Store | None
) -> tuple[Answer, bool]:
    if store is not None:
        hit = store.cached(config, question)
        if hit is not None:
            return hit, True
    try:
        answer = answerer.answer(question)
    except Exception as err:  # an answerer must not take the run down
        answer = Answer(answerer=answerer.name, error=f"{type(err).__name__}: {err}")
    if store is not None:
        store.remember(config, question, answer)
    return answer, False


def _known(item: EvalItem, answerer: str, context: RunContext) -> bool | None:
    record = context.records.get(item.record_id or "")
    sources = context.knowledge.get(answerer)
    if record is None or not sources:
        return None
    return any(k.knows(record) for k in sources)


def score_answer(item: EvalItem, answer: Answer) -> dict[str, float]:
    """Every text metric for one answer (a failed answer scores zero), plus retrieval and label scores."""
    text = answer.text if answer.ok else ""
    scores: dict[str, float] = {}
    if item.is_classification:
        predicted = metrics.predicted_label(text, item.labels or [])
        scores["label_correct"] = float(predicted == item.reference)
    scores["exact_match"] = metrics.exact_match(text, item.reference)
    scores["token_f1"] = metrics.token_f1(text, item.reference)
    scores["rouge_l"] = metrics.rouge_l(text, item.reference)
    numbers = metrics.number_recall(text, item.reference)
    if numbers is not None and not item.is_classification:
        scores["numbers"] = numbers
    if item.record_id and answer.sources:
        ranked = [s.record_id for s in answer.sources]
        for k in RETRIEVAL_K:
            scores[f"hit@{k}"] = metrics.hit_at_k(ranked, item.record_id, k)
        scores["mrr"] = metrics.reciprocal_rank(ranked, item.record_id)
    return scores


def _add_semantic(scored: list[Scored], by_id: dict[str, EvalItem], embed: metrics.Embed) -> None:
    texts = [s.answer.text if s.answer.ok else "" for s in scored]
    refs = [by_id[s.item_id].reference for s in scored]
    for s, value in zip(scored, metrics.semantic_similarity(texts, refs, embed), strict=True):
        s.metrics["semantic"] = value
