"""Multiple-choice questions for chat models: the lettered prompt and its strict parser."""

from __future__ import annotations

import re
from collections.abc import Sequence

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# the whole reply is a letter, optionally "B)", "(B)", "B.", "Answer: B" — nothing else counts
_STRICT = re.compile(r"^\s*(?:answer\s*[:\-]?\s*)?\(?([A-Z])\)?[.)]?\s*$", re.IGNORECASE)


def lettered_prompt(question: str, choices: Sequence[str]) -> str:
    """The question with its choices lettered, asking for the letter alone.

    >>> print(lettered_prompt("Capital of France?", ["Berlin", "Paris"]))
    Capital of France?
    A. Berlin
    B. Paris
    Reply with the letter of the right choice only (A or B).
    """
    lines = [question, *(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))]
    allowed = ", ".join(LETTERS[: len(choices) - 1]) + f" or {LETTERS[len(choices) - 1]}"
    return "\n".join([*lines, f"Reply with the letter of the right choice only ({allowed})."])


def parse_letter(reply: str, n_choices: int) -> int | None:
    """The index of the letter a reply names; None unless the reply is just one valid letter.

    >>> parse_letter("B", 4), parse_letter(" (c). ", 4), parse_letter("Answer: A", 4)
    (1, 2, 0)
    >>> parse_letter("E", 4) is None, parse_letter("B because Paris", 4) is None
    (True, True)
    """
    match = _STRICT.match(reply)
    if match is None:
        return None
    index = LETTERS.index(match.group(1).upper())
    return index if index < n_choices else None
