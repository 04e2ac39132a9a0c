"""Read corpora as a stream: every valid line becomes a `Record`, every other line a `Reject`.

`iter_load` yields records, rejects, warnings and one `FileReport` per file as it reads, holding
only what duplicate detection needs (two integers per record); `load_file` and `load_corpus`
collect the same stream into lists for small corpora and the app.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import orjson

from corpus.diagnose import BOM, json_document, parse_line, sniff
from corpus.duplicates import DuplicateIndex
from corpus.errors import LineError, StrictModeError
from corpus.file_reader import FileReader
from corpus.files import corpus_files
from corpus.outcome import FileLoad, FileReport, LoadReport, Notice, Reject
from corpus.progress import Meter, Progress
from corpus.record import Record

# Against runaway input only (a file without newlines, a dump of many MB on one line): the
# longest per-example context of any platform in `corpus.limits` is 131,072 tokens, well under
# 1 MB of text, and a line is read into memory whole, so 8 MiB is far past any real example.
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
CHUNK = 1 << 20
HEAD = 1 << 16

DOCUMENT_STEP = 1_000  # elements of a JSON array between progress reports

Event = Record | Reject | Notice | FileReport


def iter_load(
    paths: Sequence[str | Path] | str | Path,
    *,
    strict: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Progress | None = None,
) -> Iterator[Event]:
    """Stream a corpus: records, rejects and warnings as they are read, then each file's counts.

    Memory grows with the corpus only by the duplicate index. `strict` refuses files that are
    not JSON Lines (a JSON array, one pretty-printed object); dropping the records of files with
    rejects is `load_corpus`'s job, since that needs the whole file first. `progress` is called
    with (bytes read, bytes in all files) as each MiB (or thousand array elements) is read.
    """
    seen = DuplicateIndex()
    files = corpus_files(paths)
    meter = Meter(files, progress) if progress is not None else None
    for path in files:
        if meter is not None:
            meter.start(path)
        yield from _file_events(path, seen, strict, max_line_bytes, meter)
    if meter is not None:
        meter.finish()


def load_file(
    path: Path,
    *,
    seen: DuplicateIndex | None = None,
    strict: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> FileLoad:
    """Load one file into lists; `seen` is shared across files to find duplicates."""
    records: list[Record] = []
    rejects: list[Reject] = []
    warnings: list[Notice] = []
    report = FileReport(file=str(path))
    for event in _file_events(path, seen or DuplicateIndex(), strict, max_line_bytes, None):
        if type(event) is Record:
            records.append(event)
        elif type(event) is Reject:
            rejects.append(event)
        elif type(event) is Notice:
            warnings.append(event)
        else:
            report = event  # type: ignore[assignment]
    return FileLoad(records=records, rejects=rejects, warnings=warnings, report=report)


def load_corpus(
    paths: Sequence[str | Path] | str | Path,
    *,
    strict: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Progress | None = None,
) -> LoadReport:
    """Load files or directories of JSONL; lenient keeps valid records, strict raises on any reject.

    In strict mode `StrictModeError.report` holds the complete list of rejects, and the records of
    every file without rejects. `progress` as `iter_load` takes it.
    """
    report = LoadReport()
    with no_gc_pauses():
        for event in iter_load(
            paths, strict=strict, max_line_bytes=max_line_bytes, progress=progress
        ):
            if type(event) is Record:
                report.records.append(event)
            elif type(event) is Reject:
                report.rejects.append(event)
            elif type(event) is Notice:
                report.warnings.append(event)
            else:
                report.files.append(event)  # type: ignore[arg-type]
    if strict and report.rejects:
        failed = {r.file for r in report.rejects}
        report.records = [r for r in report.records if r.source.file not in failed]
        raise StrictModeError(report)
    return report


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Records hold no reference cycles; the cyclic collector's passes over a growing heap of
    fresh records cost a third of the load time, so it waits until the load is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _file_events(
    path: Path, seen: DuplicateIndex, strict: bool, ceiling: int, meter: Meter | None
) -> Iterator[Event]:
    reader = FileReader(path, seen.add_file(str(path)), seen)
    with path.open("rb") as handle:
        head = handle.read(HEAD)
        kind = sniff(head, whole=len(head) < HEAD)
        data = head + handle.read() if kind == "json" else b""  # one JSON value: read it whole
    document = json_document(data) if data else None
    if kind in ("binary", "utf16"):
        yield reader.unreadable(kind, _raw_lines(path, ceiling, meter))
    elif document is not None and strict:
        yield reader.whole_file_reject(*document, data)
    elif document is not None:
        events = reader.document(*document, data)
        yield from events if meter is None else _metered(events, meter, document[1])
    else:
        yield from _jsonl_events(reader, _raw_lines(path, ceiling, meter), ceiling)
    yield from reader.finish()


def _metered(
    events: Iterator[Event], meter: Meter, elements: list[tuple[int, object]]
) -> Iterator[Event]:
    """A JSON array's events, reporting progress by the line each thousandth element starts on."""
    last = elements[-1][0] if elements else 1
    for n, event in enumerate(events, 1):
        if n % DOCUMENT_STEP == 0:
            line = event.source.line if type(event) is Record else getattr(event, "line", 0)
            meter.at(line / last)
        yield event


def _jsonl_events(
    reader: FileReader, lines: Iterator[bytes | int], ceiling: int
) -> Iterator[Event]:
    """The per-line hot path: parse, build, check for a duplicate; every other case off it."""
    number = 0
    entry, loads = reader.entry, orjson.loads
    for raw in lines:
        number += 1
        try:
            obj = loads(raw)  # type: ignore[arg-type]  # an int (a line too long) raises TypeError
        except (orjson.JSONDecodeError, TypeError):
            event = _off_path(reader, raw, number, ceiling)
        else:
            event = (
                entry(obj, number) if type(obj) is dict else _off_path(reader, raw, number, ceiling)
            )
        if event is not None:
            yield event
    reader.report.lines = number


def _off_path(reader: FileReader, raw: bytes | int, number: int, ceiling: int) -> Event | None:
    """A line that is not one plain JSON object: too long, BOM, blank, or a reject with its fix."""
    if type(raw) is int:
        return reader.reject(number, _too_long(raw, ceiling))
    assert isinstance(raw, bytes)
    if number == 1 and raw.startswith(BOM):
        raw = reader.bom(raw)
    if not raw.strip():
        reader.blank_line(number)
        return None
    try:
        obj = parse_line(raw)
    except LineError as err:
        return reader.reject(number, err)
    return reader.entry(obj, number)


def _too_long(size: int, ceiling: int) -> LineError:
    return LineError(
        "too_long",
        f"the line has {size:,} bytes (ceiling {ceiling:,}, against runaway input)",
        "split it into examples; if it really is one example, raise --max-line-bytes",
    )


def _raw_lines(path: Path, ceiling: int, meter: Meter | None = None) -> Iterator[bytes | int]:
    """A file's lines without their newline; a line over `ceiling` bytes comes as its size only."""
    with path.open("rb") as handle:
        rest = b""
        over = -1  # bytes of a line over the ceiling read so far, or -1
        while chunk := handle.read(CHUNK):
            if meter is not None:
                meter.read(len(chunk))
            if over >= 0:
                end = chunk.find(b"\n")
                if end < 0:
                    over += len(chunk)
                    continue
                yield over + end
                over, chunk = -1, chunk[end + 1 :]
            parts = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
            rest = parts.pop()
            for part in parts:
                yield part if len(part) <= ceiling else len(part)
            if len(rest) > ceiling:
                over, rest = len(rest), b""
        if over >= 0:
            yield over
        elif rest:
            yield rest


def iter_records(paths: Sequence[str | Path] | str | Path) -> Iterator[Record]:
    """Stream the valid records of files or directories (rejects are skipped silently)."""
    for event in iter_load(paths):
        if type(event) is Record:
            yield event


def current_records(records: Iterable[Record]) -> list[Record]:
    """Keep, for each id, the record with the newest `as_of` (a later line wins a tie)."""
    latest: dict[str, Record] = {}
    for record in records:
        old = latest.get(record.id)
        if old is None or (record.as_of or date.min) >= (old.as_of or date.min):
            latest[record.id] = record
    return list(latest.values())


def current_pairs(records: Iterable[Record]) -> dict[str, str]:
    """Record id -> content hash of each id's newest record (a later line wins a tie), from a stream.

    What a manifest compares against to find new, changed and removed records; it keeps an id,
    a hash and a day number per id, never a record's text.
    """
    latest: dict[str, str] = {}  # id -> content hash + the day as 6 hex digits: one str per id
    for record in records:
        packed = f"{record.content_hash}{record.as_of.toordinal() if record.as_of else 0:06x}"
        old = latest.get(record.id)
        if old is None or packed[-6:] >= old[-6:]:
            latest[record.id] = packed
    for rid, packed in latest.items():  # in place, so the peak holds one string per id
        latest[rid] = packed[:-6]
    return latest


def format_counts(records: Iterable[Record]) -> dict[str, int]:
    """Records per format."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.format.value] = counts.get(record.format.value, 0) + 1
    return counts
