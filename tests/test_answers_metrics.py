"""Answer metrics (answers.metrics) checked against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from answers import metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Pro plan costs €12!", "pro plan costs 12"),
        ("  Тариф «Pro» — 12 евро.  ", "тариф pro 12 евро"),
        ("Её ёлка", "ее елка"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert metrics.normalize(text) == expected


def test_exact_match_ignores_case_punctuation_articles() -> None:
    assert metrics.exact_match("  The answer!", "answer") == 1.0
    assert metrics.exact_match("answers", "answer") == 0.0


def test_token_f1_by_hand() -> None:
    # pred {pro, plan, costs, 12, euro}, ref {pro, costs, 12, euro, per, month}: 4 common
    # precision 4/5, recall 4/6 -> F1 = 2 * 0.8 * 0.6667 / 1.4667 = 0.72727
    value = metrics.token_f1("The Pro plan costs 12 euro", "Pro costs 12 euro per month")
    assert value == pytest.approx(0.727272, abs=1e-5)
    assert metrics.token_f1("", "") == 1.0 and metrics.token_f1("x", "") == 0.0


def test_rouge_l_by_hand() -> None:
    # LCS of "x y z w" and "x z y w" has length 3 -> P = R = 3/4 -> F = 0.75
    assert metrics.rouge_l("x y z w", "x z y w") == pytest.approx(0.75)
    # Cyrillic is kept (rouge-score's own tokenizer would drop it): LCS 4 of 5 and 6 tokens
    value = metrics.rouge_l("тариф Pro стоит 12 евро", "Pro стоит 12 евро в месяц")
    assert value == pytest.approx(2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6))


def test_semantic_similarity_by_hand() -> None:
    table = {"a": [1.0, 0.0], "b": [1.0, 1.0], "c": [0.0, 1.0]}

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([table.get(t, [0.0, 0.0]) for t in texts])

    values = metrics.semantic_similarity(["a", "a", ""], ["b", "c", "a"], embed)
    assert values == pytest.approx([1 / math.sqrt(2), 0.0, 0.0])


def test_retrieval_metrics_by_hand() -> None:
    ranked = ["r1", "r2", "r3"]
    assert metrics.hit_at_k(ranked, "r3", 1) == 0.0
    assert metrics.hit_at_k(ranked, "r3", 5) == 1.0
    assert metrics.reciprocal_rank(ranked, "r3") == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(ranked, "r9") == 0.0


def test_labels_by_hand() -> None:
    gold = ["x", "x", "y", "y"]
    predicted = ["x", "y", "y", None]
    # x: P 1, R 1/2 -> F 2/3; y: P 1/2, R 1/2 -> F 1/2; macro = 7/12
    assert metrics.macro_f1(predicted, gold) == pytest.approx(7 / 12)
    assert metrics.accuracy(predicted, gold) == 0.5
    assert metrics.predicted_label("I'd say: Negative.", ["positive", "negative"]) == "negative"
    assert metrics.predicted_label("no idea", ["positive", "negative"]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Team costs 9,00 € for 250 000 requests, v4.10", {"9", "250000", "4.1"}),
        ("The Pro plan costs €12.90 per month.", {"12.9"}),
        ("Each token may make up to 250,000 API requests per day.", {"250000"}),
        ("Support is available 07:00–20:00 CET.", {"7", "0", "20"}),
        ("Тариф Personal стоит 5,50 € в месяц, скидка 0,5%.", {"5.5", "0.5"}),
        ("No figures here.", set()),
    ],
)
def test_numbers_in_by_hand(text: str, expected: set[str]) -> None:
    assert metrics.numbers_in(text) == expected


def test_number_recall_sees_a_stale_figure_that_token_f1_forgives() -> None:
    stale, fresh = "Refunds within 14 days of payment.", "Refunds within 30 days of payment."
    assert metrics.token_f1(stale, fresh) == pytest.approx(5 / 6)  # 5 of 6 tokens shared
    assert metrics.number_recall(stale, fresh) == 0.0
    assert metrics.number_recall("It is 30 days, not 14.", fresh) == 1.0
    assert metrics.number_recall("Free and Pro.", "Plans: 5 GB and 2 TB") == 0.0
    assert metrics.number_recall("5 GB", "Plans: 5 GB and 2 TB") == 0.5
    assert metrics.number_recall("anything", "Free, Pro and Team.") is None


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("It opened in Paris in 1889.", "Paris", 1.0),
        ("Parisian cafés are busy.", "Paris", 0.0),  # inside a longer word: not stated
        ("The new limit is 500 users.", "500 users", 1.0),
        ("The new limit is 5000 users.", "500 users", 0.0),
        ("Столица — Москва.", "москва", 1.0),
        ("anything", "", 0.0),
    ],
)
def test_containment_by_hand(answer: str, reference: str, expected: float) -> None:
    assert metrics.contains_reference(answer, reference) == expected


def test_containment_accepts_any_alias() -> None:
    assert metrics.contains_any("They call it Moskva.", ["Moscow", "Moskva"]) == 1.0
    assert metrics.contains_any("They call it Muscovy.", ["Moscow", "Moskva"]) == 0.0


def test_a_reply_that_quotes_before_it_answers_is_scored_on_its_answer() -> None:
    """A RAFT-tuned model quotes its passage, then states the answer: the quote is not scored."""
    from answers import Answer
    from compare.evalset import EvalItem
    from compare.scoring import score_answer

    item = EvalItem(id="q", question="Pro price?", reference="The Pro plan costs 12 EUR.")
    quoted = '[2] "Pro: 12 EUR a month, billed yearly."\nAnswer: The Pro plan costs 12 EUR.'
    plain = "The Pro plan costs 12 EUR."
    scores = score_answer(item, Answer(answerer="tuned_rag", text=quoted))
    assert scores["token_f1"] == 1.0 == scores["exact_match"]
    assert scores == score_answer(item, Answer(answerer="base_rag", text=plain))
    assert score_answer(item, Answer(answerer="x", text=quoted.split("\n")[0]))["token_f1"] < 0.8
