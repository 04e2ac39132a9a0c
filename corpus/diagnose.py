"""Say what is wrong with a line or a whole file, and how to fix it.

Decoding (UTF-8, cp1251, binary), JSON parsing with the standard library's wording, the hints
for common slips, and the whole-file shapes that are not JSON Lines (a JSON array, one
pretty-printed object, UTF-16, binary data). Nothing here builds records.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import orjson

from corpus.errors import LineError

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CYRILLIC = re.compile("[А-Яа-яЁё]")
ROLE_AS_KEY = re.compile(r'"role"\s*:\s*"(\w+)"\s*:')
# What cp1251 text is made of: printable ASCII, whitespace, Russian letters, common typography.
TEXTY = re.compile("[ -~\t\r\nА-Яа-яЁё«»—–№…“”„‘’\u00a0]")
TEXT_SHARE = 0.85  # real cp1251 lines measure ~1.0; random bytes ~0.63
JSON_TYPES = {
    "int": "a number",
    "float": "a number",
    "dict": "an object",
    "list": "an array",
    "bool": "a boolean",
    "str": "a string",
    "NoneType": "null",
}

Sniffed = Literal["jsonl", "json", "binary", "utf16"]


def json_type(value: Any) -> str:
    """The JSON type of a value, with its article.

    >>> json_type(3), json_type({}), json_type(None)
    ('a number', 'an object', 'null')
    """
    return JSON_TYPES.get(type(value).__name__, type(value).__name__)


def is_binary_line(raw: bytes) -> bool:
    """True for bytes that are neither UTF-8 nor cp1251 text (a NUL is never text).

    >>> is_binary_line("Цена: 9 евро".encode("cp1251")), is_binary_line(bytes(range(128, 200)))
    (False, True)
    """
    if b"\x00" in raw:
        return True
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        guess = raw.decode("cp1251", errors="replace")
        return len(TEXTY.findall(guess)) < TEXT_SHARE * len(guess)


def parse_line(raw: bytes) -> dict[str, Any]:
    """The JSON object a line holds, or `LineError` naming what is wrong and the fix."""
    try:
        obj = orjson.loads(raw)  # reads bytes directly: no separate decode on the common path
    except orjson.JSONDecodeError:
        text = decode(raw)
        raise LineError("invalid_json", _json_error(text), _json_hint(text)) from None
    if type(obj) is not dict:
        raise LineError(
            "not_object",
            f"the line is {json_type(obj)}, not a JSON object",
            'each line must be one object: {"key": ...}',
        )
    return obj


def decode(raw: bytes) -> str:
    """A line as UTF-8 text, or `LineError`: `binary`, or `not_utf8` (cp1251 recognised)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if is_binary_line(raw):
            raise LineError(
                "binary",
                f"the line is binary data, not text ({len(raw):,} bytes)",
                "remove it: a corpus holds JSON text only (is this the right file?)",
            ) from err
        if CYRILLIC.search(raw.decode("cp1251", errors="replace")):
            raise LineError(
                "not_utf8",
                "the line is not UTF-8; it looks like cp1251 (Windows Cyrillic)",
                "re-save the file as UTF-8: python -m corpus fix FILE -o OUT "
                "(or iconv -f cp1251 -t utf-8)",
            ) from err
        raise LineError(
            "not_utf8",
            f"the line is not UTF-8 (byte 0x{raw[err.start]:02x} at {err.start + 1})",
            "re-save the file as UTF-8",
        ) from err


def _json_error(text: str) -> str:
    """The standard library's wording (with a column) when it agrees the line is invalid."""
    try:
        json.loads(text)
    except json.JSONDecodeError as std:
        return f"invalid JSON: {std.msg} at column {std.colno}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    return "invalid JSON: a value JSON Lines readers refuse (NaN, or an integer beyond 64 bits)"


def _json_hint(text: str) -> str:
    role = ROLE_AS_KEY.search(text)
    if role:
        return f'a message needs "role" and "content" keys: {{"role": "{role.group(1)}", "content": "..."}}'
    if re.search(r"\{\s*'", text):
        return "JSON needs double quotes around keys and strings"
    if re.search(r",\s*[}\]]", text):
        return "remove the trailing comma before the closing bracket"
    return "each line must be one complete JSON object; check quotes, commas and brackets"


def sniff(head: bytes, whole: bool) -> Sniffed:
    """Guess a file's layout from its first bytes (`whole`: `head` is the entire file).

    `json` means the file may be one JSON value over several lines (or one line holding an
    array): the caller parses it whole and falls back to JSON Lines if that fails.

    >>> sniff(b'{"a": 1}\\n{"a": 2}\\n', True), sniff(b'[\\n  {"a": 1}\\n]\\n', True)
    ('jsonl', 'json')
    >>> sniff(bytes(range(256)) * 4, True), sniff("{}".encode("utf-16"), True)
    ('binary', 'utf16')
    """
    if head.startswith(UTF16_BOMS) or _alternating_nuls(head):
        return "utf16"
    lines = [raw for raw in head.removeprefix(BOM).split(b"\n")[:200] if raw.strip()]
    if not whole:
        lines = lines[:-1] or lines  # the last one may be cut off by the end of `head`
    if lines and all(is_binary_line(raw) for raw in lines):
        return "binary"
    first = lines[0].strip() if lines else b""
    if not (whole or b"\n" in head):  # the first line runs past `head`
        return "json" if first.startswith(b"[") else "jsonl"  # an array written on one line
    if not (first == b"{" or first.startswith(b"[")):
        return "jsonl"  # only an opening bracket starts a value spread over lines
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        return "json"  # the first line is not complete by itself: maybe one value over lines
    records = type(value) is list and value and all(type(v) is dict for v in value)
    return "json" if records and whole and len(lines) == 1 else "jsonl"


def _alternating_nuls(head: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text has a NUL in every other byte."""
    sample = head[:512]
    return len(sample) >= 8 and (
        sample[1::2].count(0) > 0.8 * len(sample[1::2])
        or sample[0::2].count(0) > 0.8 * len(sample[0::2])
    )


def json_document(
    data: bytes,
) -> tuple[Literal["json_array", "json_object"], list[tuple[int, Any]]] | None:
    """A whole file that is one JSON array or object: its elements with the line each starts on.

    None when the file is not one JSON value (then it is read as JSON Lines).

    >>> json_document(b'[\\n  {"a": 1},\\n  {"a": 2}\\n]')
    ('json_array', [(2, {'a': 1}), (3, {'a': 2})])
    """
    try:
        text = data.removeprefix(BOM).decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if isinstance(value, dict):
        start = len(text) - len(text.lstrip())
        return "json_object", [(text.count("\n", 0, start) + 1, value)]
    if not isinstance(value, list):
        return None
    return "json_array", list(zip(_element_lines(text), value, strict=True))


def _element_lines(text: str) -> list[int]:
    """The line each top-level element of a JSON array text starts on."""
    decoder = json.JSONDecoder()
    space = re.compile(r"[\s,]*")
    pos = space.match(text, text.index("[") + 1).end()  # type: ignore[union-attr]
    lines, line, counted = [], 1, 0
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
        pos = space.match(text, pos).end()  # type: ignore[union-attr]
    return lines


def line_list(lines: list[int], total: int | None = None, limit: int = 8) -> str:
    """Line numbers for a message, the first few and how many more.

    >>> line_list([3, 5, 9], total=12, limit=2)
    '3, 5 and 10 more'
    """
    total = len(lines) if total is None else total
    shown = ", ".join(map(str, lines[:limit]))
    return shown + (f" and {total - min(limit, len(lines))} more" if total > limit else "")
