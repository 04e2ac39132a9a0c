"""Turn the entries of one file into records, keeping its counts and the warnings it earns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.build import build_record
from corpus.diagnose import BOM
from corpus.dropped import SHOWN, Dropped, Lines
from corpus.duplicates import key
from corpus.errors import LineError
from corpus.files import batch_name, file_date
from corpus.formats import detect_format, parse_object
from corpus.outcome import FileReport, Notice, Reject
from corpus.record import Format, Record, SourceRef, build

if TYPE_CHECKING:
    from corpus.duplicates import DuplicateIndex


PREFERENCE = (Format.DPO, Format.KTO)


class FileReader:
    """One file's reading state: counts, the lines each warning names, the duplicate index."""

    def __init__(self, path: Path, file_no: int, seen: DuplicateIndex) -> None:
        self.name, self.file_no, self.seen = str(path), file_no, seen
        self.batch_date = file_date(path)
        self.batch = batch_name(path)
        self.report = FileReport(file=self.name, batch=self.batch, as_of=self.batch_date)
        self.formats: dict[str, Lines] = {}
        self.blank = Lines()
        self.dropped = Dropped()  # what was read on purpose and left out, for its warnings
        self.notices: list[Notice] = []
        # plain ints on the hot path (a pydantic field assignment costs ~1.4 µs); see `finish`
        self.valid = self.rejected = self.skipped = self.blanks = 0

    def bom(self, raw: bytes) -> bytes:
        """Note a UTF-8 BOM on line 1 and return the line without it."""
        self.notices.append(
            self._notice(
                1,
                "bom",
                "the file starts with a UTF-8 BOM",
                "save as UTF-8 without BOM (python -m corpus fix FILE -o OUT)",
            )
        )
        return raw[len(BOM) :]

    def blank_line(self, number: int) -> None:
        """Count a blank line."""
        self.blank.add(number)
        self.blanks += 1

    def reject(self, number: int, err: LineError) -> Reject:
        """Count and describe a rejected entry."""
        self.rejected += 1
        return Reject(
            file=self.name, line=number, code=err.code, message=err.message, hint=err.hint
        )

    def entry(self, obj: dict[str, Any], number: int) -> Record | Reject | None:
        """A parsed JSON object -> its record, a reject, or None when it is skipped on purpose."""
        try:
            parsed = parse_object(obj, detect_format(obj))
            if parsed.undesirable:
                return self._skip(self.dropped.undesirable, number)
            source = build(SourceRef, {"file": self.name, "line": number})
            record = build_record(obj, parsed, source, self.batch, self.batch_date)
        except LineError as err:
            return self.reject(number, err)
        if parsed.negatives:
            self.dropped.negatives += parsed.negatives
        here = (self.file_no << 32) | number
        first_at = self.seen.first_seen(key(record.content_hash, record.as_of), here)
        if first_at != here:
            first = self.seen.where(first_at)
            if record.format in PREFERENCE:
                return self._skip(self.dropped.repeats, number)
            return self.reject(
                number,
                LineError(
                    "duplicate",
                    f"same content as {first}",
                    "drop the repeated line (exact duplicates over-weight one example)",
                ),
            )
        self.valid += 1
        lines = self.formats.get(record.format)
        if lines is None:
            lines = self.formats[record.format] = Lines()
        if lines.count < SHOWN:
            lines.first.append(number)
        lines.count += 1
        if parsed.media:
            self.dropped.media += parsed.media
            self.dropped.media_lines.add(number)
        if parsed.reasoning:
            self.dropped.reasoning += parsed.reasoning
            self.dropped.reasoning_lines.add(number)
        return record

    def _skip(self, lines: Lines, number: int) -> Record | Reject | None:
        lines.add(number)
        self.skipped += 1
        return None

    def document(
        self, layout: str, elements: list[tuple[int, Any]], data: bytes
    ) -> Iterator[Record | Reject]:
        """A whole-file JSON array (or object) read leniently, each element an entry."""
        self._whole_file(layout, data)
        n = len(elements)
        what = (
            f"a JSON array of {n} item(s)"
            if layout == "json_array"
            else "one JSON object over several lines"
        )
        self.notices.append(
            self._notice(
                0,
                layout if layout == "json_array" else "multiline_json",
                f"the file is {what}, not JSON Lines; read leniently, each record's line is where its element starts",
                "convert it to one object per line: python -m corpus fix FILE -o FILE.jsonl "
                "(--strict rejects such files)",
            )
        )
        for number, value in elements:
            if type(value) is dict:
                event = self.entry(value, number)
                if event is not None:
                    yield event
            else:
                yield self.reject(
                    number,
                    LineError(
                        "not_object",
                        "the element is not a JSON object",
                        'each element must be {"key": ...}',
                    ),
                )

    def whole_file_reject(
        self, layout: str, elements: list[tuple[int, Any]], data: bytes
    ) -> Reject:
        """Strict mode: a JSON array or multi-line object is refused as a whole."""
        self._whole_file(layout, data)
        self.rejected = len(elements)
        if layout == "json_array":
            return Reject(
                file=self.name,
                line=0,
                code="json_array",
                message=f"the file is a JSON array of {len(elements)} items, not JSON Lines",
                hint="convert it to one object per line: python -m corpus fix FILE -o FILE.jsonl",
            )
        return Reject(
            file=self.name,
            line=0,
            code="multiline_json",
            message="the file is one JSON value spread over several lines, not JSON Lines",
            hint="write each example on its own line: python -m corpus fix FILE -o FILE.jsonl",
        )

    def _whole_file(self, layout: str, data: bytes) -> None:
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        self.report.layout = layout  # type: ignore[assignment]
        self.report.lines = len(lines)
        self.blanks = sum(1 for raw in lines if not raw.strip())

    def unreadable(self, kind: str, lines: Iterable[bytes | int]) -> Reject:
        """A binary or UTF-16 file: one reject for the whole file, every line counted."""
        self.report.layout = "not_text"
        count = 0
        for raw in lines:
            count += 1
            if type(raw) is bytes and not raw.strip():
                self.blanks += 1
        self.report.lines, self.rejected = count, count - self.blanks
        if kind == "utf16":
            return Reject(
                file=self.name,
                line=0,
                code="not_utf8",
                message="the file is UTF-16, not UTF-8",
                hint="re-save it as UTF-8: python -m corpus fix FILE -o OUT (or iconv -f utf-16 -t utf-8)",
            )
        return Reject(
            file=self.name,
            line=0,
            code="binary",
            message="the file is binary data, not text (no line of its start decodes as text)",
            hint="a corpus holds JSON Lines text: is this the right file?",
        )

    def finish(self) -> Iterator[Notice | FileReport]:
        """The file's warnings, then its counts."""
        report = self.report
        report.valid, report.rejected, report.skipped = self.valid, self.rejected, self.skipped
        report.entries, report.blank = self.valid + self.rejected + self.skipped, self.blanks
        report.formats = {str(fmt): lines.count for fmt, lines in self.formats.items()}
        yield from self.notices
        if self.blank.count:
            yield self._notice(
                self.blank.first[0],
                "blank_line",
                f"{self.blank.count} blank line(s): {self.blank.shown()}",
                "remove blank lines: some platforms reject them",
            )
        if len(self.formats) > 1:
            yield self._mixed_formats()
        yield from self.dropped.notices(self._notice, self.report.dropped)
        yield report

    def _mixed_formats(self) -> Notice:
        formats = self.formats
        main = max(formats, key=lambda f: formats[f].count)
        others = "; ".join(
            f"{f} on lines {lines.shown()}" for f, lines in formats.items() if f != main
        )
        return self._notice(
            0,
            "mixed_formats",
            f"the file mixes formats: mostly {main}, but {others}",
            "keep one format per file (python -m corpus export FILE --to FORMAT converts)",
        )

    def _notice(self, line: int, code: str, message: str, hint: str) -> Notice:
        return Notice(file=self.name, line=line, code=code, message=message, hint=hint)
