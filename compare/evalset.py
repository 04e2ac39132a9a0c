"""Eval sets: questions with reference answers, in the eval shape or any corpus shape.

The eval shape is `{"question", "reference", "record_id"?, "as_of"?, "kind"?, "lang"?, "labels"?}`.
A file in any fine-tuning shape works too (prompt/completion, messages, ...): its question and
answer become the question and the reference, and its `id` the record the question depends on.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from corpus.formats import LineError, detect_format, parse_object


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

    @property
    def is_classification(self) -> bool:
        """True when the reference is one of a fixed label set."""
        return bool(self.labels)


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
    if "question" in obj:
        fields = {**obj, "id": str(obj.get("id") or f"q{number:03d}")}
        fields.setdefault("record_id", obj.get("record_id"))
        return EvalItem.model_validate(fields)
    parsed = parse_object(obj, detect_format(obj))
    question = parsed.question if parsed.question is not None else parsed.text
    reference = parsed.answer if parsed.answer is not None else parsed.label
    if question is None or reference is None:
        raise ValueError("plain text has no reference answer")
    return EvalItem(
        id=str(obj.get("id") or f"q{number:03d}"),
        question=f"{question}\n\n{parsed.context}" if parsed.context else question,
        reference=reference,
        record_id=obj.get("record_id") or (str(obj["id"]) if "id" in obj else None),
        as_of=obj.get("as_of"),
        labels=obj.get("labels"),
        kind=obj.get("kind"),
    )
