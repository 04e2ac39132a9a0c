"""The one normalised shape every corpus line becomes: `Record`, its chat turns and its content hash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from hashlib import sha256
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

M = TypeVar("M", bound=BaseModel)
_FIELD_SETS: dict[type[BaseModel], set[str]] = {}
_new, _setattr = object.__new__, object.__setattr__


def construct(cls: type[M], **fields: Any) -> M:
    """Build a model from already-checked fields, skipping validation (the loader's hot path).

    >>> construct(SourceRef, file="a.jsonl", line=3).line
    3
    """
    return build(cls, fields)


def build(cls: type[M], fields: dict[str, Any]) -> M:
    """`construct` from a dict the caller owns: every field must be there, already checked.

    Measured against pydantic's `model_construct` (which also walks defaults and aliases per
    call): a `Record` takes 3.3 µs here and 8.8 µs there, a `SourceRef` 1.2 µs and 3.7 µs. In
    `bench/corpus_load.py` (50k lines, one run) `model_construct` took the load from 3.95x to
    7.05x the bare `json.loads` time (streaming: 2.99x to 5.20x), so the loader keeps this.
    """
    obj = _new(cls)
    setattr_ = _setattr
    setattr_(obj, "__dict__", fields)
    field_set = _FIELD_SETS.get(cls)
    if field_set is None:  # `cls.model_fields` is a slow descriptor: read it once per class
        field_set = _FIELD_SETS[cls] = set(cls.model_fields)
    setattr_(obj, "__pydantic_fields_set__", field_set)
    setattr_(obj, "__pydantic_extra__", None)
    setattr_(obj, "__pydantic_private__", None)
    return obj


class Format(StrEnum):
    """The JSONL shapes a corpus line may take."""

    PROMPT_COMPLETION = "prompt_completion"  # prompt / completion
    INSTRUCTION = "instruction"  # instruction [+ input] + output | output_text | response
    VERTEX = "vertex"  # input_text / output_text (Vertex AI supervised tuning)
    CHAT = "chat"  # messages: [{role: system|user|assistant|tool, content}]
    GEMINI = "gemini"  # contents: [{role: user|model, parts: [{text}]}]
    SHAREGPT = (
        "sharegpt"  # conversations: [{from: system|human|gpt|function_call|observation, value}]
    )
    TEXT = "text"  # plain text for causal LM
    CLASSIFICATION = "classification"  # text + label
    DPO = "dpo"  # a prompt with a chosen and a rejected answer: the chosen one is the record
    KTO = "kto"  # a chat with a desirable (true) or undesirable (false) label: only true is kept


Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One function call an assistant turn makes; `arguments` is JSON text, as OpenAI writes it."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: str = "{}"
    id: str | None = None


class Message(BaseModel):
    """One chat turn; tool calls and tool results keep what links them."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # on a tool turn: the call it answers
    name: str | None = None  # on a tool turn: the function that produced it


class SourceRef(BaseModel):
    """Where a record came from."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int


class Record(BaseModel):
    """One training example, whatever format it was written in.

    QA-style formats fill `question` (and optional `context`) and `answer`; chat records also keep
    every turn in `messages` (question/answer are the last user turn and the final assistant
    text; tool calls and results stay in `messages`); `text` holds plain text; classification
    fills `text` and `label`. `tools` is the JSON list of function schemas a tool chat offered.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    format: Format
    question: str | None = None
    context: str | None = None
    answer: str | None = None
    system: str | None = None
    messages: tuple[Message, ...] = ()
    text: str | None = None
    label: str | None = None
    as_of: date | None = None
    batch: str | None = None
    source: SourceRef
    content_hash: str
    meta: dict[str, str] = Field(default_factory=dict)
    tools: str | None = None

    @property
    def is_qa(self) -> bool:
        """True when the record has a question and an answer (every format but text/label)."""
        return self.question is not None and self.answer is not None

    @property
    def has_tools(self) -> bool:
        """True when the record offers tools or holds tool calls or tool results."""
        return self.tools is not None or any(
            m.role == "tool" or m.tool_calls for m in self.messages
        )

    def prompt_text(self) -> str:
        """The question with its context, as a model would be asked it."""
        if self.question is None:
            return self.text or ""
        return f"{self.question}\n\n{self.context}" if self.context else self.question

    def chat(self) -> list[Message]:
        """The record as chat turns (system, user, assistant...); empty for plain text."""
        if self.messages:
            return list(self.messages)
        pairs = turn_pairs(
            self.format,
            self.question,
            self.context,
            self.answer,
            self.system,
            self.text,
            self.label,
        )
        return [Message(role=role, content=content) for role, content in pairs]


def turn_pairs(
    fmt: Format,
    question: str | None,
    context: str | None,
    answer: str | None,
    system: str | None,
    text: str | None,
    label: str | None,
) -> list[tuple[str, str]]:
    """(role, content) pairs of a single-exchange record; classification is text -> label.

    >>> turn_pairs(Format.INSTRUCTION, "Sum?", "2 3", "5", None, None, None)
    [('user', 'Sum?\\n\\n2 3'), ('assistant', '5')]
    """
    turns = [("system", system)] if system else []
    if fmt is Format.CLASSIFICATION and text is not None:
        return [*turns, ("user", text), ("assistant", label or "")]
    if question is not None and answer is not None:
        user = f"{question}\n\n{context}" if context else question
        return [*turns, ("user", user), ("assistant", answer)]
    return turns


def content_hash(
    turns: Sequence[Message] | Sequence[tuple[str, str]],
    text: str | None = None,
    tools: str | None = None,
) -> str:
    """A hash of what a record teaches, independent of the file format it was written in.

    The same question and answer as prompt/completion, as a two-turn chat or as Gemini contents
    hash alike; plain text records hash their text. Tool calls, tool results and offered tools
    count only for the records that have them, so every other record keeps its hash.

    >>> content_hash([("user", "2+2?"), ("assistant", "4")]) == content_hash(
    ...     [Message(role="user", content="2+2?"), Message(role="assistant", content="4")])
    True
    """
    pairs = [
        (t.role, hash_content(t.content, t.tool_calls)) if isinstance(t, Message) else t
        for t in turns
    ]
    return hash_pairs(pairs, text, tools)


def hash_content(content: str, calls: Sequence[ToolCall] = ()) -> str:
    """A turn's content as the hash sees it: the text, then each call's name and arguments.

    Call ids are left out: they are opaque and one format has them where another does not.
    """
    if not calls:
        return content
    return content + "".join(f"\x1d{c.name}\x1f{c.arguments}" for c in calls)


def hash_pairs(pairs: Sequence[tuple[str, str]], text: str | None, tools: str | None = None) -> str:
    """`content_hash` of (role, content) pairs, the loader's hot path."""
    # control characters as separators: unambiguous and far cheaper than json.dumps
    if not pairs:
        return sha256(f"\x1d{text}".encode()).hexdigest()
    if len(pairs) == 2:  # the common single exchange, without the list and join
        (r0, c0), (r1, c1) = pairs
        joined = f"{r0}\x1f{c0}\x1e{r1}\x1f{c1}"
    else:
        joined = "\x1e".join([f"{r}\x1f{c}" for r, c in pairs])
    if tools is not None:
        joined += f"\x1etools\x1f{tools}"
    return sha256(joined.encode()).hexdigest()
