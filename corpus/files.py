"""Which files make a corpus, and the dated batch each file belongs to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from corpus.errors import CorpusError

FILE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
SUFFIXES = frozenset((".jsonl", ".json"))


def corpus_files(paths: Sequence[str | Path] | str | Path) -> list[Path]:
    """Expand directories to their *.jsonl / *.json files (sorted); a missing path is an error."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise CorpusError(f"{path}: no .jsonl files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"{path}: no such file or directory")
    return files


def file_date(path: Path) -> date | None:
    """The date a file's name starts with, if any.

    >>> file_date(Path("2026-03-01-faq.jsonl"))
    datetime.date(2026, 3, 1)
    >>> file_date(Path("2026-13-01-faq.jsonl")) is None  # not a real date
    True
    """
    match = FILE_DATE.match(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def batch_name(path: Path) -> str:
    """A file's batch: the date its name starts with, else its name without the suffix.

    >>> batch_name(Path("data/2026-07-01-chat.jsonl")), batch_name(Path("data/faq.jsonl"))
    ('2026-07-01', 'faq')
    """
    match = FILE_DATE.match(path.name)
    return match.group(1) if match else path.stem
