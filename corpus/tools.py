"""Read tool calls and offered tools in their OpenAI and ShareGPT spellings, canonically.

Call arguments and tool schemas become canonical JSON text (sorted keys), so the same call hashes
alike whichever format wrote it.
"""

from __future__ import annotations

import json
from typing import Any

from corpus.errors import LineError
from corpus.parsed import TurnExtra
from corpus.record import ToolCall


def chat_extra(msg: dict[str, Any], role: str, i: int) -> TurnExtra | None:
    """The tool calls of an assistant turn, or the call a tool turn answers."""
    if role == "tool":
        name, call_id = msg.get("name"), msg.get("tool_call_id")
        return TurnExtra(
            call_id=call_id if type(call_id) is str else None,
            name=name if type(name) is str else None,
        )
    raw = msg.get("tool_calls") or msg.get("function_call")
    if role != "assistant" or not raw:
        return None
    calls = raw if type(raw) is list else [raw]
    return TurnExtra(calls=tuple(_openai_call(c, f"message {i}") for c in calls))


def _openai_call(call: Any, where: str) -> ToolCall:
    """`{"id", "type": "function", "function": {"name", "arguments"}}` (or the legacy bare form)."""
    body = call.get("function", call) if type(call) is dict else None
    name = body.get("name") if type(body) is dict else None
    if type(name) is not str or not name:
        raise LineError(
            "bad_tool_call",
            f"{where} has a tool call without a function name: {str(call)[:60]}",
            'write {"type": "function", "function": {"name": "...", "arguments": "{...}"}}',
        )
    call_id = call.get("id") if type(call) is dict else None
    arguments = _arguments(body.get("arguments", {}), where)  # type: ignore[union-attr]
    return ToolCall(name=name, arguments=arguments, id=call_id if type(call_id) is str else None)


def _arguments(value: Any, where: str) -> str:
    """Call arguments as canonical JSON text (sorted keys), whether given as text or an object."""
    if type(value) is str:
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as err:
            raise LineError(
                "bad_tool_call",
                f"{where}: the call's arguments are not JSON ({err.msg})",
                'write "arguments" as a JSON object or its JSON text',
            ) from None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def parse_calls(value: Any, where: str) -> tuple[ToolCall, ...]:
    """ShareGPT's function_call turn: `{"name", "arguments"}` (or a list of them), as JSON text."""
    if type(value) is str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    calls = value if type(value) is list else [value]
    if not calls or any(type(c) is not dict or type(c.get("name")) is not str for c in calls):
        raise LineError(
            "bad_tool_call",
            f"{where} is a function call but not JSON with a name",
            'write the value as {"name": "...", "arguments": {...}}',
        )
    return tuple(
        ToolCall(name=c["name"], arguments=_arguments(c.get("arguments", {}), where)) for c in calls
    )


def tools_json(value: Any) -> str | None:
    """Offered tools as canonical JSON: a list of function schemas (OpenAI's wrapper removed).

    >>> tools_json('[{"name": "f", "parameters": {}}]')
    '[{"name":"f","parameters":{}}]'
    """
    if value is None or value == "" or value == []:
        return None
    if type(value) is str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if type(value) is not list or any(type(t) is not dict for t in value):
        raise LineError(
            "wrong_type",
            "'tools' is not a list of function schemas",
            'write "tools" as [{"type": "function", "function": {"name": ...}}] or its JSON text',
        )
    schemas = [t["function"] if type(t.get("function")) is dict else t for t in value]
    return json.dumps(schemas, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render_calls(calls: tuple[ToolCall, ...]) -> str:
    """Tool calls as the answer text of a chat that ends by calling them.

    >>> render_calls((ToolCall(name="weather", arguments='{"city":"Oslo"}'),))
    'weather({"city":"Oslo"})'
    """
    return "; ".join(f"{c.name}({c.arguments})" for c in calls)
