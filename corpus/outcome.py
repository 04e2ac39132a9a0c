"""What a load produced: rejected lines, warnings, per-file counts, and the whole report."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus.names import printable
from corpus.record import Record

Layout = Literal["jsonl", "json_array", "json_object", "not_text"]


class LineIssue(BaseModel):
    """A problem tied to a line of a file, with how to fix it."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int  # 1-based; 0 when the whole file is at fault
    code: str
    message: str
    hint: str

    def __str__(self) -> str:
        """One line: file, line, code, message and fix, control characters escaped."""
        return printable(f"{self.file}:{self.line}: [{self.code}] {self.message} — {self.hint}")


class Reject(LineIssue):
    """A line that could not become a record."""


class Notice(LineIssue):
    """A warning: reported, but the line (or file) still loaded."""


class FileReport(BaseModel):
    """Counts for one file.

    `entries` are the units a file is read in: its non-blank lines for JSON Lines, its elements
    for a JSON array read leniently, 1 for a single JSON object. Always valid + rejected +
    skipped == entries, and for JSON Lines (and files that are not text) entries + blank == lines.
    `skipped` entries are well-formed but by design not records (a KTO answer labelled
    undesirable, a repeated chosen answer of a DPO pair).
    """

    file: str
    lines: int = 0
    entries: int = 0
    valid: int = 0
    rejected: int = 0
    skipped: int = 0
    blank: int = 0
    formats: dict[str, int] = Field(default_factory=dict)
    dropped: dict[str, int] = Field(default_factory=dict)  # what lines lost on purpose, by kind
    layout: Layout = "jsonl"
    batch: str | None = None
    as_of: date | None = None

    @property
    def balanced(self) -> bool:
        """True when the counts add up (see the class docstring)."""
        whole = self.valid + self.rejected + self.skipped == self.entries
        if self.layout in ("jsonl", "not_text"):
            return whole and self.entries + self.blank == self.lines
        return whole


class FileLoad(BaseModel):
    """Everything one file produced."""

    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    warnings: list[Notice] = Field(default_factory=list)
    report: FileReport


class LoadReport(BaseModel):
    """Everything a load produced: records, rejects, warnings and per-file counts."""

    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    warnings: list[Notice] = Field(default_factory=list)  # reported, but the line still loaded
    files: list[FileReport] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no line was rejected."""
        return not self.rejects
