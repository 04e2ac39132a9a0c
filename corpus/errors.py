"""Errors the corpus layer raises; the edges (CLI, app) turn them into messages and exit codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corpus.outcome import LoadReport


class CorpusError(Exception):
    """The corpus could not be read at all (a missing path, an unreadable directory)."""


class StrictModeError(CorpusError):
    """Strict mode found rejects; `report` holds the complete list."""

    def __init__(self, report: LoadReport) -> None:
        files = len({r.file for r in report.rejects})
        super().__init__(f"strict mode: {len(report.rejects)} rejected line(s) in {files} file(s)")
        self.report = report


class ExportError(CorpusError):
    """An export target was asked for that does not exist."""


class LineError(Exception):
    """A line that cannot become a record: a code, what is wrong, and how to fix it."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
