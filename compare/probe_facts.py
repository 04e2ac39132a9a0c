"""The facts a knowledge probe asks, and how it asks them: a sample stratified by batch,
language and kind, each fact as its newest record asks it, and a changed fact also as a choice
between its versions' answers."""

from __future__ import annotations

import random
from collections.abc import Sequence

from answers.metrics import contains_reference
from compare.evalset import EvalItem
from compare.make_eval import stratified
from compare.rephrase import is_russian
from compare.versions_given import answer_key
from corpus.facts import FactHistory, FactVersion
from corpus.record import Record


def is_probeable(history: FactHistory) -> bool:
    """A dated fact whose answer has words of its own: one the question does not give away."""
    current = history.current
    if current.first_seen is None or contains_reference(history.question, current.answer):
        return False
    own = answer_key(current.answer) - answer_key(history.question)
    return bool(own)


def choose_facts(
    histories: Sequence[FactHistory], records: Sequence[Record], size: int, seed: int = 0
) -> list[FactHistory]:
    """About `size` facts, every (batch, language, changed or not) stratum represented before
    any gets a second fact (`compare.make_eval.stratified`), in the corpus's order."""
    by_id = {r.id: r for r in records}
    candidates = [
        (h, "changed" if h.changed else "stable")
        for h in histories
        if is_probeable(h) and h.current.record_ids[-1] in by_id
    ]
    chosen = stratified(candidates, by_id, size, random.Random(seed), asks=lambda _: 1)
    picked = {id(h) for h, _ in chosen}
    return [h for h in histories if id(h) in picked]


def open_item(history: FactHistory) -> EvalItem:
    """The fact asked as its newest record asks it."""
    return EvalItem(
        id=f"probe:{history.fact_id}",
        question=history.question,
        reference=history.current.answer,
        record_id=history.current.record_ids[-1],
        lang="ru" if is_russian(history.question) else "en",
    )


def choice_item(history: FactHistory) -> EvalItem:
    """A changed fact as a multiple-choice question: one choice per distinct answer, oldest first."""
    choices = list(dict.fromkeys(v.answer for v in distinct_versions(history)))
    return open_item(history).model_copy(
        update={
            "id": f"probe-choice:{history.fact_id}",
            "choices": choices,
            "answer_index": len(choices) - 1,
        }
    )


def distinct_versions(history: FactHistory) -> list[FactVersion]:
    """One version per distinct answer (A -> B -> A gives A, B), in the order first held."""
    seen: dict[frozenset[str], FactVersion] = {}
    for version in history.versions:
        seen.setdefault(answer_key(version.answer), version)
    return list(seen.values())
