"""Facts that change: among near-tied hits that ask the same question, the newest ranks first and
the older ones are marked stale (superseded)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from rag.hits import Hit
from rag.lexical import WORD

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

Vectors = Callable[[list[str]], dict[str, np.ndarray]]  # node ids -> their stored vectors


def supersede(
    hits: list[Hit], vectors: Vectors, tie_epsilon: float, same_question: float
) -> list[Hit]:
    """Among near-tied hits asking the same question, rank the newest first; mark the rest stale."""
    pairs = [
        (a, b)
        for i, a in enumerate(hits)
        for b in hits[i + 1 :]
        if abs(a.score - b.score) <= tie_epsilon and a.as_of and b.as_of and a.as_of != b.as_of
    ]
    if not pairs:
        return hits
    stored = vectors(sorted({h.node_id for pair in pairs for h in pair}))
    newer: dict[str, Hit] = {}
    for a, b in pairs:
        if not (restates(a.answer, b.answer) or _similar(stored, a, b, same_question)):
            continue  # near-tied, but different questions
        old, new = (a, b) if str(a.as_of) < str(b.as_of) else (b, a)
        if old.record_id not in newer or str(newer[old.record_id].as_of) < str(new.as_of):
            newer[old.record_id] = new
    return _reorder(hits, newer)


def _similar(stored: dict[str, np.ndarray], a: Hit, b: Hit, threshold: float) -> bool:
    if a.node_id not in stored or b.node_id not in stored:
        return False
    return float(np.dot(stored[a.node_id], stored[b.node_id])) >= threshold


def restates(old: str, new: str) -> bool:
    """Whether two answers are the same statement with different figures: a fact restated.

    >>> restates("Refunds within 14 days.", "Refunds within 30 days.")
    True
    >>> restates("Free accounts: 2 GB.", "Pro accounts: 2 GB.")
    False
    """
    a, b = _statement(old), _statement(new)
    return bool(a) and a == b and NUMBER.search(old) is not None and old != new


def _statement(answer: str) -> tuple[str, ...]:
    return tuple(WORD.findall(NUMBER.sub(" 0 ", answer.lower())))


def _reorder(hits: Sequence[Hit], newer: dict[str, Hit]) -> list[Hit]:
    """Mark superseded hits stale and move each one's replacement just ahead of it."""
    out: list[Hit] = []
    for hit in hits:
        if hit.record_id in newer:
            replacement = newer[hit.record_id]
            while replacement.record_id in newer:  # a chain: March -> June -> September
                replacement = newer[replacement.record_id]
            if all(h.record_id != replacement.record_id for h in out):
                out.append(replacement)
            hit = hit.model_copy(update={"stale": True, "superseded_by": replacement.record_id})
        if all(h.record_id != hit.record_id for h in out):
            out.append(hit)
    return out
