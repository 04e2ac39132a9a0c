"""The fields a line contributes to a `Record`, and the field checks every shape parser shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from corpus.diagnose import json_type
from corpus.errors import LineError
from corpus.record import Format, ToolCall

ANSWER_KEYS = ("output", "output_text", "response")


class TurnExtra(NamedTuple):
    """What a tool-calling turn carries beside its text."""

    calls: tuple[ToolCall, ...] = ()
    call_id: str | None = None  # a tool turn: the call it answers
    name: str | None = None  # a tool turn: the function that answered


@dataclass(slots=True)
class Parsed:
    """The fields a line contributes to a `Record` (before ids, dates and sources are added).

    `extras` maps a turn's index to its tool calls or tool-result links (None: no tool turns);
    `media` counts images, audio and video dropped from the line, `reasoning` the reasoning
    parts (kept apart from the answer, so dropped: `Record` has no field for them); `negatives` counts the
    rejected answers of preference pairs dropped; `undesirable` marks a KTO line labelled
    false, which is read and checked but never becomes a record.
    """

    format: Format
    turns: Sequence[tuple[str, str]] = ()  # (role, content); empty for a single exchange
    question: str | None = None
    context: str | None = None
    answer: str | None = None
    system: str | None = None
    text: str | None = None
    label: str | None = None
    multi_turn: bool = False
    extras: dict[int, TurnExtra] | None = None
    tools: str | None = None
    media: int = 0
    reasoning: int = 0
    negatives: int = 0
    undesirable: bool = False


def string_field(
    obj: dict[str, Any], key: str, *, required: bool = True, empty_ok: bool = False
) -> str | None:
    """Return obj[key] as a string, checking presence, type and emptiness.

    >>> string_field({"prompt": "Hi"}, "prompt")
    'Hi'
    >>> string_field({"prompt": 3}, "prompt")
    Traceback (most recent call last):
    corpus.errors.LineError: 'prompt' is a number, not a string
    """
    value = obj.get(key)
    if value is None:
        if required:
            code = "missing_answer" if key in {"completion", *ANSWER_KEYS} else "missing_field"
            raise LineError(code, f"'{key}' is missing", f'add a non-empty "{key}" string')
        return None
    if type(value) is not str:
        raise LineError(
            "wrong_type",
            f"'{key}' is {json_type(value)}, not a string",
            f'write "{key}" as a JSON string, e.g. "{key}": "..."',
        )
    if not empty_ok and not value.strip():
        code = "empty_answer" if key in {"completion", *ANSWER_KEYS} else "empty_field"
        raise LineError(code, f"'{key}' is empty", f'fill "{key}" or drop the line')
    return value
