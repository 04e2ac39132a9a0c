"""Read chat-shaped lines: OpenAI messages (tool calls included), Gemini contents, ShareGPT turns.

Content parts are read by `corpus.parts`: text kept, media and reasoning dropped and counted (the
caller warns), `tool_call` parts read as calls; tool calls and tool results are kept as turns.
"""

from __future__ import annotations

from typing import Any

from corpus.errors import LineError
from corpus.parsed import Parsed, TurnExtra
from corpus.parts import Seen, content, reasoning_beside
from corpus.record import Format
from corpus.tools import chat_extra, parse_calls, render_calls, tools_json

CHAT_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
CHAT_ROLES |= {"function": "tool", "observation": "tool", "function_call": "assistant"}
GEMINI_ROLES = {"user": "user", "model": "assistant"}
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant"}
SHAREGPT_ROLES |= {"assistant": "assistant", "observation": "tool", "tool": "tool"}
SHAREGPT_ROLES |= {"function_call": "assistant", "tool_call": "assistant"}  # value: the call
ROLE_HINTS = {"bot": "assistant", "ai": "assistant", "model": "assistant", "human": "user"}


def parse_chat(obj: dict[str, Any], fmt: Format = Format.CHAT) -> Parsed:
    """OpenAI chat: `messages` of system/user/assistant/tool turns, `tools` offered."""
    messages = obj["messages"]
    if type(messages) is not list or not messages:
        raise LineError(
            "wrong_type", "'messages' is not a non-empty list", 'write "messages": [{...}, ...]'
        )
    turns: list[tuple[str, str]] = []
    extras: dict[int, TurnExtra] = {}
    seen = Seen()
    for i, msg in enumerate(messages, 1):
        if type(msg) is not dict:
            raise LineError(
                "wrong_type", f"message {i} is not an object", '{"role": ..., "content": ...}'
            )
        role = CHAT_ROLES.get(msg.get("role"))  # type: ignore[arg-type]
        if role is None:
            fix = ROLE_HINTS.get(str(msg.get("role")).lower(), "system, user, assistant or tool")
            raise LineError(
                "unknown_role", f"message {i} has role {msg.get('role')!r}", f"use role {fix!r}"
            )
        calls_here = role == "assistant" and ("tool_calls" in msg or "function_call" in msg)
        extra = chat_extra(msg, role, i) if calls_here or role == "tool" else None
        if "content" not in msg and not (extra and extra.calls):
            raise LineError(
                "missing_field", f"message {i} has no 'content'", 'add "content": "..."'
            )
        text = msg.get("content")
        if msg.get("role") == "function_call" and extra is None:
            extra, text = TurnExtra(calls=parse_calls(text, f"message {i}")), ""
        body = "" if text is None else content(text, f"message {i}", seen)
        extra = _with_part_calls(extra, seen, role, f"message {i}")
        seen.reasoning += role == "assistant" and reasoning_beside(msg)
        if extra is not None:
            extras[len(turns)] = extra
        turns.append((role, body))
    parsed = from_turns(fmt, turns, extras or None)
    parsed.tools = tools_json(obj.get("tools", obj.get("functions")))
    return _text_left(parsed, seen)


def parse_gemini(obj: dict[str, Any]) -> Parsed:
    """Gemini / Vertex AI: `contents` of user/model turns with text parts, `systemInstruction`."""
    contents = obj["contents"]
    if type(contents) is not list or not contents:
        raise LineError(
            "wrong_type", "'contents' is not a non-empty list", 'write "contents": [{...}]'
        )
    turns: list[tuple[str, str]] = []
    seen = Seen()
    sys_obj = obj.get("systemInstruction", obj.get("system_instruction"))
    if sys_obj is not None:
        parts = sys_obj.get("parts") if type(sys_obj) is dict else None
        turns.append(("system", content(parts, "systemInstruction", seen)))
        _with_part_calls(None, seen, "system", "systemInstruction")
    for i, item in enumerate(contents, 1):
        if type(item) is not dict:
            raise LineError(
                "wrong_type", f"contents[{i}] is not an object", '{"role": ..., "parts": [...]}'
            )
        role = item.get("role")
        if role not in GEMINI_ROLES:
            fix = "model" if role == "assistant" else "user or model"
            raise LineError(
                "unknown_role", f"contents[{i}] has role {role!r}", f"Gemini uses {fix!r}"
            )
        text = content(item.get("parts"), f"contents[{i}]", seen)
        if seen.calls:
            raise LineError(
                "bad_tool_call",
                f"contents[{i}] has a tool_call part",
                "Gemini contents are read as text: write tool-calling chats as OpenAI messages",
            )
        turns.append((GEMINI_ROLES[role], text))
    return _text_left(from_turns(Format.GEMINI, turns, None), seen)


def parse_sharegpt(obj: dict[str, Any], fmt: Format = Format.SHAREGPT) -> Parsed:
    """ShareGPT: `conversations` of human/gpt turns, function_call/observation turns, `tools`."""
    conversations = obj["conversations"]
    if type(conversations) is not list or not conversations:
        raise LineError(
            "wrong_type", "'conversations' is not a non-empty list", "write a list of turns"
        )
    turns: list[tuple[str, str]] = []
    extras: dict[int, TurnExtra] = {}
    seen = Seen()
    if type(obj.get("system")) is str and obj["system"].strip():
        turns.append(("system", obj["system"]))
    for i, item in enumerate(conversations, 1):
        who = item.get("from") if type(item) is dict else None
        role = SHAREGPT_ROLES.get(who)  # type: ignore[arg-type]
        if role is None:
            raise LineError(
                "unknown_role",
                f"turn {i} is from {who!r}",
                "use 'system', 'human', 'gpt', 'function_call' or 'observation'",
            )
        value = item.get("value", item.get("content"))
        if who in ("function_call", "tool_call"):
            extras[len(turns)] = TurnExtra(calls=parse_calls(value, f"turn {i}"))
            turns.append(("assistant", ""))
            continue
        text = content(value, f"turn {i}", seen)
        extra = _with_part_calls(TurnExtra() if role == "tool" else None, seen, role, f"turn {i}")
        if extra is not None:
            extras[len(turns)] = extra
        turns.append((role, text))
    parsed = from_turns(fmt, turns, extras or None)
    parsed.tools = tools_json(obj.get("tools"))
    return _text_left(parsed, seen)


def _with_part_calls(
    extra: TurnExtra | None, seen: Seen, role: str, where: str
) -> TurnExtra | None:
    """An assistant turn's `tool_call` parts join its calls; no other turn calls a tool."""
    calls = seen.take_calls()
    if not calls:
        return extra
    if role != "assistant":
        raise LineError(
            "bad_tool_call",
            f"{where} is a {role} turn with a tool_call part",
            "only assistant turns call tools; a tool's result is a tool turn of its own",
        )
    return TurnExtra(calls=(extra.calls if extra else ()) + calls)


def _text_left(parsed: Parsed, seen: Seen) -> Parsed:
    """Note what the parts left out; a question that was only media has no text to learn from."""
    parsed.media, parsed.reasoning = seen.media, seen.reasoning
    if parsed.media and not (parsed.question or "").strip():
        raise LineError(
            "empty_field",
            f"the question is only media ({parsed.media} item(s) dropped); no text is left",
            "this corpus reads text only: give the turn a text part",
        )
    return parsed


def from_turns(
    fmt: Format, turns: list[tuple[str, str]], extras: dict[int, TurnExtra] | None
) -> Parsed:
    """Check the order of chat turns; the question is the last user turn, the answer the final reply."""
    check_turn_order(turns, extras)
    system = turns[0][1] if turns[0][0] == "system" else None
    if extras is None:
        dialogue = [text for role, text in turns if role != "system"]
        question, answer, many = dialogue[-2], dialogue[-1], len(dialogue) > 2
    else:
        question = next(text for role, text in reversed(turns) if role == "user")
        answer = turns[-1][1] or render_calls(extras[len(turns) - 1].calls)
        many = True
    return Parsed(
        format=fmt,
        turns=turns,
        system=system,
        question=question,
        answer=answer,
        multi_turn=many,
        extras=extras,
    )


def check_turn_order(
    turns: list[tuple[str, str]], extras: dict[int, TurnExtra] | None = None
) -> None:
    """Raise unless turns are [system] user assistant (user assistant)... with non-empty answers.

    An assistant turn that calls tools is followed by one or more tool turns, then the assistant.
    """
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
    start = 1 if roles[0] == "system" else 0
    if extras is None:
        dialogue = roles[start:]
        expected = ["user", "assistant"] * (len(dialogue) // 2 + 1)
        in_order = dialogue == expected[: len(dialogue)] and dialogue[-1] == "assistant"
    else:
        in_order = _tool_order(roles, extras, start)
    if not in_order:
        shown = " -> ".join(_role_names(roles, extras))
        raise LineError(
            "role_order",
            f"roles out of order: {shown}",
            "alternate user and assistant, starting with user and ending with assistant"
            + ("; tool results follow the assistant turn that called them" if extras else ""),
        )
    for i, (role, text) in enumerate(turns):
        if role == "assistant" and not text.strip() and not (extras and i in extras):
            raise LineError(
                "empty_answer", "an assistant turn is empty", "write the expected reply"
            )


def _tool_order(roles: list[str], extras: dict[int, TurnExtra], start: int) -> bool:
    follows: dict[str, set[str | None]] = {
        "user": {None, "assistant"},
        "assistant": {"user", "tool"},
        "tool": {"call", "tool"},
    }
    prev: str | None = None
    for i in range(start, len(roles)):
        if prev not in follows[roles[i]]:
            return False
        prev = "call" if roles[i] == "assistant" and i in extras and extras[i].calls else roles[i]
    return prev in ("assistant", "call")


def _role_names(roles: list[str], extras: dict[int, TurnExtra] | None) -> list[str]:
    return [
        f"{r} (tool call)" if extras and i in extras and extras[i].calls else r
        for i, r in enumerate(roles)
    ]
