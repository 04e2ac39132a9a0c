"""Detect which fine-tuning shape a JSON object has and normalise it to record fields.

Every check raises `LineError` with a code, a message and a fix hint; nothing here knows about
files or line numbers (the loader adds those).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from corpus.record import Format

ANSWER_KEYS = ("output", "output_text", "response")
DATE_KEYS = ("as_of", "date", "updated_at", "created_at", "timestamp")
META_KEYS = frozenset(("id", *DATE_KEYS))

# The keys that make up each shape (required first, then optional), for detection and hints.
SHAPES: dict[Format, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Format.PROMPT_COMPLETION: (("prompt", "completion"), ()),
    Format.INSTRUCTION: (("instruction", "output"), ("input", "system", "output_text", "response")),
    Format.VERTEX: (("input_text", "output_text"), ()),
    Format.CHAT: (("messages",), ()),
    Format.GEMINI: (("contents",), ("systemInstruction", "system_instruction")),
    Format.SHAREGPT: (("conversations",), ("system",)),
    Format.TEXT: (("text",), ()),
    Format.CLASSIFICATION: (("text", "label"), ()),
}
CHAT_ROLES = {"system", "user", "assistant"}
GEMINI_ROLES = {"user": "user", "model": "assistant"}
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant"}
SHAREGPT_ROLES["assistant"] = "assistant"
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
JSON_TYPES = {
    "int": "a number",
    "float": "a number",
    "dict": "an object",
    "list": "an array",
    "bool": "a boolean",
    "str": "a string",
    "NoneType": "null",
}
ROLE_HINTS = {"bot": "assistant", "ai": "assistant", "model": "assistant", "human": "user"}


class LineError(Exception):
    """A line that cannot become a record: a code, what is wrong, and how to fix it."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


@dataclass
class Parsed:
    """The fields a line contributes to a `Record` (before ids, dates and sources are added)."""

    format: Format
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, content)
    question: str | None = None
    context: str | None = None
    answer: str | None = None
    system: str | None = None
    text: str | None = None
    label: str | None = None
    multi_turn: bool = False


def detect_format(obj: dict[str, Any]) -> Format:
    """Name the shape of a JSON object, or raise `unknown_shape` listing the keys and the nearest shape.

    Example: {"prompt": "2+2?", "completion": "4", "id": "a"} -> Format.PROMPT_COMPLETION
    """
    keys = set(obj) - META_KEYS
    if "messages" in keys:
        return Format.CHAT
    if "contents" in keys:
        return Format.GEMINI
    if "conversations" in keys:
        return Format.SHAREGPT
    if "instruction" in keys:
        return Format.INSTRUCTION
    if "input_text" in keys:
        return Format.VERTEX
    if "prompt" in keys:
        return Format.PROMPT_COMPLETION
    if "text" in keys:
        return Format.CLASSIFICATION if "label" in keys else Format.TEXT
    raise LineError("unknown_shape", _unknown_shape_message(keys), _unknown_shape_hint(keys))


def parse_object(obj: dict[str, Any], fmt: Format) -> Parsed:
    """Validate an object of a known shape and return its normalised fields."""
    return _PARSERS[fmt](obj)


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


def json_type(value: Any) -> str:
    """The JSON type of a value, with its article: 3 -> 'a number', {} -> 'an object'."""
    return JSON_TYPES.get(type(value).__name__, type(value).__name__)


def _string(
    obj: dict[str, Any], key: str, *, required: bool = True, empty_ok: bool = False
) -> str | None:
    """Return obj[key] as a string, checking presence, type and emptiness."""
    if key not in obj or obj[key] is None:
        if required:
            code = "missing_answer" if key in {"completion", *ANSWER_KEYS} else "missing_field"
            raise LineError(code, f"'{key}' is missing", f'add a non-empty "{key}" string')
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise LineError(
            "wrong_type",
            f"'{key}' is {json_type(value)}, not a string",
            f'write "{key}" as a JSON string, e.g. "{key}": "..."',
        )
    if not empty_ok and not value.strip():
        code = "empty_answer" if key in {"completion", *ANSWER_KEYS} else "empty_field"
        raise LineError(code, f"'{key}' is empty", f'fill "{key}" or drop the line')
    return value


def _qa(fmt: Format, question: str, answer: str, **extra: Any) -> Parsed:
    return Parsed(format=fmt, question=question, answer=answer, **extra)


def _prompt_completion(obj: dict[str, Any]) -> Parsed:
    if isinstance(obj.get("prompt"), list):
        return _trl_conversational(obj)
    if "completion" not in obj:
        alt = next((k for k in ANSWER_KEYS if k in obj), None)
        hint = f"rename '{alt}' to 'completion'" if alt else 'add "completion": "..."'
        raise LineError("missing_answer", "'prompt' has no 'completion'", hint)
    question = _string(obj, "prompt")
    answer = _string(obj, "completion")
    assert question is not None and answer is not None
    return _qa(Format.PROMPT_COMPLETION, question, answer)


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
    question = _string(obj, "instruction")
    answer = _string(obj, present[0])
    context = _string(obj, "input", required=False, empty_ok=True) or None
    system = _string(obj, "system", required=False, empty_ok=True) or None
    assert question is not None and answer is not None
    return _qa(Format.INSTRUCTION, question, answer, context=context, system=system)


def _vertex(obj: dict[str, Any]) -> Parsed:
    question = _string(obj, "input_text")
    if "output_text" not in obj:
        raise LineError("missing_answer", "'input_text' has no 'output_text'", 'add "output_text"')
    answer = _string(obj, "output_text")
    assert question is not None and answer is not None
    return _qa(Format.VERTEX, question, answer)


def _text(obj: dict[str, Any]) -> Parsed:
    return Parsed(format=Format.TEXT, text=_string(obj, "text"))


def _classification(obj: dict[str, Any]) -> Parsed:
    text = _string(obj, "text")
    label = obj.get("label")
    if isinstance(label, bool) or not isinstance(label, str | int):
        raise LineError(
            "wrong_type",
            f"'label' is {json_type(label)}, not a string",
            'write the label as a string, e.g. "label": "positive"',
        )
    if not str(label).strip():
        raise LineError("empty_answer", "'label' is empty", "give every text a label")
    return Parsed(format=Format.CLASSIFICATION, text=text, label=str(label))


def _content(value: Any, where: str) -> str:
    """Message content: a string, or a list of text parts joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise LineError(
                    "wrong_type",
                    f"{where} has a non-text part {str(part)[:60]}",
                    'only text parts are supported: {"type": "text", "text": "..."}',
                )
        return "".join(texts)
    raise LineError(
        "wrong_type",
        f"{where} content is {json_type(value)}",
        "write content as a string or a list of text parts",
    )


def _chat(obj: dict[str, Any]) -> Parsed:
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise LineError(
            "wrong_type", "'messages' is not a non-empty list", 'write "messages": [{...}, ...]'
        )
    turns: list[tuple[str, str]] = []
    for i, msg in enumerate(messages, 1):
        if not isinstance(msg, dict):
            raise LineError(
                "wrong_type", f"message {i} is not an object", '{"role": ..., "content": ...}'
            )
        role = msg.get("role")
        if role not in CHAT_ROLES:
            fix = ROLE_HINTS.get(str(role).lower(), "system, user or assistant")
            raise LineError("unknown_role", f"message {i} has role {role!r}", f"use role {fix!r}")
        if "content" not in msg:
            raise LineError(
                "missing_field", f"message {i} has no 'content'", 'add "content": "..."'
            )
        turns.append((role, _content(msg["content"], f"message {i}")))
    return _from_turns(Format.CHAT, turns)


def _trl_conversational(obj: dict[str, Any]) -> Parsed:
    prompt, completion = obj.get("prompt"), obj.get("completion")
    if not isinstance(completion, list):
        raise LineError(
            "wrong_type",
            "'prompt' is a list but 'completion' is not",
            "make both lists of messages",
        )
    parsed = _chat({"messages": [*prompt, *completion]})  # type: ignore[misc]
    return parsed


def _gemini(obj: dict[str, Any]) -> Parsed:
    contents = obj["contents"]
    if not isinstance(contents, list) or not contents:
        raise LineError(
            "wrong_type", "'contents' is not a non-empty list", 'write "contents": [{...}]'
        )
    turns: list[tuple[str, str]] = []
    sys_obj = obj.get("systemInstruction", obj.get("system_instruction"))
    if sys_obj is not None:
        parts = sys_obj.get("parts") if isinstance(sys_obj, dict) else None
        turns.append(("system", _content(parts, "systemInstruction")))
    for i, item in enumerate(contents, 1):
        if not isinstance(item, dict):
            raise LineError(
                "wrong_type", f"contents[{i}] is not an object", '{"role": ..., "parts": [...]}'
            )
        role = item.get("role")
        if role not in GEMINI_ROLES:
            fix = "model" if role == "assistant" else "user or model"
            raise LineError(
                "unknown_role", f"contents[{i}] has role {role!r}", f"Gemini uses {fix!r}"
            )
        turns.append((GEMINI_ROLES[role], _content(item.get("parts"), f"contents[{i}]")))
    return _from_turns(Format.GEMINI, turns)


def _sharegpt(obj: dict[str, Any]) -> Parsed:
    conversations = obj["conversations"]
    if not isinstance(conversations, list) or not conversations:
        raise LineError(
            "wrong_type", "'conversations' is not a non-empty list", "write a list of turns"
        )
    turns: list[tuple[str, str]] = []
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        turns.append(("system", obj["system"]))
    for i, item in enumerate(conversations, 1):
        who = item.get("from") if isinstance(item, dict) else None
        if who not in SHAREGPT_ROLES:
            raise LineError(
                "unknown_role", f"turn {i} is from {who!r}", "use 'system', 'human' or 'gpt'"
            )
        turns.append((SHAREGPT_ROLES[who], _content(item.get("value"), f"turn {i}")))
    return _from_turns(Format.SHAREGPT, turns)


def _from_turns(fmt: Format, turns: list[tuple[str, str]]) -> Parsed:
    """Check the order of chat turns and take the question/answer from the last exchange."""
    check_turn_order(turns)
    system = turns[0][1] if turns[0][0] == "system" else None
    dialogue = [content for role, content in turns if role != "system"]
    return Parsed(
        format=fmt,
        turns=turns,
        system=system,
        question=dialogue[-2],
        answer=dialogue[-1],
        multi_turn=len(dialogue) > 2,
    )


def check_turn_order(turns: list[tuple[str, str]]) -> None:
    """Raise unless turns are [system] user assistant (user assistant)... with non-empty answers."""
    roles = [role for role, _ in turns]
    if "assistant" not in roles:
        raise LineError(
            "no_assistant",
            "the chat has no assistant turn",
            "end the chat with the expected assistant reply",
        )
    if "system" in roles[1:]:
        raise LineError(
            "role_order",
            "a system turn appears after the first turn",
            "put the system turn first, once",
        )
    dialogue = roles[1:] if roles[0] == "system" else roles
    expected = ["user", "assistant"] * (len(dialogue) // 2 + 1)
    if dialogue != expected[: len(dialogue)] or dialogue[-1] != "assistant":
        shown = " -> ".join(roles)
        raise LineError(
            "role_order",
            f"roles out of order: {shown}",
            "alternate user and assistant, starting with user and ending with assistant",
        )
    for role, content in turns:
        if role == "assistant" and not content.strip():
            raise LineError(
                "empty_answer", "an assistant turn is empty", "write the expected reply"
            )


_PARSERS = {
    Format.PROMPT_COMPLETION: _prompt_completion,
    Format.INSTRUCTION: _instruction,
    Format.VERTEX: _vertex,
    Format.CHAT: _chat,
    Format.GEMINI: _gemini,
    Format.SHAREGPT: _sharegpt,
    Format.TEXT: _text,
    Format.CLASSIFICATION: _classification,
}
