"""Build a `Record` from a parsed line: its id, date, content hash, chat turns and metadata."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from hashlib import sha256
from typing import Any

from corpus.errors import LineError
from corpus.formats import DATE_KEYS, KNOWN_KEYS
from corpus.parsed import Parsed, TurnExtra
from corpus.record import (
    Message,
    Record,
    SourceRef,
    build,
    construct,
    hash_content,
    hash_pairs,
    turn_pairs,
)

_NO_MESSAGES: tuple[Message, ...] = ()


def build_record(
    obj: dict[str, Any], parsed: Parsed, source: SourceRef, batch: str, batch_date: date | None
) -> Record:
    """The record of a parsed line: its id, date (the line's own, else its batch's), hash and turns."""
    as_of = batch_date if obj.keys().isdisjoint(DATE_KEYS) else _line_date(obj) or batch_date
    extras = parsed.extras
    question, answer = parsed.question, parsed.answer
    if not parsed.turns and answer is not None and question is not None and not parsed.tools:
        # a single exchange, hashed as `turn_pairs` + `hash_pairs` would, without the lists
        user = f"{question}\n\n{parsed.context}" if parsed.context else question
        head = f"system\x1f{parsed.system}\x1e" if parsed.system else ""
        joined = f"{head}user\x1f{user}\x1eassistant\x1f{answer}"
        digest, messages = sha256(joined.encode()).hexdigest(), _NO_MESSAGES
    elif extras is None:
        turns = parsed.turns or turn_pairs(
            parsed.format,
            parsed.question,
            parsed.context,
            parsed.answer,
            parsed.system,
            parsed.text,
            parsed.label,
        )
        digest = hash_pairs(turns, parsed.text, parsed.tools)
        messages = _messages(turns, None) if parsed.multi_turn else ()
    else:
        hashed = [
            (role, hash_content(text, extras[i].calls) if i in extras else text)
            for i, (role, text) in enumerate(parsed.turns)
        ]
        digest = hash_pairs(hashed, None, parsed.tools)
        messages = _messages(parsed.turns, extras)
    rid = obj.get("id")
    return build(
        Record,
        {
            "id": rid
            if type(rid) is str and rid and not rid.isspace()
            else _record_id(obj, digest),
            "format": parsed.format,
            "question": parsed.question,
            "context": parsed.context,
            "answer": parsed.answer,
            "system": parsed.system,
            "messages": messages,
            "text": parsed.text,
            "label": parsed.label,
            "as_of": as_of,
            "batch": batch,
            "source": source,
            "content_hash": digest,
            "meta": {} if obj.keys() <= KNOWN_KEYS else _meta(obj),
            "tools": parsed.tools,
        },
    )


def _messages(
    turns: Sequence[tuple[str, str]], extras: dict[int, TurnExtra] | None
) -> tuple[Message, ...]:
    if extras is None:
        return tuple(
            construct(Message, role=r, content=c, tool_calls=(), tool_call_id=None, name=None)
            for r, c in turns
        )
    return tuple(
        Message(
            role=r,
            content=c,
            tool_calls=extras[i].calls,
            tool_call_id=extras[i].call_id,
            name=extras[i].name,
        )
        if i in extras
        else Message(role=r, content=c)
        for i, (r, c) in enumerate(turns)
    )


def _line_date(obj: dict[str, Any]) -> date | None:
    if obj.keys().isdisjoint(DATE_KEYS):  # the common case, checked in C
        return None
    for key in DATE_KEYS:
        if obj.get(key) is not None:
            return _parse_date(key, obj[key])
    return None


def _parse_date(key: str, value: Any) -> date:
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value  # milliseconds are common too
            return datetime.fromtimestamp(seconds, tz=UTC).date()
        if isinstance(value, str):
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except (ValueError, OverflowError, OSError):
        pass
    raise LineError(
        "bad_date",
        f"'{key}' is {value!r}, not a date",
        f'write "{key}": "YYYY-MM-DD" (or an ISO date-time, or a Unix timestamp)',
    )


def _record_id(obj: dict[str, Any], digest: str) -> str:
    value = obj.get("id")
    if value is None:
        return f"h-{digest[:16]}"
    if type(value) is str and value.strip():
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise LineError("wrong_type", f"'id' is {value!r}", 'write "id" as a non-empty string')
    return str(value)


def _meta(obj: dict[str, Any]) -> dict[str, str]:
    """Extra scalar keys are kept as metadata rather than rejected."""
    if obj.keys() <= KNOWN_KEYS:  # the common case, checked in C
        return {}
    return {
        k: str(v)
        for k, v in obj.items()
        if k not in KNOWN_KEYS and isinstance(v, str | int | float | bool)
    }
