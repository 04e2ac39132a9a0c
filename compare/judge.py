"""An optional LLM judge: any OpenAI-compatible chat model grades an answer against the reference."""

from __future__ import annotations

import re
from typing import Protocol

from answers import ChatModel

JUDGE_PROMPT = """You grade answers against a reference answer.
Question: {question}
Reference answer: {reference}
Candidate answer: {answer}
Does the candidate state the same facts as the reference (numbers, names, dates must match)?
Reply with one line: "score: X" where X is 1 (correct), 0.5 (partly correct) or 0 (wrong or missing)."""
SCORE = re.compile(r"score\s*[:=]\s*(0(?:\.5)?|1(?:\.0)?|0?\.5)", re.IGNORECASE)


class Judge(Protocol):
    """Grades an answer from 0 to 1."""

    def grade(self, question: str, reference: str, answer: str) -> float:
        """Grade one answer."""
        ...


class LlmJudge:
    """A judge backed by a chat model; an unparseable or failed reply scores NaN (left out of means)."""

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    def grade(self, question: str, reference: str, answer: str) -> float:
        """Ask the model for a score of 0, 0.5 or 1."""
        prompt = JUDGE_PROMPT.format(
            question=question, reference=reference, answer=answer or "(no answer)"
        )
        try:
            text, _ = self.chat.complete([{"role": "user", "content": prompt}])
        except Exception:  # a judge failure must not end the run
            return float("nan")
        return parse_score(text)


def parse_score(text: str) -> float:
    """The score in a judge's reply: 'score: 0.5' -> 0.5; anything else -> NaN."""
    match = SCORE.search(text)
    return float(match.group(1)) if match else float("nan")
