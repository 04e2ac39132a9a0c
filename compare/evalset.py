"""Eval sets: questions with reference answers, in the eval shape or any corpus shape.

The eval shape is `{"question", "reference", "record_id"?, "as_of"?, "kind"?, "lang"?, "labels"?,
"aliases"?, "choices"?, "answer_index"?}`. A file in any fine-tuning shape works too
(prompt/completion, messages, ...): its question and answer become the question and the reference,
and its `id` the record the question depends on. Multiple-choice lines may spell their keys as the
public sets do (`options`, `answerKey`, `gold`, a letter or the choice's text as `answer`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from answers import Question
from compare.eval_choices import CHOICE_KEYS, INDEX_KEYS, choices_of, right_index
from corpus import DEFAULT_MAX_LINE_BYTES, Reject
from corpus.diagnose import BOM, json_type, parse_line
from corpus.formats import LineError, detect_format, parse_object

ALIAS_KEYS = ("aliases", "possible_answers", "answers")
# what to do about a field pydantic refuses: (reject code, fix)
FIELD_HINTS = {
    "as_of": ("bad_date", 'write "as_of": "YYYY-MM-DD" (or null)'),
    "labels": ("wrong_type", 'write "labels" as a list of strings'),
    "aliases": ("wrong_type", 'write "aliases" as a list of strings'),
    "record_id": ("wrong_type", 'write "record_id" as the id of the corpus record, a string'),
    "kind": ("wrong_type", 'write "kind" as a string: stable, new, changed or classification'),
    "lang": ("wrong_type", 'write "lang" as a language code string, e.g. "en"'),
}


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


class EvalLoad(BaseModel):
    """What an eval file held: its questions, and every line that is not one, with the fix."""

    items: list[EvalItem] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    skipped: int = 0  # lines that are well-formed but no question (an undesirable KTO answer)


class EvalLoadError(Exception):
    """An eval file that cannot be used as it is: unreadable, without questions, or (for
    `load_eval`) with bad lines. `rejects` lists every bad line; `items` holds the good ones."""

    def __init__(
        self, message: str, rejects: Sequence[Reject] = (), items: Sequence[EvalItem] = ()
    ) -> None:
        super().__init__(message)
        self.rejects, self.items = list(rejects), list(items)


def read_eval(path: Path) -> EvalLoad:
    """Read an eval file leniently: each valid line becomes a question, each other line a
    `Reject` (file, line, code, message, fix) as the corpus layer reports bad lines."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise EvalLoadError(f"{path}: cannot read the eval file ({err.strerror or err})") from err
    out = EvalLoad()
    firsts: dict[str, int] = {}  # item id -> the line that first used it
    for number, raw in enumerate(data.split(b"\n"), 1):
        if number == 1:
            raw = raw.removeprefix(BOM)
        if not raw.strip():
            continue
        try:
            if len(raw) > DEFAULT_MAX_LINE_BYTES:
                raise _too_long(len(raw))
            item = _item(parse_line(raw), number)
            if item is None:
                out.skipped += 1
                continue
            first = firsts.setdefault(item.id, number)
            if first != number:
                raise LineError(
                    "duplicate",
                    f"id {item.id!r} is also the id of line {first}",
                    "give every question its own id: results are kept per id",
                )
        except LineError as err:
            out.rejects.append(
                Reject(
                    file=str(path), line=number, code=err.code, message=err.message, hint=err.hint
                )
            )
        else:
            out.items.append(item)
    if not out.items and not out.rejects:
        raise EvalLoadError(f"{path}: no questions")
    return out


def load_eval(path: Path) -> list[EvalItem]:
    """Read an eval file; raise `EvalLoadError` naming every bad line and how to fix it (its
    `items` hold the lines that did load, for a caller that runs them anyway)."""
    loaded = read_eval(path)
    if loaded.rejects:
        shown = "\n".join(str(r) for r in loaded.rejects)
        raise EvalLoadError(shown, loaded.rejects, loaded.items)
    return loaded.items


def _item(obj: dict[str, Any], number: int) -> EvalItem | None:
    """An eval line's question, None for a line that is no question, or `LineError`."""
    item_id = str(obj.get("id") or f"q{number:03d}")
    if "question" in obj:
        return _eval_shape(obj, item_id)
    try:
        parsed = parse_object(obj, detect_format(obj))
    except LineError as err:
        if err.code == "unknown_shape":  # say the eval shape too, not only the corpus ones
            err.hint += '; or write the eval shape {"question": "...", "reference": "..."}'
        raise
    if parsed.undesirable:
        return None  # an undesirable KTO answer is never a reference
    question = parsed.question if parsed.question is not None else parsed.text
    reference = parsed.answer if parsed.answer is not None else parsed.label
    if question is None or reference is None:
        raise LineError(
            "missing_answer",
            "a plain text line has no reference answer",
            'write the line as {"question": "...", "reference": "..."} or a prompt/completion pair',
        )
    return _validated(
        {
            "id": item_id,
            "question": f"{question}\n\n{parsed.context}" if parsed.context else question,
            "reference": reference,
            "record_id": obj.get("record_id") or (str(obj["id"]) if "id" in obj else None),
            "as_of": obj.get("as_of"),
            "labels": obj.get("labels"),
            "kind": obj.get("kind"),
        }
    )


def _eval_shape(obj: dict[str, Any], item_id: str) -> EvalItem:
    """`{"question", "reference", ...}`, multiple choice under any of the public sets' keys."""
    _text(obj, "question", "empty_field", "write the question the sides are asked")
    fields: dict[str, Any] = {**obj, "id": item_id, "aliases": _aliases(obj)}
    for key in (*CHOICE_KEYS, *INDEX_KEYS):
        if key not in EvalItem.model_fields:
            fields.pop(key, None)
    choices = choices_of(obj)
    if choices:
        index = right_index(obj, choices)
        fields |= {"choices": choices, "answer_index": index}
        fields.setdefault("reference", choices[index])
    _text(fields, "reference", "empty_answer", "write the answer a side should give")
    labels = fields.get("labels")
    if type(labels) is list and labels and fields["reference"] not in labels:
        raise LineError(
            "bad_label",
            f"'reference' {fields['reference']!r} is not one of its 'labels' {labels}",
            "make the reference one of the labels, or fix the label list",
        )
    return _validated(fields)


def _text(obj: dict[str, Any], key: str, empty: str, what: str) -> None:
    """A required, non-empty string field."""
    value = obj.get(key)
    if value is None:
        code = "missing_answer" if key == "reference" else "missing_field"
        raise LineError(code, f"'{key}' is missing", f'add "{key}": "..." — {what}')
    if type(value) is not str:
        raise LineError(
            "wrong_type",
            f"'{key}' is {json_type(value)}, not a string",
            f'write "{key}" as a string',
        )
    if not value.strip():
        raise LineError(empty, f"'{key}' is empty", f"{what}, or drop the line")


def _validated(fields: dict[str, Any]) -> EvalItem:
    """The item, or the first field pydantic refuses as a `LineError` in plain words."""
    try:
        return EvalItem.model_validate(fields)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"]) or "the line"
        field = str(first["loc"][0]) if first["loc"] else ""
        value = repr(first.get("input"))[:60]
        code, hint = FIELD_HINTS.get(
            field, ("wrong_type", f'check "{field}" against the eval shape')
        )
        why = first["msg"][:1].lower() + first["msg"][1:]  # pydantic's words, without its URL
        raise LineError(code, f"'{key}' is {value}: {why}", hint) from None


def _too_long(size: int) -> LineError:
    return LineError(
        "too_long",
        f"the line has {size:,} bytes (ceiling {DEFAULT_MAX_LINE_BYTES:,}, against runaway input)",
        "an eval line holds one question: split the line",
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
