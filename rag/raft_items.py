"""What a RAFT split is built from: the questions asked of the corpus (an eval file to hold out, a
file of questions written for document chunks), the passage each question rests on, and the quote
of it that states the answer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from answers.metrics import contains_reference, token_f1, tokens
from corpus import Record
from rag.hits import Hit
from rag.reader import sentences

MIN_RECALL = 0.5  # share of the answer's words a quote must hold to count as stating it
NOT_TRAINED = ("text", "classification")  # node formats that are no question-answer record


class QuestionFileError(ValueError):
    """A questions or eval file that cannot be read; names the file, the line and the fix."""


@dataclass(frozen=True)
class Asked:
    """One question about a corpus record, from an eval file or a questions file."""

    question: str
    answer: str | None  # the reference, or the right choice of a multiple-choice item
    record_id: str | None
    where: str  # file:line


@dataclass(frozen=True)
class Item:
    """One training question with its answer and the passage (the oracle) that states it."""

    record_id: str
    fact_id: str
    question: str
    answer: str
    oracle: Hit
    quote: str


def read_asked(path: Path) -> list[Asked]:
    """The questions of an eval-shaped JSONL file (`question`, `reference` or `answer` or the
    right one of `choices`, `record_id`); every bad line is named with its fix."""
    found: list[Asked] = []
    problems: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise QuestionFileError(
            f"{path}: cannot read it ({err}) — pass a UTF-8 JSONL file"
        ) from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err.msg}) — one JSON object per line")
            continue
        question = obj.get("question") if isinstance(obj, dict) else None
        if not isinstance(question, str) or not question.strip():
            problems.append(f'{where}: no "question" string — write {{"question": "...", ...}}')
            continue
        rid = obj.get("record_id")
        found.append(
            Asked(question.strip(), _answer_of(obj), None if rid is None else str(rid), where)
        )
    if problems:
        raise QuestionFileError("\n".join(problems))
    return found


def _answer_of(obj: dict[str, Any]) -> str | None:
    for key in ("reference", "answer"):
        if isinstance(obj.get(key), str) and obj[key].strip():
            return str(obj[key]).strip()
    choices, index = obj.get("choices"), obj.get("answer_index")
    if isinstance(choices, list) and isinstance(index, int) and 0 <= index < len(choices):
        return str(choices[index]).strip()
    return None


def facts_of_records(passages: Iterable[Hit]) -> dict[str, str]:
    """Each record id the index holds -> the fact it states a version of."""
    return {rid: hit.fact_id for hit in passages for rid in hit.record_ids}


def best_quote(passage: str, answer: str) -> str | None:
    """The sentence of `passage` that states `answer` (the most of its words, then the best
    token F1), verbatim; None when no sentence holds at least half of the answer's words.

    >>> best_quote("Plans. The Pro plan costs 12 EUR a month. Billing is monthly.", "Pro costs 12 EUR")
    'The Pro plan costs 12 EUR a month.'
    >>> best_quote("Snow fell all week.", "12 EUR") is None
    True
    """
    wanted = set(tokens(answer))
    if not wanted:
        return None
    best: tuple[float, float, str] | None = None
    for sentence in sentences(passage):
        held = set(tokens(sentence))
        recall = 1.0 if contains_reference(sentence, answer) else len(wanted & held) / len(wanted)
        score = (recall, token_f1(sentence, answer), sentence)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None or best[0] < MIN_RECALL or best[2] not in passage:
        return None
    return best[2]


def record_items(
    current: Sequence[Hit], by_id: dict[str, Record]
) -> tuple[list[Item], list[tuple[str, str]]]:
    """An item per current question-answer version in the index: the newest record stating it,
    its first node (question and answer) as the oracle; and the versions skipped, with why."""
    items: list[Item] = []
    skipped: list[tuple[str, str]] = []
    for hit in current:
        if hit.metadata.get("format") in NOT_TRAINED or hit.metadata.get("chunk", 0) != 0:
            continue
        record = by_id.get(hit.record_ids[-1]) or by_id.get(hit.record_id)
        if record is None or not record.is_qa or record.has_tools:
            why = "not in the corpus given" if record is None else "no plain question and answer"
            skipped.append((hit.record_id, why))
            continue
        item = _item(hit, record.id, record.prompt_text(), record.answer or "")
        if item is None:
            skipped.append((record.id, "no sentence of its passage states its answer"))
        else:
            items.append(item)
    return items, skipped


def asked_items(
    asked: Sequence[Asked], current: Sequence[Hit], facts: dict[str, str]
) -> tuple[list[Item], list[tuple[str, str]]]:
    """An item per question written for a record (a document chunk's above all): the chunk of
    the record's current version that states the answer is the oracle."""
    by_fact: dict[str, list[Hit]] = {}
    for hit in current:
        if hit.is_passage or hit.metadata.get("chunk", 0) == 0:
            by_fact.setdefault(hit.fact_id, []).append(hit)
    items: list[Item] = []
    skipped: list[tuple[str, str]] = []
    for a in asked:
        fact = facts.get(a.record_id or "")
        if fact is None or a.answer is None:
            why = "no answer given" if a.answer is None else "its record_id is not in the index"
            skipped.append((a.record_id or a.where, why))
            continue
        made = [
            _item(h, a.record_id or h.record_id, a.question, a.answer)
            for h in by_fact.get(fact, [])
        ]
        item = next((m for m in made if m is not None), None)
        if item is None:
            skipped.append((a.record_id or a.where, "no passage of its record states the answer"))
        else:
            items.append(item)
    return items, skipped


def _item(oracle: Hit, record_id: str, question: str, answer: str) -> Item | None:
    quote = best_quote(oracle.source().text, answer)
    if quote is None:
        return None
    return Item(record_id, oracle.fact_id, question, answer, oracle, quote)
