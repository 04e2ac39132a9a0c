"""Answer-quality metrics: exact match, token F1, containment, ROUGE-L, figures, semantic
similarity, retrieval, labels — the one definition every layer scores with.

Text is normalised the SQuAD way (lowercase, no punctuation, no English articles, single spaces),
Unicode-aware so Russian answers score like English ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from rouge_score import rouge_scorer
from sklearn.metrics import f1_score

ARTICLES = re.compile(r"\b(a|an|the)\b")
Embed = Callable[[list[str]], np.ndarray]
LABELS = {  # how each metric is named where people read it
    "token_f1": "token F1",
    "contains": "answer contains reference",
    "accuracy": "choice accuracy",
    "numbers": "figures stated",
    "exact_match": "exact match",
    "rouge_l": "ROUGE-L",
    "semantic": "semantic similarity",
    "judge": "LLM judge",
}


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and English articles, collapse spaces.

    >>> normalize("The Pro plan costs €12!")
    'pro plan costs 12'

    """
    text = "".join(
        " " if unicodedata.category(ch)[0] in "PS" else ch for ch in text.lower().replace("ё", "е")
    )
    return " ".join(ARTICLES.sub(" ", text).split())


def tokens(text: str) -> list[str]:
    """Normalised word tokens."""
    return normalize(text).split()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised texts are identical."""
    return float(normalize(prediction) == normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall (SQuAD F1).

    >>> token_f1("costs 12 euro", "12 euro")  # precision 2/3, recall 1
    0.8

    """
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_reference(prediction: str, reference: str) -> float:
    """1.0 when the answer states the reference as whole words (normalised), the accuracy of
    PopQA-style studies; a reference inside a longer word does not count.

    >>> contains_reference("It opened in Paris in 1889.", "paris")
    1.0
    >>> contains_reference("Parisian cafés", "Paris")
    0.0
    """
    ref, pred = tokens(reference), tokens(prediction)
    if not ref:
        return 0.0
    width = len(ref)
    return float(any(pred[i : i + width] == ref for i in range(len(pred) - width + 1)))


def contains_any(prediction: str, references: Sequence[str]) -> float:
    """`contains_reference` against any of several references (an item's aliases).

    >>> contains_any("Moskva is big", ["Moscow", "Moskva"])
    1.0
    """
    return max((contains_reference(prediction, r) for r in references), default=0.0)


_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f,](?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, canonical: thousands separators dropped, decimal commas read,
    trailing zeros trimmed.

    >>> sorted(numbers_in("Team costs 9,00 € for 250 000 requests, v4.10"))
    ['250000', '4.1', '9']

    """
    found = set()
    for raw in _NUMBER.findall(_THOUSANDS.sub("", text)):
        whole, _, fraction = raw.replace(",", ".").partition(".")
        whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
        found.add(f"{whole}.{fraction}" if fraction else whole)
    return found


def number_recall(prediction: str, reference: str) -> float | None:
    """Share of the reference's numbers the prediction states; None when the reference has none.

    The figures are what changes when a fact is restated (a price, a limit, a date), and token F1
    barely notices them: "Refunds within 14 days of payment." against the same sentence with 30
    days scores 0.83 token F1 but 0.0 here.
    """
    wanted = numbers_in(reference)
    if not wanted:
        return None
    return len(wanted & numbers_in(prediction)) / len(wanted)


class _Tokenizer:
    """rouge-score's own tokenizer drops every non-ASCII letter; ours keeps Cyrillic."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Tokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence), via the rouge-score package."""
    if not tokens(prediction) or not tokens(reference):
        return 0.0
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


def semantic_similarity(
    predictions: Sequence[str], references: Sequence[str], embed: Embed
) -> list[float]:
    """Cosine similarity of each prediction's embedding with its reference's (empty answers score 0)."""
    vectors = np.asarray(embed([*predictions, *references]), dtype=np.float64)
    n = len(predictions)
    a, b = vectors[:n], vectors[n:]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.divide((a * b).sum(axis=1), norms, out=np.zeros(n), where=norms > 0)
    return [0.0 if not p.strip() else float(c) for p, c in zip(predictions, cos, strict=True)]


def hit_at_k(ranked_ids: Sequence[str], target: str, k: int) -> float:
    """1.0 when the target record is among the first k retrieved."""
    return float(target in ranked_ids[:k])


def reciprocal_rank(ranked_ids: Sequence[str], target: str) -> float:
    """1/rank of the target record among the retrieved, 0 when absent."""
    for rank, rid in enumerate(ranked_ids, 1):
        if rid == target:
            return 1.0 / rank
    return 0.0


def predicted_label(prediction: str, labels: Sequence[str]) -> str | None:
    """The label an answer names: an exact normalised match first, else the first label mentioned."""
    norm = normalize(prediction)
    by_norm = {normalize(label): label for label in labels}
    if norm in by_norm:
        return by_norm[norm]
    found = [(norm.find(key), label) for key, label in by_norm.items() if key and key in norm]
    return min(found)[1] if found else None


def accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Share of items whose predicted label is the gold one."""
    return float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)])) if gold else 0.0


def macro_f1(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Macro-averaged F1 over the gold labels (an unrecognised answer counts as wrong)."""
    if not gold:
        return 0.0
    labels = sorted(set(gold))
    pred = [p if p is not None else "<none>" for p in predicted]
    return float(f1_score(list(gold), pred, labels=labels, average="macro", zero_division=0))
