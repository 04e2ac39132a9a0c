"""Detect which fine-tuning shape a JSON object has and normalise it to record fields.

Every check raises `LineError` with a code, a message and a fix hint; nothing here knows about
files or line numbers (the loader adds those). Chat shapes live in `corpus.chats`, preference
pairs in `corpus.preference`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from corpus.chats import check_turn_order, from_turns, parse_chat, parse_gemini, parse_sharegpt
from corpus.diagnose import json_type
from corpus.errors import LineError
from corpus.parsed import ANSWER_KEYS, Parsed, string_field
from corpus.preference import PAIR_KEYS, parse_dpo
from corpus.record import Format

__all__ = ["LineError", "Parsed", "check_turn_order", "detect_format", "json_type", "parse_object"]

DATE_KEYS = ("as_of", "date", "updated_at", "created_at", "timestamp")
META_KEYS = frozenset(("id", *DATE_KEYS))
MEDIA_KEYS = {"images": "<image>", "videos": "<video>", "audios": "<audio>"}
KTO_KEYS = frozenset(("kto_tag", "label"))

# The keys that make up each shape (required first, then optional), for detection and hints.
SHAPES: dict[Format, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Format.PROMPT_COMPLETION: (("prompt", "completion"), ()),
    Format.INSTRUCTION: (
        ("instruction", "output"),
        ("input", "system", "output_text", "response", "history"),
    ),
    Format.VERTEX: (("input_text", "output_text"), ()),
    Format.CHAT: (("messages",), ("tools", "functions", "parallel_tool_calls")),
    Format.GEMINI: (("contents",), ("systemInstruction", "system_instruction")),
    Format.SHAREGPT: (("conversations",), ("system", "tools")),
    Format.TEXT: (("text",), ()),
    Format.CLASSIFICATION: (("text", "label"), ()),
    Format.DPO: (
        ("chosen", "rejected"),
        ("input", "preferred_output", "non_preferred_output", "rejected_response"),
    ),
    Format.KTO: (("kto_tag",), ()),
}
KNOWN_KEYS = (
    META_KEYS | MEDIA_KEYS.keys() | {k for req, opt in SHAPES.values() for k in (*req, *opt)}
)
# Keys people often use for a known shape's keys, for the unknown-shape hint.
KEY_ALIASES = {
    "question": "prompt",
    "query": "prompt",
    "input": "prompt",
    "answer": "completion",
    "output": "completion",
    "target": "completion",
    "conversation": "messages",
    "dialog": "messages",
    "dialogue": "messages",
    "chat": "messages",
    "content": "text",
    "sentence": "text",
    "document": "text",
    "category": "label",
    "class": "label",
}


def detect_format(obj: dict[str, Any]) -> Format:
    """Name the shape of a JSON object, or raise `unknown_shape` listing the keys and the nearest shape.

    >>> detect_format({"prompt": "2+2?", "completion": "4", "id": "a"})
    <Format.PROMPT_COMPLETION: 'prompt_completion'>
    >>> detect_format({"messages": [], "label": False})
    <Format.KTO: 'kto'>
    """
    if not PAIR_KEYS.isdisjoint(obj):
        return Format.DPO
    if "kto_tag" in obj or (type(obj.get("label")) is bool and "text" not in obj):
        return Format.KTO
    if "messages" in obj:
        return Format.CHAT
    if "contents" in obj:
        return Format.GEMINI
    if "conversations" in obj:
        return Format.SHAREGPT
    if "instruction" in obj:
        return Format.INSTRUCTION
    if "input_text" in obj:
        return Format.VERTEX
    if "prompt" in obj:
        return Format.PROMPT_COMPLETION
    if "text" in obj:
        return Format.CLASSIFICATION if "label" in obj else Format.TEXT
    keys = set(obj) - META_KEYS
    raise LineError("unknown_shape", _unknown_shape_message(keys), _unknown_shape_hint(keys))


def parse_object(obj: dict[str, Any], fmt: Format) -> Parsed:
    """Validate an object of a known shape and return its normalised fields.

    >>> parse_object({"instruction": "Capital of Peru?", "output": "Lima"}, Format.INSTRUCTION).answer
    'Lima'
    """
    parsed = _PARSERS[fmt](obj)
    if not MEDIA_KEYS.keys().isdisjoint(obj):
        _drop_media(obj, parsed)
    return parsed


def _unknown_shape_message(keys: set[str]) -> str:
    seen = ", ".join(sorted(keys)) or "no keys"
    return f"keys {{{seen}}} match no known format"


def _unknown_shape_hint(keys: set[str]) -> str:
    known = sorted({k for req, opt in SHAPES.values() for k in (*req, *opt)})
    renames: dict[str, str] = {}
    for key in sorted(keys):
        alias = KEY_ALIASES.get(key.lower())
        close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        target = key.lower() if key.lower() in known else alias or (close[0] if close else None)
        if target and target != key:
            renames[key] = target
    renamed = {renames.get(k, k) for k in keys}
    best = max(SHAPES, key=lambda f: sum(k in renamed for k in SHAPES[f][0]) / len(SHAPES[f][0]))
    required = " + ".join(SHAPES[best][0])
    shown = ", ".join(f"'{k}' -> '{v}'" for k, v in renames.items() if v in SHAPES[best][0])
    return f"nearest format: {best.value}, which needs {required}" + (
        f" (rename {shown})" if shown else ""
    )


def _prompt_completion(obj: dict[str, Any]) -> Parsed:
    if type(obj.get("prompt")) is list:
        return _trl_conversational(obj)
    if "completion" not in obj:
        alt = next((k for k in ANSWER_KEYS if k in obj), None)
        hint = f"rename '{alt}' to 'completion'" if alt else 'add "completion": "..."'
        raise LineError("missing_answer", "'prompt' has no 'completion'", hint)
    question = string_field(obj, "prompt")
    answer = string_field(obj, "completion")
    return Parsed(Format.PROMPT_COMPLETION, question=question, answer=answer)


def _trl_conversational(obj: dict[str, Any]) -> Parsed:
    completion = obj.get("completion")
    if type(completion) is not list:
        raise LineError(
            "wrong_type",
            "'prompt' is a list but 'completion' is not",
            "make both lists of messages",
        )
    return parse_chat({"messages": [*obj["prompt"], *completion], "tools": obj.get("tools")})


def _instruction(obj: dict[str, Any]) -> Parsed:
    present = [k for k in ANSWER_KEYS if k in obj]
    if not present:
        raise LineError(
            "missing_answer",
            "'instruction' has no answer",
            'add "output" (or "output_text" / "response") with the expected answer',
        )
    if len(present) > 1:
        raise LineError(
            "ambiguous_answer",
            f"both {' and '.join(present)} are set",
            "keep exactly one of output / output_text / response",
        )
    question = string_field(obj, "instruction")
    answer = string_field(obj, present[0])
    context = string_field(obj, "input", required=False, empty_ok=True) or None
    system = string_field(obj, "system", required=False, empty_ok=True) or None
    parsed = Parsed(
        Format.INSTRUCTION, question=question, answer=answer, context=context, system=system
    )
    return _with_history(obj["history"], parsed) if obj.get("history") else parsed


def _with_history(history: Any, parsed: Parsed) -> Parsed:
    """Alpaca's `history`: earlier [instruction, answer] pairs become earlier chat turns."""
    if type(history) is not list or any(
        type(p) is not list or len(p) != 2 or not all(type(t) is str for t in p) for p in history
    ):
        raise LineError(
            "wrong_type",
            "'history' is not a list of [instruction, answer] pairs",
            'write "history": [["earlier question", "earlier answer"], ...]',
        )
    user = f"{parsed.question}\n\n{parsed.context}" if parsed.context else parsed.question
    turns = [("system", parsed.system)] if parsed.system else []
    turns += [(role, text) for q, a in history for role, text in (("user", q), ("assistant", a))]
    full = from_turns(
        Format.INSTRUCTION, [*turns, ("user", user or ""), ("assistant", parsed.answer or "")], None
    )
    full.question, full.context = parsed.question, parsed.context
    return full


def _vertex(obj: dict[str, Any]) -> Parsed:
    question = string_field(obj, "input_text")
    if "output_text" not in obj:
        raise LineError("missing_answer", "'input_text' has no 'output_text'", 'add "output_text"')
    return Parsed(Format.VERTEX, question=question, answer=string_field(obj, "output_text"))


def _text(obj: dict[str, Any]) -> Parsed:
    return Parsed(Format.TEXT, text=string_field(obj, "text"))


def _classification(obj: dict[str, Any]) -> Parsed:
    text = string_field(obj, "text")
    label = obj.get("label")
    if isinstance(label, bool) or not isinstance(label, str | int):
        raise LineError(
            "wrong_type",
            f"'label' is {json_type(label)}, not a string",
            'write the label as a string, e.g. "label": "positive"',
        )
    if not str(label).strip():
        raise LineError("empty_answer", "'label' is empty", "give every text a label")
    return Parsed(Format.CLASSIFICATION, text=text, label=str(label))


def _kto(obj: dict[str, Any]) -> Parsed:
    """KTO: a chat or QA line with a true (desirable) or false (undesirable) label."""
    key = "kto_tag" if "kto_tag" in obj else "label"
    tag = obj[key]
    if type(tag) is not bool:
        raise LineError(
            "wrong_type",
            f"'{key}' is {json_type(tag)}, not true or false",
            f'write "{key}": true for a desirable answer, false for an undesirable one',
        )
    rest = {k: v for k, v in obj.items() if k not in KTO_KEYS}
    try:
        base = detect_format(rest)
    except LineError:
        base = Format.TEXT  # a tag on nothing else: say what a KTO line needs
    if base in (Format.TEXT, Format.CLASSIFICATION, Format.DPO, Format.KTO):
        raise LineError(
            "unknown_shape",
            f"'{key}' marks a KTO line, but it has no prompt and answer",
            'write a chat or "prompt" + "completion" beside the label',
        )
    parsed = _PARSERS[base](rest)
    parsed.format, parsed.undesirable = Format.KTO, not tag
    return parsed


def _drop_media(obj: dict[str, Any], parsed: Parsed) -> None:
    """`images` / `videos` / `audios` beside `<image>`-style tokens: count the media, drop tokens."""
    tokens = []
    for key, token in MEDIA_KEYS.items():
        items = obj.get(key)
        if items:
            parsed.media += len(items) if type(items) is list else 1
            tokens.append(token)
    if not tokens:
        return
    pattern = re.compile("|".join(map(re.escape, tokens)))

    def strip(text: str | None) -> str | None:
        return None if text is None else pattern.sub("", text).strip()

    parsed.turns = [(role, strip(text) or "") for role, text in parsed.turns]
    parsed.question, parsed.context = strip(parsed.question), strip(parsed.context) or None
    parsed.answer, parsed.text = strip(parsed.answer), strip(parsed.text)
    if parsed.question == "" or parsed.text == "":
        raise LineError(
            "empty_field",
            f"no text is left once the {parsed.media} media item(s) are dropped",
            "this corpus reads text only: give the line a text question",
        )


_PARSERS = {
    Format.PROMPT_COMPLETION: _prompt_completion,
    Format.INSTRUCTION: _instruction,
    Format.VERTEX: _vertex,
    Format.CHAT: parse_chat,
    Format.GEMINI: parse_gemini,
    Format.SHAREGPT: parse_sharegpt,
    Format.TEXT: _text,
    Format.CLASSIFICATION: _classification,
    Format.DPO: parse_dpo,
    Format.KTO: _kto,
}
