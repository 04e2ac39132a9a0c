"""Repair the file-level problems the loader reports: BOM, cp1251, UTF-16, JSON arrays, blank lines."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class FixResult(BaseModel):
    """What a repair changed."""

    lines_written: int = 0
    changes: list[str] = Field(default_factory=list)


def _decode_line(raw: bytes, changes: set[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        changes.add("re-encoded cp1251 lines as UTF-8")
        return raw.decode("cp1251", errors="replace")


def fix_file(src: Path, out: Path) -> FixResult:
    """Write `src` as clean JSONL to `out`; lines that are not JSON are copied unchanged for review."""
    data = src.read_bytes()
    changes: set[str] = set()
    if data.startswith(UTF16_BOMS):
        data = data.decode("utf-16").encode("utf-8")
        changes.add("re-encoded UTF-16 as UTF-8")
    if data.startswith(BOM):
        data = data[len(BOM) :]
        changes.add("removed the UTF-8 BOM")
    lines: list[str] = []
    try:
        whole = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        whole = None
    if isinstance(whole, list):
        lines = [json.dumps(item, ensure_ascii=False) for item in whole]
        changes.add(f"converted a JSON array of {len(whole)} items to JSON Lines")
    elif isinstance(whole, dict) and b"\n" in data.strip():
        lines = [json.dumps(whole, ensure_ascii=False)]
        changes.add("joined a multi-line JSON object onto one line")
    else:
        for raw in data.splitlines():
            if not raw.strip():
                changes.add("dropped blank lines")
                continue
            lines.append(_decode_line(raw, changes))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return FixResult(lines_written=len(lines), changes=sorted(changes))
