"""Read JSONL corpora line by line: every valid line becomes a `Record`, every other line a `Reject`.

For every file, valid + rejected + blank == lines, whatever the input.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from corpus.errors import CorpusError, StrictModeError
from corpus.formats import (
    DATE_KEYS,
    META_KEYS,
    SHAPES,
    LineError,
    detect_format,
    json_type,
    parse_object,
)
from corpus.record import (
    FileReport,
    LoadReport,
    Message,
    Record,
    Reject,
    SourceRef,
    construct,
    hash_pairs,
    turn_pairs,
)

DEFAULT_MAX_LINE_CHARS = 32_768
BOM = b"\xef\xbb\xbf"
FILE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
CYRILLIC = re.compile("[А-Яа-яЁё]")
KNOWN_KEYS = META_KEYS | {k for req, opt in SHAPES.values() for k in (*req, *opt)}
ROLE_AS_KEY = re.compile(r'"role"\s*:\s*"(\w+)"\s*:')


def load_corpus(
    paths: Sequence[str | Path] | str | Path,
    *,
    strict: bool = False,
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
) -> LoadReport:
    """Load files or directories of JSONL; lenient keeps valid records, strict raises on any reject.

    In strict mode `StrictModeError.report` holds the complete list of rejects, and the records of
    every file without rejects.
    """
    report = LoadReport()
    seen: dict[str, SourceRef] = {}
    with _no_gc_pauses():
        _load_into(report, corpus_files(paths), seen, max_line_chars)
    if strict and report.rejects:
        failed = {r.file for r in report.rejects}
        report.records = [r for r in report.records if r.source.file not in failed]
        raise StrictModeError(report)
    return report


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Records hold no reference cycles; the cyclic collector's passes over a growing heap of
    fresh records cost a third of the load time, so it waits until the load is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_into(
    report: LoadReport, files: list[Path], seen: dict[str, SourceRef], max_line_chars: int
) -> None:
    for path in files:
        records, rejects, warnings, file_report = load_file(
            path, seen=seen, max_line_chars=max_line_chars
        )
        report.records.extend(records)
        report.rejects.extend(rejects)
        report.warnings.extend(warnings)
        report.files.append(file_report)


def corpus_files(paths: Sequence[str | Path] | str | Path) -> list[Path]:
    """Expand directories to their *.jsonl / *.json files (sorted); a missing path is an error."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix in {".jsonl", ".json"} and p.is_file()
            )
            if not found:
                raise CorpusError(f"{path}: no .jsonl files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"{path}: no such file or directory")
    return files


def file_date(path: Path) -> date | None:
    """The date a file's name starts with (`2026-03-01-faq.jsonl` -> 2026-03-01), if any."""
    match = FILE_DATE.match(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def current_records(records: Iterable[Record]) -> list[Record]:
    """Keep, for each id, the record with the newest `as_of` (a later line wins a tie)."""
    latest: dict[str, Record] = {}
    for record in records:
        old = latest.get(record.id)
        if old is None or (record.as_of or date.min) >= (old.as_of or date.min):
            latest[record.id] = record
    return list(latest.values())


def load_file(
    path: Path,
    *,
    seen: dict[str, SourceRef] | None = None,
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
) -> tuple[list[Record], list[Reject], list[Reject], FileReport]:
    """Load one file; `seen` (content hash -> first source) is shared across files to find duplicates."""
    seen = {} if seen is None else seen
    name = str(path)
    batch_date = file_date(path)
    report = FileReport(file=name, batch=_batch(path), as_of=batch_date)
    records: list[Record] = []
    rejects: list[Reject] = []
    warnings: list[Reject] = []
    blank_lines: list[int] = []
    raw_lines = path.read_bytes().splitlines()
    report.lines = len(raw_lines)

    whole = _whole_file_problem(name, raw_lines)
    if whole is not None:
        rejects.append(whole)
        report.blank = sum(1 for raw in raw_lines if not raw.strip())
        report.rejected = report.lines - report.blank
        return records, rejects, warnings, report

    formats: dict[str, list[int]] = {}
    for number, raw in enumerate(raw_lines, 1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
            warnings.append(
                Reject(
                    file=name,
                    line=1,
                    code="bom",
                    message="the file starts with a UTF-8 BOM",
                    hint="save as UTF-8 without BOM (python -m corpus fix FILE -o OUT)",
                )
            )
        if not raw.strip():
            blank_lines.append(number)
            continue
        try:
            record = _record(raw, name, number, batch_date, report.batch, max_line_chars)
        except LineError as err:
            rejects.append(
                Reject(file=name, line=number, code=err.code, message=err.message, hint=err.hint)
            )
            continue
        first = seen.setdefault(record.content_hash, record.source)
        if first is not record.source:
            rejects.append(
                Reject(
                    file=name,
                    line=number,
                    code="duplicate",
                    message=f"same content as {first.file}:{first.line}",
                    hint="drop the repeated line (exact duplicates over-weight one example)",
                )
            )
            continue
        records.append(record)
        formats.setdefault(record.format, []).append(number)

    report.valid, report.rejected, report.blank = len(records), len(rejects), len(blank_lines)
    report.formats = {str(fmt): len(lines) for fmt, lines in formats.items()}
    if blank_lines:
        warnings.append(
            Reject(
                file=name,
                line=blank_lines[0],
                code="blank_line",
                message=f"{len(blank_lines)} blank line(s): {_line_list(blank_lines)}",
                hint="remove blank lines: some platforms reject them",
            )
        )
    if len(formats) > 1:
        warnings.append(_mixed_formats(name, formats))
    return records, rejects, warnings, report


def _batch(path: Path) -> str:
    match = FILE_DATE.match(path.name)
    return match.group(1) if match else path.stem


def _record(
    raw: bytes,
    file: str,
    number: int,
    batch_date: date | None,
    batch: str | None,
    max_line_chars: int,
) -> Record:
    text = _decode(raw)
    if len(text) > max_line_chars:
        raise LineError(
            "too_long",
            f"line has {len(text):,} characters (limit {max_line_chars:,})",
            "shorten or split the example, or raise the limit (--max-line-chars)",
        )
    obj = _json_object(text)
    fmt = detect_format(obj)
    parsed = parse_object(obj, fmt)
    as_of = _line_date(obj) or batch_date
    turns = parsed.turns or turn_pairs(
        parsed.format,
        parsed.question,
        parsed.context,
        parsed.answer,
        parsed.system,
        parsed.text,
        parsed.label,
    )
    digest = hash_pairs(turns, parsed.text)
    return construct(
        Record,
        id=_record_id(obj, digest),
        format=parsed.format,
        question=parsed.question,
        context=parsed.context,
        answer=parsed.answer,
        system=parsed.system,
        messages=_messages(parsed.turns) if parsed.multi_turn else (),
        text=parsed.text,
        label=parsed.label,
        as_of=as_of,
        batch=batch,
        source=construct(SourceRef, file=file, line=number),
        content_hash=digest,
        meta=_meta(obj),
    )


def _messages(turns: list[tuple[str, str]]) -> tuple[Message, ...]:
    return tuple(construct(Message, role=role, content=content) for role, content in turns)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        guess = raw.decode("cp1251", errors="replace")
        if CYRILLIC.search(guess):
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


def _json_object(text: str) -> dict[str, Any]:
    try:
        obj = orjson.loads(text)  # 3-4x faster than json.loads: it is most of a line's cost
    except orjson.JSONDecodeError as err:
        raise LineError("invalid_json", _json_error(text, err), _json_hint(text)) from err
    if not isinstance(obj, dict):
        raise LineError(
            "not_object",
            f"the line is {json_type(obj)}, not a JSON object",
            'each line must be one object: {"key": ...}',
        )
    return obj


def _json_error(text: str, err: orjson.JSONDecodeError) -> str:
    """The standard library's wording (with a column) when it agrees the line is invalid."""
    try:
        json.loads(text)
    except json.JSONDecodeError as std:
        return f"invalid JSON: {std.msg} at column {std.colno}"
    return f"invalid JSON: {err.msg}"  # e.g. NaN or an integer beyond 64 bits


def _json_hint(text: str) -> str:
    role = ROLE_AS_KEY.search(text)
    if role:
        return f'a message needs "role" and "content" keys: {{"role": "{role.group(1)}", "content": "..."}}'
    if re.search(r"\{\s*'", text):
        return "JSON needs double quotes around keys and strings"
    if re.search(r",\s*[}\]]", text):
        return "remove the trailing comma before the closing bracket"
    return "each line must be one complete JSON object; check quotes, commas and brackets"


def _line_date(obj: dict[str, Any]) -> date | None:
    if obj.keys().isdisjoint(DATE_KEYS):  # the common case, checked in C
        return None
    for key in DATE_KEYS:
        if obj.get(key) is not None:
            return _parse_date(key, obj[key])
    return None


def _parse_date(key: str, value: Any) -> date:
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value  # milliseconds are common too
            return datetime.fromtimestamp(seconds, tz=UTC).date()
        if isinstance(value, str):
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except (ValueError, OverflowError, OSError):
        pass
    raise LineError(
        "bad_date",
        f"'{key}' is {value!r}, not a date",
        f'write "{key}": "YYYY-MM-DD" (or an ISO date-time, or a Unix timestamp)',
    )


def _record_id(obj: dict[str, Any], digest: str) -> str:
    value = obj.get("id")
    if value is None:
        return f"h-{digest[:16]}"
    if type(value) is str and value.strip():
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise LineError("wrong_type", f"'id' is {value!r}", 'write "id" as a non-empty string')
    return str(value)


def _meta(obj: dict[str, Any]) -> dict[str, str]:
    """Extra scalar keys are kept as metadata rather than rejected."""
    if obj.keys() <= KNOWN_KEYS:  # the common case, checked in C
        return {}
    return {
        k: str(v)
        for k, v in obj.items()
        if k not in KNOWN_KEYS and isinstance(v, str | int | float | bool)
    }


def _whole_file_problem(name: str, raw_lines: list[bytes]) -> Reject | None:
    """A whole file that is a JSON array (or one pretty-printed object) rather than JSONL."""
    first = next((raw.strip() for raw in raw_lines if raw.strip()), b"")
    if first.startswith(BOM):
        first = first[len(BOM) :].strip()
    if not first.startswith((b"[", b"{")):
        return None
    try:
        json.loads(first)
        return None  # the first line is complete JSON by itself: judge line by line
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    try:
        whole = json.loads(b"\n".join(raw_lines).removeprefix(BOM))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(whole, list):
        return Reject(
            file=name,
            line=0,
            code="json_array",
            message=f"the file is a JSON array of {len(whole)} items, not JSON Lines",
            hint="convert it to one object per line: python -m corpus fix FILE -o FILE.jsonl",
        )
    return Reject(
        file=name,
        line=0,
        code="multiline_json",
        message="the file is one JSON value spread over several lines, not JSON Lines",
        hint="write each example on its own line: python -m corpus fix FILE -o FILE.jsonl",
    )


def _mixed_formats(name: str, formats: dict[str, list[int]]) -> Reject:
    main = max(formats, key=lambda f: len(formats[f]))
    others = "; ".join(
        f"{f} on lines {_line_list(lines)}" for f, lines in formats.items() if f != main
    )
    return Reject(
        file=name,
        line=0,
        code="mixed_formats",
        message=f"the file mixes formats: mostly {main}, but {others}",
        hint="keep one format per file (python -m corpus export FILE --to FORMAT converts)",
    )


def _line_list(lines: list[int], limit: int = 8) -> str:
    shown = ", ".join(map(str, lines[:limit]))
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def iter_records(paths: Sequence[str | Path] | str | Path) -> Iterator[Record]:
    """Stream the valid records of files or directories (rejects are skipped silently)."""
    for path in corpus_files(paths):
        yield from load_file(path)[0]


def format_counts(records: Iterable[Record]) -> dict[str, int]:
    """Records per format."""
    return dict(Counter(r.format.value for r in records))
