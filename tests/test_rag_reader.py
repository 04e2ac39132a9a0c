"""The extractive reader's rules, with hand-computed expectations (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.reader import best_sentence, names_choice, pick_choice, sentences


def test_sentences_split_at_ends_and_line_breaks_but_not_inside_figures() -> None:
    text = "Pier 3 reopens on 2.5 May. Is it late? Yes!\nTolls: 1.20 pounds"
    assert sentences(text) == [
        "Pier 3 reopens on 2.5 May.",
        "Is it late?",
        "Yes!",
        "Tolls: 1.20 pounds",
    ]


def test_best_sentence_is_the_closest_and_the_first_of_equals() -> None:
    rows = {"A gull.": [0.0, 1.0], "Tide at six.": [0.6, 0.8], "Tide at noon.": [0.6, 0.8]}
    encode = lambda texts: np.asarray([rows[t] for t in texts])  # noqa: E731
    # cosines with (1, 0): 0.0, 0.6, 0.6 -> the first of the two 0.6 sentences
    assert best_sentence(np.asarray([1.0, 0.0]), "A gull. Tide at six. Tide at noon.", encode) == (
        "Tide at six.",
        pytest.approx(0.6),
    )


@pytest.mark.parametrize(
    ("evidence", "choice", "expected"),
    [
        ("The toll is 18 pounds a night.", "18 pounds", True),
        ("The toll is 18 pounds a night.", "8 pounds", False),  # inside "18": not named
        ("Moorings reopen at the start of May.", "art", False),  # inside "start"
        ("MOORINGS reopen in May.", "moorings", True),  # case does not matter
        ("Паром ходит до Кеми.", "Кеми", True),
        ("Anything.", "?!", False),  # a choice with no words is never named
    ],
)
def test_a_choice_is_named_only_as_whole_words(evidence: str, choice: str, expected: bool) -> None:
    assert names_choice(evidence, choice) is expected


def test_one_named_choice_wins_without_vectors_mattering() -> None:
    vectors = np.asarray([[1.0, 0.0], [0.0, 1.0]])  # the evidence vector favours choice 0
    assert pick_choice(
        ["4 March", "4 November"], "starts on 4 November", vectors, np.asarray([1.0, 0.0])
    ) == (1, "named")


def test_several_named_choices_go_to_the_closest_of_them() -> None:
    vectors = np.asarray([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    # "north" and "south" are named; cosines with (0, 1): 0.8 for "south", 1.0 for "east" (not named)
    got = pick_choice(
        ["north", "south", "east"], "north pier and south pier", vectors, np.asarray([0.0, 1.0])
    )
    assert got == (1, "named, then closest")


def test_no_named_choice_goes_to_the_closest_and_a_tie_to_the_first() -> None:
    vectors = np.asarray([[0.0, 1.0], [0.8, 0.6], [0.8, 0.6]])
    # cosines with (1, 0): 0.0, 0.8, 0.8 -> choices 1 and 2 tie; the first of them wins
    assert pick_choice(["gull", "tern", "skua"], "a sea bird", vectors, np.asarray([1.0, 0.0])) == (
        1,
        "closest",
    )
