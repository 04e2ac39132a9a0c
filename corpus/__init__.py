"""The corpus layer: read every fine-tuning JSONL shape, report bad lines, write platform formats."""

from corpus.errors import CorpusError, ExportError, StrictModeError
from corpus.loader import (
    DEFAULT_MAX_LINE_CHARS,
    corpus_files,
    current_records,
    iter_records,
    load_corpus,
)
from corpus.record import (
    FileReport,
    Format,
    LoadReport,
    Message,
    Record,
    Reject,
    SourceRef,
    content_hash,
)

__all__ = [
    "DEFAULT_MAX_LINE_CHARS",
    "CorpusError",
    "ExportError",
    "FileReport",
    "Format",
    "LoadReport",
    "Message",
    "Record",
    "Reject",
    "SourceRef",
    "StrictModeError",
    "content_hash",
    "corpus_files",
    "current_records",
    "iter_records",
    "load_corpus",
]
