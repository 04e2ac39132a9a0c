"""Uploaded files written to disk safely, then read the way `python -m corpus` reads files.

Names are checked as the file system will see them: UTF-8, at most 255 bytes, no path
separators, no control characters; every file-system error becomes a message naming the file,
never a traceback. The same upload lands in the same folder and is not written again, so a rerun
of the page finds the files unchanged and reuses what was read from them.
No streamlit here: the Data tab hands over (name, bytes) pairs, the limit it was configured
with, and a progress callback it turns into a progress bar.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from corpus.names import printable
from corpus.progress import Progress
from corpus.report import CorpusSurvey, survey_corpus

MB = 1024 * 1024
NAME_BYTES = 255  # the longest file name ext4, XFS, btrfs, ZFS and APFS accept, in bytes
UNSAFE = frozenset("/\\")
HIDDEN = frozenset(("Cc", "Cs", "Zl", "Zp"))  # controls, surrogates, line/paragraph separators
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # reorder the shown name


class StoredUploads(BaseModel):
    """What was written, and every file refused with the reason."""

    paths: list[Path] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)


def refusal(name: str, size: int, max_bytes: int) -> str | None:
    """Why an uploaded file cannot be stored, or None.

    >>> refusal("..", 10, 1000)
    "'..' is not a file name: rename the file (letters, digits, dots, dashes) and upload it again"
    >>> refusal("big.jsonl", 2000, 1000)
    "'big.jsonl' is 2,000 bytes, over the 1,000-byte upload limit (server.maxUploadSize): split it"
    >>> refusal("📦" * 100 + ".jsonl", 10, 1000)[-74:]
    'is 406 bytes in UTF-8, over the 255 bytes a file name may have: shorten it'
    >>> refusal("2026-03-01-faq.jsonl", 10, 1000) is None
    True
    """
    shown = repr(printable(name))
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError as err:
        return (
            f"{shown} holds a character UTF-8 cannot write (position {err.start + 1}): "
            "rename the file and upload it again"
        )
    stripped = name.strip()
    if (
        stripped in {"", ".", ".."}
        or stripped.startswith(".")
        or any(c in UNSAFE or c in BIDI or unicodedata.category(c) in HIDDEN for c in name)
    ):
        return (
            f"{shown} is not a file name: rename the file (letters, digits, dots, dashes) "
            "and upload it again"
        )
    if len(encoded) > NAME_BYTES:
        return (
            f"{shown} is {len(encoded):,} bytes in UTF-8, over the {NAME_BYTES} bytes a file "
            "name may have: shorten it"
        )
    if size > max_bytes:
        return (
            f"{shown} is {size:,} bytes, over the {max_bytes:,}-byte upload limit "
            "(server.maxUploadSize): split it"
        )
    return None


def store_uploads(files: Iterable[tuple[str, bytes]], dest: Path, max_bytes: int) -> StoredUploads:
    """Write the acceptable files into a folder named after the whole upload's contents.

    Each file keeps its name; a second file of the same name gets ` (2)` before its suffix, so no
    upload overwrites another. The same upload lands in the same folder and a file already there
    is not written again, so re-running the page neither piles up copies nor changes the files.
    A file the file system refuses is listed in `refused` with the reason; the others are kept.
    """
    accepted: list[tuple[str, bytes]] = []
    out = StoredUploads()
    for name, data in files:
        why = refusal(name, len(data), max_bytes)
        if why:
            out.refused.append(why)
        else:
            accepted.append((name.strip(), data))
    if not accepted:
        return out
    digest = hashlib.sha256()
    for name, data in accepted:
        digest.update(name.encode() + b"\x00" + hashlib.sha256(data).digest())
    folder = dest / digest.hexdigest()[:12]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        out.refused += [_not_written(name, err) for name, _ in accepted]
        return out
    used: set[str] = set()
    for name, data in accepted:
        path = folder / _unique(name, used)
        try:
            _write_once(path, data)
        except OSError as err:
            out.refused.append(_not_written(name, err))
        else:
            out.paths.append(path)
    return out


def read_uploads(paths: Sequence[Path], progress: Progress | None = None) -> CorpusSurvey:
    """What the Data tab shows of stored uploads: load, summary and fact histories, read in one
    pass as `python -m corpus report` and `facts` read files (facts grouped by id and wording;
    the index also joins questions close in meaning once the files are the corpus)."""
    return survey_corpus(list(paths), progress=progress)


def _write_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` unless it is there already (whole: files are written by rename)."""
    if path.is_file() and path.stat().st_size == len(data):
        return  # the folder is named after the contents: same name and size, same upload
    fd, tmp = tempfile.mkstemp(prefix=".upload.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _not_written(name: str, err: OSError) -> str:
    why = err.strerror or type(err).__name__
    return f"{printable(name)!r} could not be written to the upload folder ({why}): nothing of it was kept"


def _unique(name: str, used: set[str]) -> str:
    """The name, or `stem (n).suffix` when an earlier file of this upload took it (the stem cut
    so the name still fits in `NAME_BYTES`).

    >>> used = set(); [_unique("faq.jsonl", used) for _ in range(3)]
    ['faq.jsonl', 'faq (2).jsonl', 'faq (3).jsonl']
    >>> long = "ж" * 120 + ".jsonl"; _unique(long, {long}).endswith("ж (2).jsonl")
    True
    >>> len(_unique(long, {long}).encode()) <= NAME_BYTES
    True
    """
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        tail = f" ({n}).{suffix}" if suffix else f" ({n})"
        room = NAME_BYTES - len(tail.encode())
        candidate = stem.encode()[:room].decode(errors="ignore") + tail
    used.add(candidate)
    return candidate
