"""The corpus layer: read every fine-tuning JSONL shape, report bad lines, write platform formats."""

from corpus.errors import CorpusError, ExportError, StrictModeError
from corpus.files import corpus_files
from corpus.loader import (
    DEFAULT_MAX_LINE_BYTES,
    current_pairs,
    current_records,
    iter_load,
    iter_records,
    load_corpus,
)
from corpus.outcome import FileReport, LoadReport, Notice, Reject
from corpus.record import Format, Message, Record, SourceRef, ToolCall, content_hash

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "CorpusError",
    "ExportError",
    "FileReport",
    "Format",
    "LoadReport",
    "Message",
    "Notice",
    "Record",
    "Reject",
    "SourceRef",
    "StrictModeError",
    "ToolCall",
    "content_hash",
    "corpus_files",
    "current_pairs",
    "current_records",
    "iter_load",
    "iter_records",
    "load_corpus",
]
