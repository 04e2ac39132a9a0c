"""The choices and the right one of a multiple-choice eval line, under the keys public sets use
(`choices` / `options`, `answer_index` / `answerKey` / `gold` / the choice's text...)."""

from __future__ import annotations

from typing import Any

from answers.choices import LETTERS
from corpus.errors import LineError

CHOICE_KEYS = ("choices", "options", "candidates")
INDEX_KEYS = (
    "answer_index",
    "answer_idx",
    "correct_index",
    "answerKey",
    "answer_key",
    "gold",
    "correct",
    "label",
    "answer",
    "correct_answer",
)


def choices_of(obj: dict[str, Any]) -> list[str] | None:
    """The choices under any common key: a list of strings, `{"text": [...], "label": [...]}`
    (ARC style) or `{"A": "...", "B": "..."}`."""
    # a null is no choices: what `EvalItem.model_dump_json` writes for a free-text item
    key = next((k for k in CHOICE_KEYS if obj.get(k) is not None), None)
    if key is None:
        return None
    raw = obj[key]
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):
        raw = raw["text"]
    elif isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw)]
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(c, str) for c in raw):
        raise LineError(
            "wrong_type",
            f"'{key}' is not a list of at least two strings",
            f'write "{key}": ["first choice", "second choice", ...]',
        )
    return [str(c) for c in raw]


def right_index(obj: dict[str, Any], choices: list[str]) -> int:
    """The right choice from an index (0-based), a letter, or the choice's own text; the first
    key present that names none of the choices is the one reported."""
    wrong: tuple[str, Any] | None = None
    for key in INDEX_KEYS:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            continue
        index = _index_of(value, choices)
        if index is not None:
            return index
        wrong = wrong or (key, value)
    n = len(choices)
    if wrong is not None:
        key, value = wrong
        raise LineError(
            "out_of_range",
            f"'{key}' is {value!r}, which names none of the {n} choices",
            f"give the right choice as a 0-based index 0..{n - 1}, a letter A..{LETTERS[n - 1]} "
            "or the choice's exact text",
        )
    raise LineError(
        "missing_answer",
        f"a multiple-choice line with {n} choices does not say which is right",
        f"add one of {', '.join(INDEX_KEYS[:3])} (0-based), a letter in 'answerKey', or the "
        "choice's text in 'answer'",
    )


def _index_of(value: Any, choices: list[str]) -> int | None:
    if isinstance(value, int):
        return value if 0 <= value < len(choices) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in choices:
        return choices.index(text)
    if len(text) == 1 and text.upper() in LETTERS[: len(choices)]:
        return LETTERS.index(text.upper())
    if text.isdigit() and 0 <= int(text) < len(choices):
        return int(text)
    return None
