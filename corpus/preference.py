"""Read preference pairs (DPO): the chosen answer becomes the record, the rejected one is dropped.

Shapes read: ShareGPT `conversations` + `chosen`/`rejected` turn objects (LLaMA-Factory),
`messages` or `prompt` + `chosen`/`rejected` as strings, messages or lists of messages (TRL,
explicit or implicit prompt), Alpaca `instruction` [+ `input`] + `chosen`/`rejected`, and
OpenAI's `input.messages` + `preferred_output`/`non_preferred_output`, and `messages` ending
with the chosen answer + `rejected_response`. A rejected answer is
checked (a pair without one is malformed) and counted, never kept.
"""

from __future__ import annotations

from typing import Any

from corpus.chats import parse_chat, parse_sharegpt
from corpus.diagnose import json_type
from corpus.errors import LineError
from corpus.parsed import Parsed, string_field
from corpus.parts import REASONING_PARTS
from corpus.record import Format

PAIRS = (
    ("chosen", "rejected"),
    ("preferred_output", "non_preferred_output"),
    ("messages", "rejected_response"),  # the chosen answer ends `messages`
)
PAIR_KEYS = frozenset(
    ("chosen", "rejected", "preferred_output", "non_preferred_output", "rejected_response")
)


def parse_dpo(obj: dict[str, Any]) -> Parsed:
    """A preference pair as the record of its chosen answer (`negatives` counts the dropped one)."""
    if "rejected_response" in obj:
        _check_rejected(obj["rejected_response"], "rejected_response")
        parsed = parse_chat(obj, Format.DPO)
        parsed.negatives = 1
        return parsed
    good_key, bad_key = PAIRS[1] if "preferred_output" in obj else PAIRS[0]
    if bad_key not in obj:
        raise LineError(
            "missing_field",
            f"'{good_key}' has no '{bad_key}'",
            f'a DPO pair needs both answers: add "{bad_key}", or rename "{good_key}" to the '
            "answer key of a supervised format",
        )
    _check_rejected(obj[bad_key], bad_key)
    parsed = _chosen(obj, good_key)
    parsed.format, parsed.negatives = Format.DPO, 1
    return parsed


def _chosen(obj: dict[str, Any], key: str) -> Parsed:
    chosen = obj[key]
    if key == "preferred_output":
        source = obj.get("input")
        if type(source) is not dict:
            raise LineError(
                "wrong_type",
                f"'input' is {json_type(source)}, not an object",
                'write "input": {"messages": [...]}',
            )
        return parse_chat(
            {
                "messages": _prompt_messages(source.get("messages"), "input.messages")
                + _as_messages(chosen, key),
                "tools": source.get("tools"),
            },
            Format.DPO,
        )
    if "conversations" in obj:
        turns = obj["conversations"]
        if type(turns) is not list:
            raise LineError("wrong_type", "'conversations' is not a list", "write a list of turns")
        turn = chosen if type(chosen) is dict else {"from": "gpt", "value": chosen}
        return parse_sharegpt({**obj, "conversations": [*turns, turn]}, Format.DPO)
    if "messages" in obj or type(obj.get("prompt")) is list or type(chosen) is list:
        prompt = obj.get("messages", obj.get("prompt", []))
        where = "messages" if "messages" in obj else "prompt"
        return parse_chat(
            {
                "messages": _prompt_messages(prompt, where) + _as_messages(chosen, key),
                "tools": obj.get("tools"),
            },
            Format.DPO,
        )
    answer = string_field(obj, key)
    if "instruction" in obj:
        question = string_field(obj, "instruction")
        context = string_field(obj, "input", required=False, empty_ok=True) or None
        system = string_field(obj, "system", required=False, empty_ok=True) or None
        return Parsed(Format.DPO, question=question, context=context, answer=answer, system=system)
    if "prompt" in obj:
        return Parsed(Format.DPO, question=string_field(obj, "prompt"), answer=answer)
    return Parsed(Format.DPO, text=answer)  # an implicit prompt: the chosen text is all there is


def _prompt_messages(value: Any, where: str) -> list[Any]:
    if type(value) is str:
        return [{"role": "user", "content": value}]
    if type(value) is not list:
        raise LineError(
            "wrong_type",
            f"'{where}' is {json_type(value)}",
            f'write "{where}" as a list of messages',
        )
    return value


def _as_messages(value: Any, key: str) -> list[Any]:
    """A chosen answer as assistant messages: a string, one message, or a list of them."""
    if type(value) is str:
        return [{"role": "assistant", "content": value}]
    if type(value) is dict:
        return [value]
    if type(value) is list and value:
        return value
    raise LineError(
        "wrong_type",
        f"'{key}' is {json_type(value)}",
        f'write "{key}" as a string, a message or a list of messages',
    )


def _check_rejected(value: Any, key: str) -> None:
    """A rejected answer must be there and non-empty, in any of the shapes a chosen one takes."""
    if type(value) is dict:
        value = value.get("content", value.get("value"))
    elif type(value) is list and value:
        last = value[-1]
        value = last.get("content", last.get("value")) if type(last) is dict else last
    if type(value) is list:  # content parts: text under `text` (OpenAI) or `value` (LLaMA-Factory)
        texts = [
            p.get("text", p.get("value"))
            for p in value
            if type(p) is dict and p.get("type") not in REASONING_PARTS
        ]
        value = " ".join(t for t in texts if type(t) is str) or None
    if type(value) is not str or not value.strip():
        raise LineError(
            "empty_field",
            f"'{key}' holds no answer text",
            f'write the dispreferred answer in "{key}" (it is checked, never kept)',
        )
