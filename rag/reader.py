"""The extractive reader: the sentence of a passage that answers a question, and the choice of a
multiple-choice question a passage supports.

A document chunk answers with the sentence closest to the question by the same embedder that
retrieved it (offline); the chunk stays the source passage. A multiple-choice question is answered
with the choice the evidence names (whole words, case-insensitive), else the choice whose
embedding is closest to the evidence; a tie goes to the first of the tied choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

# a sentence ends at . ! ? … followed by a space, or at a line break; a figure like 2.5 stays whole
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)|\s*\n+\s*")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)

Encode = Callable[[list[str]], np.ndarray]  # texts -> unit-length rows


def sentences(passage: str) -> list[str]:
    """A passage split into its sentences (non-empty, stripped).

    >>> sentences("Refunds: within 14 days. Backups stay 35 days!\\nVersion 2.5 is out")
    ['Refunds: within 14 days.', 'Backups stay 35 days!', 'Version 2.5 is out']
    """
    return [s.strip() for s in _SENTENCE_END.split(passage) if s and s.strip()]


def best_sentence(question: np.ndarray, passage: str, encode: Encode) -> tuple[str, float]:
    """The sentence of a passage closest to the question's vector, with its cosine (the first
    of equally close sentences)."""
    parts = sentences(passage) or [passage]
    if len(parts) == 1:
        return parts[0], float(encode(parts)[0] @ question)
    scores = encode(parts) @ question
    best = int(np.argmax(scores))  # argmax returns the first of equal maxima
    return parts[best], float(scores[best])


def names_choice(evidence: str, choice: str) -> bool:
    """Whether the evidence states a choice as whole words (case-insensitive), so "3" is not
    found in "30 days" nor "art" in "start".

    >>> names_choice("Refunds within 30 days of payment.", "30 days")
    True
    >>> names_choice("Refunds within 30 days of payment.", "3")
    False
    >>> names_choice("Ярмарка открывается в Тарту.", "тарту")
    True
    """
    words = _NON_WORD.sub(" ", choice.casefold()).split()
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)"
    return re.search(pattern, evidence.casefold()) is not None


def pick_choice(
    choices: Sequence[str], evidence: str, choice_vectors: np.ndarray, evidence_vector: np.ndarray
) -> tuple[int, str]:
    """The index of the choice the evidence supports, and how it was picked.

    Containment first: when the evidence names exactly one choice, that one. Otherwise the
    choice (among those named, or among all when none is) whose vector is closest to the
    evidence's; equally close choices go to the first of them.

    >>> v = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> pick_choice(["14 days", "30 days", "90 days"], "within 30 days", v, np.array([1.0, 0]))
    (1, 'named')
    >>> pick_choice(["red", "blue", "green"], "the colour of the sky", v, np.array([0.0, 1.0]))
    (1, 'closest')
    """
    named = [i for i, c in enumerate(choices) if names_choice(evidence, c)]
    if len(named) == 1:
        return named[0], "named"
    pool = named or list(range(len(choices)))
    scores = np.asarray(choice_vectors, dtype=np.float64)[pool] @ np.asarray(evidence_vector)
    return pool[int(np.argmax(scores))], "closest" if not named else "named, then closest"
