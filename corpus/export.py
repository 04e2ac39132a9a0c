"""Write records in each platform's fine-tuning format, checking that platform's own rules.

Every target reports the records it could not convert and why, instead of writing a line the
platform would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from corpus.errors import ExportError
from corpus.names import printable
from corpus.record import Format, Message, Record, SourceRef


class ExportProblem(BaseModel):
    """A record a target could not take."""

    record_id: str
    source: SourceRef
    reason: str

    def __str__(self) -> str:
        return printable(f"{self.source.file}:{self.source.line}: {self.record_id}: {self.reason}")


class ExportResult(BaseModel):
    """The lines written for a target and the records left out."""

    target: str
    lines: list[str] = Field(default_factory=list)
    problems: list[ExportProblem] = Field(default_factory=list)


class Unconvertible(Exception):
    """Raised by a converter when a record breaks the target's rules."""


def _dialogue(record: Record, *, tools_ok: bool = False) -> tuple[str | None, list[Message]]:
    """(system prompt, the other turns) of a record; Unconvertible for plain text, and for tool
    calls where the target has no place for them."""
    if record.has_tools and not tools_ok:
        raise Unconvertible(
            "has tool calls or offered tools; this target has no place for them "
            "(openai, sharegpt and trl-conversational keep them)"
        )
    turns = record.chat()
    if not turns:
        raise Unconvertible("plain text has no assistant reply; this target needs one")
    system = turns[0].content if turns[0].role == "system" else None
    return system, [t for t in turns if t.role != "system"]


def _single_turn(record: Record) -> tuple[str | None, str, str]:
    system, dialogue = _dialogue(record)
    if len(dialogue) != 2:
        raise Unconvertible(f"a {len(dialogue) // 2}-turn chat; this target holds one exchange")
    return system, dialogue[0].content, dialogue[1].content


def _call_ids(dialogue: list[Message]) -> dict[int, str]:
    """An id for every tool call and the tool turn answering it (`call_N` where a format had none)."""
    ids: dict[int, str] = {}
    pending: list[str] = []
    for i, m in enumerate(dialogue):
        for k, call in enumerate(m.tool_calls):
            pending.append(call.id or f"call_{i}_{k}")
            ids[(i << 8) | k] = pending[-1]
        if m.role == "tool":
            ids[i << 8] = m.tool_call_id or (pending.pop(0) if pending else f"call_{i}")
    return ids


def _openai_message(
    m: Message, i: int, ids: dict[int, str], raw_args: bool = True
) -> dict[str, Any]:
    line: dict[str, Any] = {"role": m.role}
    if m.content or not m.tool_calls:
        line["content"] = m.content
    if m.tool_calls:
        line["tool_calls"] = [
            {
                "id": ids[(i << 8) | k],
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.arguments if raw_args else json.loads(c.arguments),
                },
            }
            for k, c in enumerate(m.tool_calls)
        ]
    if m.role == "tool":
        line["tool_call_id"] = ids[i << 8]
        if m.name:
            line["name"] = m.name
    return line


def _openai_tools(record: Record) -> list[dict[str, Any]]:
    return [{"type": "function", "function": t} for t in json.loads(record.tools or "[]")]


def to_openai(record: Record) -> dict[str, Any]:
    """OpenAI chat fine-tuning: system/user/assistant/tool messages ending with the assistant,
    tool calls and offered tools kept."""
    system, dialogue = _dialogue(record, tools_ok=True)
    head = [{"role": "system", "content": system}] if system else []
    ids = _call_ids(dialogue)
    line: dict[str, Any] = {
        "messages": head + [_openai_message(m, i, ids) for i, m in enumerate(dialogue)]
    }
    if record.tools:
        line["tools"] = _openai_tools(record)
    return line


def to_gemini(record: Record) -> dict[str, Any]:
    """Vertex AI / Gemini supervised tuning: contents with user/model roles, optional systemInstruction."""
    system, dialogue = _dialogue(record)
    line: dict[str, Any] = {}
    if system:
        line["systemInstruction"] = {"parts": [{"text": system}]}
    roles = {"user": "user", "assistant": "model"}
    line["contents"] = [{"role": roles[m.role], "parts": [{"text": m.content}]} for m in dialogue]
    return line


def to_alpaca(record: Record) -> dict[str, Any]:
    """Alpaca: instruction / input / output (+ system, as LLaMA-Factory reads it)."""
    system, question, answer = _single_turn(record)
    if (
        record.format is not Format.CHAT
        and record.question is not None
        and record.context is not None
    ):
        question = record.question
        line = {"instruction": question, "input": record.context, "output": answer}
    else:
        line = {"instruction": question, "input": "", "output": answer}
    if system:
        line["system"] = system
    return line


def _sharegpt_turns(m: Message) -> list[dict[str, str]]:
    if not m.tool_calls:
        names = {"user": "human", "assistant": "gpt", "tool": "observation"}
        return [{"from": names[m.role], "value": m.content}]
    calls = [{"name": c.name, "arguments": json.loads(c.arguments)} for c in m.tool_calls]
    value = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
    return [{"from": "function_call", "value": value}]


def to_sharegpt(record: Record) -> dict[str, Any]:
    """ShareGPT (LLaMA-Factory): human/gpt turns, function_call/observation turns, system and
    tools (a JSON string) in their own keys."""
    system, dialogue = _dialogue(record, tools_ok=True)
    if any(m.content and m.tool_calls for m in dialogue):
        raise Unconvertible("an assistant turn has both text and tool calls; ShareGPT holds one")
    line: dict[str, Any] = {"conversations": [t for m in dialogue for t in _sharegpt_turns(m)]}
    if system:
        line["system"] = system
    if record.tools:
        line["tools"] = json.dumps(json.loads(record.tools), ensure_ascii=False)
    return line


def to_trl_prompt_completion(record: Record) -> dict[str, Any]:
    """TRL standard prompt-completion: two strings; a system prompt has no place in it."""
    system, question, answer = _single_turn(record)
    if system:
        raise Unconvertible("has a system prompt; TRL prompt-completion strings cannot carry one")
    return {"prompt": question, "completion": answer}


def to_trl_conversational(record: Record) -> dict[str, Any]:
    """TRL conversational prompt-completion: prompt messages and the final assistant message;
    tool calls (arguments as objects) and `tools` as TRL's tool-calling datasets write them."""
    system, dialogue = _dialogue(record, tools_ok=True)
    head = [{"role": "system", "content": system}] if system else []
    ids = _call_ids(dialogue)
    turns = [_openai_message(m, i, ids, raw_args=False) for i, m in enumerate(dialogue)]
    line: dict[str, Any] = {"prompt": head + turns[:-1], "completion": turns[-1:]}
    if record.tools:
        line["tools"] = _openai_tools(record)
    return line


def to_text(record: Record) -> dict[str, Any]:
    """Plain text for causal LM training; QA records are rendered as `Question: … / Answer: …`."""
    if record.format is Format.TEXT and record.text is not None:
        return {"text": record.text}
    if record.format is Format.CLASSIFICATION:
        return {"text": f"{record.text}\nLabel: {record.label}"}
    system, dialogue = _dialogue(record)
    names = {"user": "Question", "assistant": "Answer"}
    body = "\n".join(f"{names[m.role]}: {m.content}" for m in dialogue)
    return {"text": f"{system}\n{body}" if system else body}


TARGETS: dict[str, Callable[[Record], dict[str, Any]]] = {
    "openai": to_openai,
    "gemini": to_gemini,
    "alpaca": to_alpaca,
    "sharegpt": to_sharegpt,
    "trl-prompt-completion": to_trl_prompt_completion,
    "trl-conversational": to_trl_conversational,
    "text": to_text,
}
ALIASES = {"vertex": "gemini", "chat": "openai", "trl": "trl-conversational"}


def export_records(
    records: Iterable[Record], target: str, *, keep_meta: bool = False
) -> ExportResult:
    """Convert records to a target's JSONL lines; `keep_meta` adds each record's id and as_of keys."""
    name = ALIASES.get(target, target)
    if name not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; choose one of {', '.join(TARGETS)}")
    convert = TARGETS[name]
    result = ExportResult(target=name)
    for record in records:
        try:
            line = convert(record)
        except Unconvertible as why:
            result.problems.append(
                ExportProblem(record_id=record.id, source=record.source, reason=str(why))
            )
            continue
        if keep_meta:
            line = {"id": record.id, **line}
            if record.as_of:
                line["as_of"] = record.as_of.isoformat()
        result.lines.append(json.dumps(line, ensure_ascii=False))
    return result


def write_export(
    records: Iterable[Record], target: str, out: Path, *, keep_meta: bool = False
) -> ExportResult:
    """Export records to a UTF-8 JSONL file (no BOM, one object per line)."""
    result = export_records(records, target, keep_meta=keep_meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{line}\n" for line in result.lines), encoding="utf-8")
    return result
