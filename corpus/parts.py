"""A turn's content: a string, or a list of parts (OpenAI, TRL, Gemini, LLaMA-Factory v1).

Text parts (under `text` or `value`) are joined into the turn's text. Image, audio, video and
file parts are dropped and counted. Reasoning parts (`reasoning`, `thinking`, Gemini's
`thought: true`) are dropped and counted too: they are how a reply was reached, not the reply,
so they must not become the answer that is indexed, scored against or trained on, and `Record`
has no field for them. `tool_call` parts (LLaMA-Factory v1 writes an assistant's calls this way)
are read as tool calls, as OpenAI's `tool_calls` are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corpus.diagnose import json_type
from corpus.errors import LineError
from corpus.record import ToolCall
from corpus.tools import parse_calls

MEDIA_PARTS = frozenset(
    ("image", "image_url", "input_image", "audio", "input_audio", "video", "video_url", "file")
)
GEMINI_MEDIA = frozenset(("inlineData", "inline_data", "fileData", "file_data"))
REASONING_PARTS = frozenset(("reasoning", "thinking", "redacted_thinking"))
CALL_PARTS = frozenset(("tool_call",))
# keys some chat datasets (DeepSeek-R1 and Qwen distillations) put the reasoning under
REASONING_KEYS = ("reasoning_content", "reasoning")


@dataclass(slots=True)
class Seen:
    """What a line's parts held besides text: counts for the whole line, calls for one turn."""

    media: int = 0
    reasoning: int = 0
    calls: list[ToolCall] = field(default_factory=list)

    def take_calls(self) -> tuple[ToolCall, ...]:
        """The calls read since the last take (one turn's), leaving none."""
        calls, self.calls = tuple(self.calls), []
        return calls


def content(value: Any, where: str, seen: Seen) -> str:
    """A turn's text: a string, or its text parts joined (media, reasoning and calls set apart).

    >>> seen = Seen()
    >>> parts = [{"type": "reasoning", "value": "Lamp asked: check stock."},
    ...          {"type": "text", "value": "Look: "}, {"type": "image_url"},
    ...          {"type": "tool_call", "value": '{"name": "stock", "arguments": {"sku": 7}}'}]
    >>> content(parts, "turn 1", seen), seen.media, seen.reasoning, seen.take_calls()[0].name
    ('Look: ', 1, 1, 'stock')
    """
    if type(value) is str:
        return value
    if type(value) is not list:
        raise LineError(
            "wrong_type",
            f"{where} content is {json_type(value)}",
            "write content as a string or a list of text parts",
        )
    texts = []
    for part in value:
        if type(part) is str:
            texts.append(part)
            continue
        kind = part.get("type") if type(part) is dict else None
        if kind in REASONING_PARTS or (type(part) is dict and part.get("thought") is True):
            seen.reasoning += 1
        elif kind in CALL_PARTS:
            seen.calls.extend(parse_calls(part.get("value", part.get(kind)), where))
        elif type(part) is dict and type(text := part.get("text", part.get("value"))) is str:
            texts.append(text)
        elif type(part) is dict and (kind in MEDIA_PARTS or GEMINI_MEDIA & part.keys()):
            seen.media += 1
        else:
            raise LineError(
                "wrong_type",
                f"{where} has a part that is neither text nor media: {str(part)[:60]}",
                'write text parts as {"type": "text", "text": "..."}'
                + ("; Gemini function-call parts are not read" if _is_gemini_call(part) else ""),
            )
    return "".join(texts)


def reasoning_beside(msg: dict[str, Any]) -> bool:
    """True when a message carries its reasoning in a key of its own (`reasoning_content`)."""
    return any(type(v := msg.get(k)) is str and v.strip() for k in REASONING_KEYS)


def _is_gemini_call(part: Any) -> bool:
    return type(part) is dict and not {"functionCall", "functionResponse"}.isdisjoint(part)
