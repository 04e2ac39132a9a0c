"""`python -m corpus validate|report|facts|export|fix`: the corpus layer from a terminal.

validate, report and facts read the corpus as a stream, so they work on corpora of any size.
Exit codes: 0 clean, 1 problems found (rejects, unconvertible records, an unknown id), 2 could
not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from corpus.errors import CorpusError, StrictModeError
from corpus.export import ALIASES, TARGETS, write_export
from corpus.facts import FactHistory, fact_histories, shown_day
from corpus.fix import fix_file
from corpus.limits import DEFAULT_PLATFORM, LIMITS, custom_limit
from corpus.loader import (
    DEFAULT_MAX_LINE_BYTES,
    current_records,
    iter_load,
    load_corpus,
)
from corpus.names import printable
from corpus.outcome import FileReport, Notice, Reject
from corpus.record import Record
from corpus.report import DEFAULT_EPOCHS, SummaryBuilder, render_summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m corpus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_load_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths", nargs="+", type=Path, help="JSONL files or directories of dated batches"
        )
        p.add_argument(
            "--strict",
            action="store_true",
            help="fail a file on any rejected line; refuse JSON arrays instead of reading them",
        )
        p.add_argument(
            "--max-line-bytes",
            type=int,
            default=DEFAULT_MAX_LINE_BYTES,
            help="ceiling against runaway lines (default 8 MiB); not an example-length limit",
        )

    validate = sub.add_parser("validate", help="check every line; list rejects with fixes")
    add_load_options(validate)
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    report = sub.add_parser(
        "report", help="validate, then summarise formats, batches, tokens, labels, facts"
    )
    add_load_options(report)
    report.add_argument(
        "--platform",
        choices=sorted(LIMITS),
        default=DEFAULT_PLATFORM,
        help="whose per-example token limit to flag examples against",
    )
    report.add_argument("--token-limit", type=int, help="flag examples over N tokens instead")
    report.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    report.add_argument("--json", action="store_true")

    facts = sub.add_parser("facts", help="print fact histories: every answer a question held, when")
    add_load_options(facts)
    facts.add_argument("--changed", action="store_true", help="only facts whose answer changed")
    facts.add_argument("--id", help="only the fact of this record id")
    facts.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="write the corpus in a platform's format")
    add_load_options(export)
    export.add_argument("--to", required=True, choices=[*TARGETS, *ALIASES])
    export.add_argument("-o", "--out", type=Path, required=True)
    export.add_argument(
        "--keep-meta", action="store_true", help="add id and as_of keys to each line"
    )
    export.add_argument(
        "--all-versions", action="store_true", help="keep superseded records (same id)"
    )

    fix = sub.add_parser("fix", help="repair BOM, cp1251, UTF-16, JSON arrays and blank lines")
    fix.add_argument("path", type=Path)
    fix.add_argument("-o", "--out", type=Path, required=True)
    return parser


class _Problems:
    """The files, rejects and warnings of a streamed load (records pass through uncounted)."""

    def __init__(self) -> None:
        self.files: list[FileReport] = []
        self.rejects: list[Reject] = []
        self.warnings: list[Notice] = []

    def add(self, event: Record | Reject | Notice | FileReport) -> None:
        if type(event) is Reject:
            self.rejects.append(event)
        elif type(event) is Notice:
            self.warnings.append(event)
        elif type(event) is FileReport:
            self.files.append(event)

    def print(self) -> None:
        names = [printable(f.file) for f in self.files]  # a newline in a name breaks no row
        width = max([len(n) for n in names] + [4])
        print(f"{'file':<{width}}  lines  valid  rejected  skipped  blank  formats")
        for name, f in zip(names, self.files, strict=True):
            formats = ", ".join(f"{k} {v}" for k, v in f.formats.items()) or "-"
            layout = "" if f.layout == "jsonl" else f" [{f.layout}]"
            print(
                f"{name:<{width}}  {f.lines:>5}  {f.valid:>5}  {f.rejected:>8}  "
                f"{f.skipped:>7}  {f.blank:>5}  {formats}{layout}"
            )
        for reject in self.rejects:
            print(f"  {reject}")
        for warning in self.warnings:
            print(f"  warning: {warning}")


def _validate(args: argparse.Namespace) -> int:
    problems = _Problems()
    for event in iter_load(args.paths, strict=args.strict, max_line_bytes=args.max_line_bytes):
        problems.add(event)
    failed = args.strict and bool(problems.rejects)
    if args.json:
        payload = {
            "ok": not problems.rejects,
            "strict_failed": failed,
            "files": [f.model_dump(mode="json") for f in problems.files],
            "rejects": [r.model_dump() for r in problems.rejects],
            "warnings": [w.model_dump() for w in problems.warnings],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        problems.print()
        valid = sum(f.valid for f in problems.files)
        verdict = (
            "strict mode: files with rejects failed" if failed else "lenient: valid records kept"
        )
        print(f"{valid} valid, {len(problems.rejects)} rejected ({verdict})")
    return 0 if not problems.rejects else 1


def _report(args: argparse.Namespace) -> int:
    limit = custom_limit(args.token_limit) if args.token_limit else LIMITS[args.platform]
    builder, problems = SummaryBuilder(limit, args.epochs), _Problems()
    for event in iter_load(args.paths, strict=args.strict, max_line_bytes=args.max_line_bytes):
        builder.add(event)
        problems.add(event)
    summary = builder.summary()
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        problems.print()
        print(render_summary(summary))
    return 0 if not problems.rejects else 1


def render_history(history: FactHistory) -> str:
    """A fact's versions, one line each, oldest first; an absent date reads "undated"."""
    many = len(history.versions)
    if history.changed:
        state = f"{many} versions, changed"
    else:
        state = f"{many} variant answers, unchanged" if many > 1 else "unchanged"
    rows = [f"fact {history.fact_id} ({state})", f"  question: {history.question}"]
    for v in history.versions:
        held = f"{shown_day(v.first_seen)} .. {shown_day(v.until, 'now')}"
        notes = [", ".join(v.record_ids), "batches " + ", ".join(map(printable, v.batches))]
        if v.last_confirmed != v.first_seen:
            notes.append(f"last confirmed {shown_day(v.last_confirmed)}")
        if v.variant:
            notes.append("a variant: stated alongside the answer above, not a change")
        rows.append(f"  {held:<24} {v.answer}  [{'; '.join(notes)}]")
    return "\n".join(rows)


def _facts(args: argparse.Namespace) -> int:
    records = (
        event
        for event in iter_load(args.paths, strict=args.strict, max_line_bytes=args.max_line_bytes)
        if type(event) is Record
    )
    histories = fact_histories(records)
    if args.id:
        histories = [h for h in histories if args.id in h.record_ids]
        if not histories:
            print(f"no fact holds a record with id {args.id!r}", file=sys.stderr)
            return 1
    if args.changed:
        histories = [h for h in histories if h.changed]
    if args.json:
        print(
            json.dumps([h.model_dump(mode="json") for h in histories], ensure_ascii=False, indent=2)
        )
        return 0
    for history in histories:
        print(render_history(history))
    changed = sum(h.changed for h in histories)
    variants = sum(h.has_variants for h in histories)
    also = f", {variants} with variant answers on one date" if variants else ""
    print(f"{len(histories)} fact(s) shown, {changed} changed{also}")
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        report = load_corpus(args.paths, strict=args.strict, max_line_bytes=args.max_line_bytes)
    except StrictModeError as err:
        for reject in err.report.rejects:
            print(f"  {reject}")
        return 1
    records = report.records if args.all_versions else current_records(report.records)
    result = write_export(records, args.to, args.out, keep_meta=args.keep_meta)
    for problem in result.problems:
        print(f"  not converted: {problem}")
    print(
        f"wrote {len(result.lines)} line(s) to {printable(str(args.out))} ({result.target}); "
        f"{len(result.problems)} not converted, {len(report.rejects)} rejected on load"
    )
    return 0 if not result.problems and report.ok else 1


def _fix(args: argparse.Namespace) -> int:
    result = fix_file(args.path, args.out)
    for change in result.changes:
        print(f"  {change}")
    print(f"wrote {result.lines_written} line(s) to {printable(str(args.out))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the corpus CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    commands = {
        "validate": _validate,
        "report": _report,
        "facts": _facts,
        "export": _export,
        "fix": _fix,
    }
    try:
        return commands[args.command](args)
    except (CorpusError, OSError) as err:
        print(f"error: {printable(str(err))}", file=sys.stderr)
        return 2
