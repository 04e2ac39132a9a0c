"""Uploaded files written to disk safely: unique names, unsafe names refused, a size limit.

No streamlit here: the Data tab hands over (name, bytes) pairs and the limit it was configured with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

MB = 1024 * 1024
SAFE_NAME = re.compile(r"^[^\x00-\x1f/\\]{1,200}$")


class StoredUploads(BaseModel):
    """What was written, and every file refused with the reason."""

    paths: list[Path] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)


def refusal(name: str, size: int, max_bytes: int) -> str | None:
    """Why an uploaded file cannot be stored, or None.

    >>> refusal("..", 10, 1000)
    "'..' is not a file name: rename the file (letters, digits, dots, dashes) and upload it again"
    >>> refusal("big.jsonl", 2000, 1000)
    'big.jsonl is 2,000 bytes, over the 1,000-byte upload limit (server.maxUploadSize): split it'
    >>> refusal("2026-03-01-faq.jsonl", 10, 1000) is None
    True
    """
    stripped = name.strip()
    if not SAFE_NAME.match(name) or stripped in {"", ".", ".."} or stripped.startswith("."):
        return (
            f"{name!r} is not a file name: rename the file (letters, digits, dots, dashes) "
            "and upload it again"
        )
    if size > max_bytes:
        return (
            f"{name} is {size:,} bytes, over the {max_bytes:,}-byte upload limit "
            "(server.maxUploadSize): split it"
        )
    return None


def store_uploads(files: Iterable[tuple[str, bytes]], dest: Path, max_bytes: int) -> StoredUploads:
    """Write the acceptable files into a folder named after the whole upload's contents.

    Each file keeps its name; a second file of the same name gets ` (2)` before its suffix, so no
    upload overwrites another. The same upload lands in the same folder, so re-running the page
    does not pile up copies.
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
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for name, data in accepted:
        path = folder / _unique(name, used)
        path.write_bytes(data)
        out.paths.append(path)
    return out


def _unique(name: str, used: set[str]) -> str:
    """The name, or `stem (n).suffix` when an earlier file of this upload took it."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem} ({n}).{suffix}" if suffix else f"{stem} ({n})"
    used.add(candidate)
    return candidate
