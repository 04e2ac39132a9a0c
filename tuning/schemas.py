"""The OpenAI request shapes the local server honours, and the reply bodies it writes.

Every bound here is checked by validation, before any text is tokenized.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tuning.generate import Generation

# OpenAI documents `seed` as a 64-bit integer; torch takes the same range
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1


class ChatMessage(BaseModel):
    """One message of a request; content may be text or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content)
        return self.content or ""


class Decoding(BaseModel):
    """Fields shared by chat and text completions."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    max_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    stop: str | list[str] | None = Field(None, max_length=4)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=1)
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)

    def stops(self) -> tuple[str, ...]:
        """The stop strings as a tuple (empty strings dropped)."""
        values = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        return tuple(s for s in values if s)


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
    logprobs: int | None = Field(None, ge=0, le=5)

    def prompts(self) -> list[str]:
        """The prompt(s) as a list."""
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request: one text or a list of texts."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
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
