"""`python -m corpus validate|report|export|fix`: the corpus layer from a terminal.

Exit codes: 0 clean, 1 problems found (rejects, unconvertible records), 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from corpus.errors import CorpusError, StrictModeError
from corpus.export import ALIASES, TARGETS, write_export
from corpus.fix import fix_file
from corpus.loader import DEFAULT_MAX_LINE_CHARS, current_records, load_corpus
from corpus.record import LoadReport
from corpus.report import DEFAULT_EPOCHS, DEFAULT_TOKEN_LIMIT, render_summary, summarise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m corpus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_load_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths", nargs="+", type=Path, help="JSONL files or directories of dated batches"
        )
        p.add_argument("--strict", action="store_true", help="fail a file on any rejected line")
        p.add_argument("--max-line-chars", type=int, default=DEFAULT_MAX_LINE_CHARS)

    validate = sub.add_parser("validate", help="check every line; list rejects with fixes")
    add_load_options(validate)
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    report = sub.add_parser(
        "report", help="validate, then summarise formats, batches, tokens, labels"
    )
    add_load_options(report)
    report.add_argument("--token-limit", type=int, default=DEFAULT_TOKEN_LIMIT)
    report.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    report.add_argument("--json", action="store_true")

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

    fix = sub.add_parser("fix", help="repair BOM, cp1251, JSON arrays and blank lines")
    fix.add_argument("path", type=Path)
    fix.add_argument("-o", "--out", type=Path, required=True)
    return parser


def _print_rejects(report: LoadReport) -> None:
    for reject in report.rejects:
        print(f"  {reject}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


def _table(report: LoadReport) -> str:
    width = max([len(f.file) for f in report.files] + [4])
    rows = [f"{'file':<{width}}  lines  valid  rejected  blank  formats"]
    for f in report.files:
        formats = ", ".join(f"{k} {v}" for k, v in f.formats.items()) or "-"
        rows.append(
            f"{f.file:<{width}}  {f.lines:>5}  {f.valid:>5}  {f.rejected:>8}  {f.blank:>5}  {formats}"
        )
    return "\n".join(rows)


def _load(args: argparse.Namespace) -> tuple[LoadReport, bool]:
    """Load per the options; in strict mode a failure still returns the full report."""
    try:
        return load_corpus(
            args.paths, strict=args.strict, max_line_chars=args.max_line_chars
        ), False
    except StrictModeError as err:
        return err.report, True


def _validate(args: argparse.Namespace) -> int:
    report, failed = _load(args)
    if args.json:
        payload = {
            "ok": report.ok,
            "strict_failed": failed,
            "files": [f.model_dump(mode="json") for f in report.files],
            "rejects": [r.model_dump() for r in report.rejects],
            "warnings": [w.model_dump() for w in report.warnings],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(_table(report))
        _print_rejects(report)
        valid = sum(f.valid for f in report.files)
        verdict = (
            "strict mode: files with rejects failed" if failed else "lenient: valid records kept"
        )
        print(f"{valid} valid, {len(report.rejects)} rejected ({verdict})")
    return 0 if report.ok else 1


def _report(args: argparse.Namespace) -> int:
    report, _ = _load(args)
    summary = summarise(report, token_limit=args.token_limit, epochs=args.epochs)
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(_table(report))
        _print_rejects(report)
        print(render_summary(summary))
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    report, failed = _load(args)
    if failed:
        _print_rejects(report)
        return 1
    records = report.records if args.all_versions else current_records(report.records)
    result = write_export(records, args.to, args.out, keep_meta=args.keep_meta)
    for problem in result.problems:
        print(f"  not converted: {problem}")
    print(
        f"wrote {len(result.lines)} line(s) to {args.out} ({result.target}); "
        f"{len(result.problems)} not converted, {len(report.rejects)} rejected on load"
    )
    return 0 if not result.problems and report.ok else 1


def _fix(args: argparse.Namespace) -> int:
    result = fix_file(args.path, args.out)
    for change in result.changes:
        print(f"  {change}")
    print(f"wrote {result.lines_written} line(s) to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the corpus CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    commands = {"validate": _validate, "report": _report, "export": _export, "fix": _fix}
    try:
        return commands[args.command](args)
    except (CorpusError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
