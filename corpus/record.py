"""The one normalised shape every corpus line becomes, and the report of a load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from hashlib import sha256
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

M = TypeVar("M", bound=BaseModel)


def construct(cls: type[M], **fields: Any) -> M:
    """Build a model from already-checked fields, skipping validation (the loader's hot path).

    Like `model_construct` without its per-call default handling, so every field must be given;
    the loader checks each field itself before it gets here.
    """
    obj = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(obj, "__dict__", fields)
    setattr_(obj, "__pydantic_fields_set__", set(cls.model_fields))
    setattr_(obj, "__pydantic_extra__", None)
    setattr_(obj, "__pydantic_private__", None)
    return obj


class Format(StrEnum):
    """The JSONL shapes a corpus line may take."""

    PROMPT_COMPLETION = "prompt_completion"  # prompt / completion
    INSTRUCTION = "instruction"  # instruction [+ input] + output | output_text | response
    VERTEX = "vertex"  # input_text / output_text (Vertex AI supervised tuning)
    CHAT = "chat"  # messages: [{role: system|user|assistant, content}]
    GEMINI = "gemini"  # contents: [{role: user|model, parts: [{text}]}]
    SHAREGPT = "sharegpt"  # conversations: [{from: system|human|gpt, value}]
    TEXT = "text"  # plain text for causal LM
    CLASSIFICATION = "classification"  # text + label


Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class SourceRef(BaseModel):
    """Where a record came from."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int


class Record(BaseModel):
    """One training example, whatever format it was written in.

    QA-style formats fill `question` (and optional `context`) and `answer`; chat records also keep
    every turn in `messages` (question/answer are the last user/assistant turns); `text` holds
    plain text; classification fills `text` and `label`.
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

    @property
    def is_qa(self) -> bool:
        """True when the record has a question and an answer (every format but text/label)."""
        return self.question is not None and self.answer is not None

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
    """(role, content) pairs of a single-exchange record; classification is text -> label."""
    turns = [("system", system)] if system else []
    if fmt is Format.CLASSIFICATION and text is not None:
        return [*turns, ("user", text), ("assistant", label or "")]
    if question is not None and answer is not None:
        user = f"{question}\n\n{context}" if context else question
        return [*turns, ("user", user), ("assistant", answer)]
    return turns


def content_hash(
    turns: Sequence[Message] | Sequence[tuple[str, str]], text: str | None = None
) -> str:
    """A hash of what a record teaches, independent of the file format it was written in.

    Example: the same question and answer as prompt/completion, as a two-turn chat or as Gemini
    contents hash alike; plain text records hash their text.
    """
    return hash_pairs([(t.role, t.content) if isinstance(t, Message) else t for t in turns], text)


def hash_pairs(pairs: Sequence[tuple[str, str]], text: str | None) -> str:
    """`content_hash` of (role, content) pairs, the loader's hot path."""
    # control characters as separators: unambiguous and far cheaper than json.dumps
    if not pairs:
        return sha256(f"\x1d{text}".encode()).hexdigest()
    return sha256("\x1e".join([f"{r}\x1f{c}" for r, c in pairs]).encode()).hexdigest()


class Reject(BaseModel):
    """A line that could not become a record, with how to fix it."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int  # 1-based; 0 when the whole file is at fault
    code: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.code}] {self.message} — {self.hint}"


class FileReport(BaseModel):
    """Counts for one file: valid + rejected + blank == lines."""

    file: str
    lines: int = 0
    valid: int = 0
    rejected: int = 0
    blank: int = 0
    formats: dict[str, int] = Field(default_factory=dict)
    batch: str | None = None
    as_of: date | None = None


class LoadReport(BaseModel):
    """Everything a load produced: records, rejects, and per-file counts."""

    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    warnings: list[Reject] = Field(default_factory=list)  # reported, but the line still loaded
    files: list[FileReport] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no line was rejected."""
        return not self.rejects
