"""The LLM judge's reply parsing (compare.judge)."""

from __future__ import annotations

import math

import pytest

from compare.judge import parse_score


@pytest.mark.parametrize(
    ("reply", "score"), [("score: 1", 1.0), ("Score = 0.5.", 0.5), ("score:0", 0.0)]
)
def test_judge_reply_parsing(reply: str, score: float) -> None:
    assert parse_score(reply) == score


def test_judge_unparseable_is_nan() -> None:
    assert math.isnan(parse_score("I think it is right"))
