"""The one normalised shape every corpus line becomes, and the report of a load."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
        turns: list[Message] = []
        if self.system:
            turns.append(Message(role="system", content=self.system))
        if self.format is Format.CLASSIFICATION and self.text is not None:
            return [
                *turns,
                Message(role="user", content=self.text),
                Message(role="assistant", content=self.label or ""),
            ]
        if self.question is not None and self.answer is not None:
            turns += [
                Message(role="user", content=self.prompt_text()),
                Message(role="assistant", content=self.answer),
            ]
        return turns


def content_hash(turns: list[Message] | tuple[Message, ...], text: str | None = None) -> str:
    """A hash of what a record teaches, independent of the file format it was written in.

    Example: the same question and answer as prompt/completion, as a two-turn chat or as Gemini
    contents hash alike; plain text records hash their text.
    """
    pairs = [[m.role, m.content] for m in turns]
    payload = json.dumps(
        [pairs, None if pairs else text], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
