"""Eval sets: questions with reference answers, in the eval shape or any corpus shape.

The eval shape is `{"question", "reference", "record_id"?, "as_of"?, "kind"?, "lang"?, "labels"?,
"aliases"?, "choices"?, "answer_index"?}`. A file in any fine-tuning shape works too
(prompt/completion, messages, ...): its question and answer become the question and the reference,
and its `id` the record the question depends on. Multiple-choice lines may spell their keys as the
public sets do (`options`, `answerKey`, `gold`, a letter or the choice's text as `answer`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from answers import Question
from answers.choices import LETTERS
from corpus.formats import LineError, detect_format, parse_object

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
ALIAS_KEYS = ("aliases", "possible_answers", "answers")


Reworded = Literal["offline", "endpoint"]


class EvalItem(BaseModel):
    """One eval question."""

    id: str
    question: str
    reference: str
    record_id: str | None = None
    as_of: date | None = None
    kind: str | None = None  # stable / new / changed / classification
    lang: str | None = None
    labels: list[str] | None = None  # set for classification items
    aliases: list[str] = []  # other ways to state the reference (containment accepts any)
    choices: list[str] | None = None  # set for multiple-choice items
    answer_index: int | None = None  # the right choice
    # how a question made from the corpus was reworded: offline rules keep the record's subject
    # words, so retrieval finds its record more easily than for a hand-written question
    reworded: Reworded | None = None

    @property
    def is_classification(self) -> bool:
        """True when the reference is one of a fixed label set."""
        return bool(self.labels)

    @property
    def is_multiple_choice(self) -> bool:
        """True when the item lists choices and the right one."""
        return bool(self.choices) and self.answer_index is not None

    def references(self) -> list[str]:
        """The reference and its aliases."""
        return [self.reference, *[a for a in self.aliases if a and a != self.reference]]

    def question_for_sides(self) -> Question:
        """The question as every side is asked it: text, date and choices."""
        return Question(text=self.question, as_of=self.as_of, choices=tuple(self.choices or ()))


class EvalLoadError(Exception):
    """An eval file with lines that are not questions; lists every bad line."""


def load_eval(path: Path) -> list[EvalItem]:
    """Read an eval file; raise `EvalLoadError` naming every bad line and how to fix it."""
    items: list[EvalItem] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(_item(json.loads(line), number))
        except (json.JSONDecodeError, LineError, ValidationError, ValueError) as err:
            hint = getattr(err, "hint", 'write {"question": "...", "reference": "..."}')
            problems.append(f"{path}:{number}: {getattr(err, 'message', err)} — {hint}")
    if problems:
        raise EvalLoadError("\n".join(problems))
    if not items:
        raise EvalLoadError(f"{path}: no questions")
    return items


def _item(obj: Any, number: int) -> EvalItem:
    if not isinstance(obj, dict):
        raise ValueError("the line is not a JSON object")
    item_id = str(obj.get("id") or f"q{number:03d}")
    choices = _choices(obj)
    if "question" in obj:
        fields: dict[str, Any] = {**obj, "id": item_id, "aliases": _aliases(obj)}
        for key in (*CHOICE_KEYS, *INDEX_KEYS):
            if key not in EvalItem.model_fields:
                fields.pop(key, None)
        if choices:
            index = _right_index(obj, choices)
            fields |= {"choices": choices, "answer_index": index}
            fields.setdefault("reference", choices[index])
        return EvalItem.model_validate(fields)
    parsed = parse_object(obj, detect_format(obj))
    question = parsed.question if parsed.question is not None else parsed.text
    reference = parsed.answer if parsed.answer is not None else parsed.label
    if question is None or reference is None:
        raise ValueError("plain text has no reference answer")
    return EvalItem(
        id=item_id,
        question=f"{question}\n\n{parsed.context}" if parsed.context else question,
        reference=reference,
        record_id=obj.get("record_id") or (str(obj["id"]) if "id" in obj else None),
        as_of=obj.get("as_of"),
        labels=obj.get("labels"),
        kind=obj.get("kind"),
    )


def _choices(obj: dict[str, Any]) -> list[str] | None:
    """The choices under any common key: a list of strings, `{"text": [...], "label": [...]}`
    (ARC style) or `{"A": "...", "B": "..."}`."""
    raw = next((obj[k] for k in CHOICE_KEYS if k in obj), None)
    if raw is None:
        return None
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):
        raw = raw["text"]
    elif isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw)]
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(c, str) for c in raw):
        raise ValueError("'choices' must be a list of at least two strings")
    return [str(c) for c in raw]


def _right_index(obj: dict[str, Any], choices: list[str]) -> int:
    """The right choice from an index (0-based), a letter, or the choice's own text."""
    for key in INDEX_KEYS:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int) and 0 <= value < len(choices):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text in choices:
                return choices.index(text)
            if len(text) == 1 and text.upper() in LETTERS[: len(choices)]:
                return LETTERS.index(text.upper())
            if text.isdigit() and 0 <= int(text) < len(choices):
                return int(text)
    raise ValueError(
        f"a multiple-choice line needs the right choice: one of {', '.join(INDEX_KEYS[:3])} "
        "(0-based), a letter in 'answerKey', or the choice's text in 'answer'"
    )


def _aliases(obj: dict[str, Any]) -> list[str]:
    for key in ALIAS_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)  # PopQA keeps its aliases as a JSON string
            except json.JSONDecodeError:
                value = [value]
        if isinstance(value, list):
            return [str(v) for v in value if isinstance(v, str | int | float)]
    return []
