"""Score every answer of a run: text metrics, retrieval, labels, choices, and what each side knew.

The second step of a run (ask → score → summarise → price → advise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from answers import Answer, metrics
from answers.quoting import stated_answer
from compare.evalset import EvalItem
from compare.judge import Judge
from compare.knowledge import Knowledge
from compare.run import Scored
from corpus import Record

RETRIEVAL_K = (1, 5)


def score_answer(item: EvalItem, answer: Answer) -> dict[str, float]:
    """Every metric for one answer (a failed answer scores zero), plus retrieval, label and choice
    scores where the item has them. A reply that quotes a passage before it states its answer
    (a RAFT-tuned model's) is scored on the answer it states."""
    text = stated_answer(answer.text) if answer.ok else ""
    scores: dict[str, float] = {}
    if item.is_multiple_choice:
        scores["accuracy"] = float(answer.ok and answer.choice == item.answer_index)
    if item.is_classification:
        predicted = metrics.predicted_label(text, item.labels or [])
        scores["label_correct"] = float(predicted == item.reference)
    references = item.references()
    scores["exact_match"] = max(metrics.exact_match(text, r) for r in references)
    scores["token_f1"] = max(metrics.token_f1(text, r) for r in references)
    scores["rouge_l"] = max(metrics.rouge_l(text, r) for r in references)
    scores["contains"] = metrics.contains_any(text, references)
    numbers = metrics.number_recall(text, item.reference)
    if numbers is not None and not item.is_classification:
        scores["numbers"] = numbers
    if item.record_id and answer.sources:
        ranked = [s.record_id for s in answer.sources]
        for k in RETRIEVAL_K:
            scores[f"hit@{k}"] = metrics.hit_at_k(ranked, item.record_id, k)
        scores["mrr"] = metrics.reciprocal_rank(ranked, item.record_id)
    return scores


def score_run(
    items: Sequence[EvalItem],
    scored: Sequence[Scored],
    *,
    records: Mapping[str, Record],
    knowledge: Mapping[str, Sequence[Knowledge]],
    embed: metrics.Embed | None = None,
    judge: Judge | None = None,
    concurrency: int = 1,
) -> list[Scored]:
    """The answers with their scores and whether their side knew the fact asked about."""
    by_id = {item.id: item for item in items}
    out = [
        s.model_copy(
            update={
                "metrics": score_answer(by_id[s.item_id], s.answer),
                "known": _known(by_id[s.item_id], s.answerer, records, knowledge),
            }
        )
        for s in scored
    ]
    if embed is not None:
        texts = [stated_answer(s.answer.text) if s.answer.ok else "" for s in out]
        refs = [by_id[s.item_id].reference for s in out]
        for s, value in zip(out, metrics.semantic_similarity(texts, refs, embed), strict=True):
            s.metrics["semantic"] = value
    if judge is not None:
        _grade(out, by_id, judge, concurrency)
    return out


def _grade(out: list[Scored], by_id: dict[str, EvalItem], judge: Judge, concurrency: int) -> None:
    """The LLM judge's grades, asked `concurrency` at a time (it sits behind an HTTP endpoint)."""
    todo = [s for s in out if s.answer.ok and not by_id[s.item_id].is_classification]

    def grade(s: Scored) -> float:
        item = by_id[s.item_id]
        return judge.grade(item.question, item.reference, s.answer.text)

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        for s, value in zip(todo, pool.map(grade, todo), strict=True):
            s.metrics["judge"] = value


def _known(
    item: EvalItem,
    answerer: str,
    records: Mapping[str, Record],
    knowledge: Mapping[str, Sequence[Knowledge]],
) -> bool | None:
    record = records.get(item.record_id or "")
    sources = knowledge.get(answerer)
    if record is None or not sources:
        return None
    return any(k.knows(record) for k in sources)
