"""The OpenAI request shapes the local server honours, and the reply bodies it writes.

The shapes and fixed ranges are checked by validation, the server's own limits by `limits.py`,
both before any text is tokenized. Text that is not Unicode (a lone surrogate, which JSON's
escapes allow) and numbers that are not finite (`NaN`, `Infinity`, which Python's JSON reader
allows) are refused wherever they appear in a request, naming the field.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tuning.generate import Generation

# OpenAI documents `seed` as a 64-bit integer; torch takes the same range
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
MODEL_ID_CHARS = 256  # a model id is a name, not a place to send text
_SURROGATE = re.compile("[\ud800-\udfff]")


def find_bad_value(data: Any) -> str | None:
    """Where the parsed JSON holds a lone surrogate or a non-finite number, and what: None if
    nowhere. Walks without recursion, so no nesting depth can exhaust the stack.

    >>> find_bad_value({"messages": [{"content": "ok"}, {"content": "a\\ud800"}]})
    'messages.1.content: a lone surrogate (U+D800) at character 1 is not Unicode text — send UTF-8 text (a surrogate only as half of an escaped pair)'
    >>> find_bad_value({"top_p": float("nan")})
    'top_p: nan is not a finite number — send a number'
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if problem := _problem(where or "body", value):
            return problem
        if isinstance(value, dict):
            for key in value:  # keys are text too
                if problem := _problem(f"{where}{'.' if where else ''}(a key)", key):
                    return problem
            stack.extend(
                (f"{where}{'.' if where else ''}{k}", v) for k, v in reversed(value.items())
            )
        elif isinstance(value, list):
            stack.extend(
                (f"{where}.{i}" if where else str(i), v)
                for i, v in reversed(list(enumerate(value)))
            )
    return None


def _problem(where: str, value: Any) -> str | None:
    if isinstance(value, str) and (bad := _SURROGATE.search(value)):
        return (
            f"{where}: a lone surrogate (U+{ord(bad.group()):04X}) at character {bad.start()} "
            "is not Unicode text — send UTF-8 text (a surrogate only as half of an escaped pair)"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: {value} is not a finite number — send a number"
    return None


class Request(BaseModel):
    """A request body: unknown keys ignored, bad text or numbers anywhere refused."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _text_and_numbers(cls, data: Any) -> Any:
        bad = find_bad_value(data)
        if bad is not None:
            raise PydanticCustomError("invalid_value", bad)
        return data


class ContentPart(BaseModel):
    """One part of a message's content; only text parts carry text here."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field("text", max_length=64)
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of a request; content may be text or a list of text parts."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content)
        return self.content or ""

    def parts(self) -> int:
        """How many content parts the message has (plain text: one)."""
        return len(self.content) if isinstance(self.content, list) else 1


class StreamOptions(BaseModel):
    """`stream_options`: only `include_usage` is honoured."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class Decoding(Request):
    """Fields shared by chat and text completions."""

    model: str | None = Field(None, max_length=MODEL_ID_CHARS)
    max_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1)
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)

    def stops(self) -> tuple[str, ...]:
        """The stop strings as a tuple (empty strings dropped)."""
        return tuple(s for s in self.stop_list() if s)

    def stop_list(self) -> list[str]:
        """The stop strings as sent (one string is a list of one)."""
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def include_usage(self) -> bool:
        """Whether a stream ends with a usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(Decoding):
    """The subset of the OpenAI chat request this server honours (other keys are ignored)."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def turns(self) -> list[dict[str, str]]:
        """Messages as template dicts ('developer' is the newer name of 'system')."""
        role = {"developer": "system"}
        return [{"role": role.get(m.role, m.role), "content": m.text()} for m in self.messages]

    def chars(self) -> int:
        """Characters of all messages."""
        return sum(len(m.text()) for m in self.messages)


class CompletionRequest(Decoding):
    """OpenAI's legacy text completion, as lm-eval's `local-completions` uses it: with
    `echo: true, logprobs: 1, max_tokens: 0` it scores the prompt instead of continuing it."""

    prompt: str | list[str]
    echo: bool = False
    logprobs: int | None = Field(None, ge=0)

    def prompts(self) -> list[str]:
        """The prompt(s) as a list."""
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class EmbeddingRequest(Request):
    """OpenAI's embeddings request: one text or a list of texts."""

    model: str | None = Field(None, max_length=MODEL_ID_CHARS)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)

    def texts(self) -> list[str]:
        """The input(s) as a list."""
        return [self.input] if isinstance(self.input, str) else list(self.input)


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def usage(prompt: int, completion: int = 0) -> dict[str, int]:
    """OpenAI's usage block.

    >>> usage(11, 3)
    {'prompt_tokens': 11, 'completion_tokens': 3, 'total_tokens': 14}
    """
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_completion(reply_id: str, model: str, gen: Generation) -> dict[str, Any]:
    """A whole chat completion."""
    message = {"role": "assistant", "content": gen.text}
    choice = {"index": 0, "message": message, "finish_reason": gen.finish_reason, "logprobs": None}
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage(gen.prompt_tokens, gen.completion_tokens),
    }


def chat_chunk(
    reply_id: str, model: str, delta: dict[str, str], finish: str | None, use: Any = None
) -> str:
    """One server-sent event in OpenAI's chunk format (a usage chunk has no choices)."""
    choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    body = {
        "id": reply_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices if use is None else [],
        "usage": use,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
