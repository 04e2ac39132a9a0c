"""The pipeline's commands of `python -m compare`: the scheduled rebuild-and-check, CI gates, run
diffs, the shareable HTML report, and the cost estimate before a run.

`compare.cli` owns the parser and dispatch; this module adds these commands and flags to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from compare.comparison import Comparison
    from compare.cost import CostSettings
    from compare.evalset import EvalItem
    from compare.gates import Floor
    from compare.runs_db import RunsDatabase
    from compare.workbench import Workbench

VERDICT_CHANGED = 3
GATE_FAILED = 4
CHECK_CODES = """exit codes:
  0  rebuilt and evaluated; the verdict is the one the last run on this eval set reached
     (or this is the first run on it)
  1  a side failed on every question (checked before the verdict; a verdict that changed
     to 'No verdict' because of it is still told to the webhook)
  2  could not run: the rebuild failed, another rebuild held the index, a bad eval file, ...
  3  the verdict changed since the last run on this eval set (the webhook, if any, is told;
     a webhook that fails is logged and changes nothing)
"""


def gate_codes() -> str:
    """The gates' help (kept free of heavy imports: every command's parser shows it)."""
    return (
        "gates:\n"
        "  --fail-under SIDE:METRIC=VALUE   the side's mean METRIC must be at least VALUE; METRIC is\n"
        "                                   a metric the comparison measures (token_f1, contains,\n"
        "                                   accuracy, numbers, ...) or hit@1, hit@5, mrr; a wrong\n"
        "                                   name lists them all; repeatable\n"
        "  --fail-on-verdict VERDICT        fail when the advice reaches VERDICT; repeatable\n"
        "  A failed gate exits 4 after the full report is written; a gate naming a side or\n"
        "  metric the run lacks exits 2 and lists what the run has.\n"
    )


def add_gate_flags(parser: argparse.ArgumentParser) -> None:
    """`--fail-under` and `--fail-on-verdict` (on `run` and `advise`)."""
    from typing import get_args

    from compare.advice import Verdict

    verdicts = get_args(Verdict)
    parser.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="SIDE:METRIC=VALUE",
        help="exit 4 when the side's mean METRIC is under VALUE (repeatable)",
    )
    parser.add_argument(
        "--fail-on-verdict",
        action="append",
        default=[],
        metavar="VERDICT",
        help=f"exit 4 when the verdict is VERDICT (repeatable): {', '.join(verdicts)}",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `rebuild-and-check`, `diff` and `report` commands."""
    check = sub.add_parser(
        "rebuild-and-check",
        help="the scheduled job: rebuild the index, evaluate again (cached answers reused), "
        "report a verdict change",
        description="Rebuild the index incrementally, re-run the eval (only answers that could "
        "have changed are asked again), keep the run in the history, write report.md, "
        "report.json and report.html, and report when the verdict changed since the last run "
        "over the same eval set and sides.",
        epilog=CHECK_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--eval", type=Path, help="eval file (default: RAGORTUNE_EVAL_PATH)")
    check.add_argument(
        "--answerers", help="comma-separated sides (default: every side this configuration has)"
    )
    check.add_argument("--limit", type=int, help="ask only the first N questions")
    check.add_argument(
        "--corpus", type=Path, help="corpus directory (default: RAGORTUNE_CORPUS_DIR)"
    )
    check.add_argument("--work", type=Path, help="work folder (default: RAGORTUNE_WORK_DIR)")
    check.add_argument("--out", type=Path, help="report folder (default: <work folder>/report)")
    check.add_argument("--full", action="store_true", help="rebuild the whole index")
    check.add_argument("--concurrency", type=int, help="questions asked at once per HTTP side")
    check.add_argument(
        "--webhook",
        help="POST a JSON message here when the verdict changes (default: RAGORTUNE_WEBHOOK_URL)",
    )
    check.add_argument(
        "--webhook-timeout",
        type=float,
        help="seconds the webhook may take in all (default: RAGORTUNE_WEBHOOK_TIMEOUT_S or 10)",
    )
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    diff = sub.add_parser(
        "diff",
        help="what changed between two runs: questions fixed and broken, metric change with "
        "its interval, verdict and criteria",
    )
    diff.add_argument("run_a", help="the earlier run id (or: previous, newest)")
    diff.add_argument("run_b", help="the later run id (or: previous, newest)")
    diff.add_argument("--metric", help="the metric compared (default: run B's headline metric)")
    diff.add_argument("--shown", type=int, default=5, help="example questions per kind of change")
    diff.add_argument("--work", type=Path, help="work folder holding runs.sqlite")
    report = sub.add_parser(
        "report",
        help="a stored run's report: Markdown to stdout, or --html to one self-contained file",
    )
    report.add_argument("run", nargs="?", help="a run id (default: the newest run)")
    report.add_argument("--html", action="store_true", help="write one self-contained HTML file")
    report.add_argument(
        "--out", type=Path, help="the HTML file (default: <work>/report/report-<run>.html)"
    )
    report.add_argument("--work", type=Path, help="work folder holding runs.sqlite")


def parse_gates(args: argparse.Namespace) -> tuple[list[Floor], list[str]]:
    """The gates given on the command line (GateError for a malformed one)."""
    from compare.gates import parse_floor, parse_verdict

    floors = [parse_floor(text) for text in args.fail_under]
    return floors, [parse_verdict(text) for text in args.fail_on_verdict]


def gate_code(c: Comparison, floors: list[Floor], verdicts: list[str]) -> int | None:
    """Check the gates after a report was written: GATE_FAILED, 2 for an unknown one, or None."""
    from compare.gates import GateError, failed_gates

    if not floors and not verdicts:
        return None
    try:
        failures = failed_gates(c, floors, verdicts)
    except GateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"gate failed: {failure}", file=sys.stderr)
    if not failures:
        print(f"gates passed: {len(floors) + len(verdicts)}", file=sys.stderr)
    return GATE_FAILED if failures else None


def estimate(
    bench: Workbench, items: Sequence[EvalItem], names: list[str], cost: CostSettings
) -> int:
    """Print what a run would cost, asking nothing."""
    from compare.estimate import estimate_for

    made = estimate_for(bench, items, names, cost)
    print(made.table())
    print(f"estimate: {made.line()}")
    return 0


def rebuild_and_check(args: argparse.Namespace) -> int:
    """`rebuild-and-check`: see CHECK_CODES for what its exit code means."""
    from tqdm import tqdm

    from compare.scheduled import asked_again
    from compare.scheduled import rebuild_and_check as check
    from compare.webhook import check_url

    bench = _bench(args)
    c = bench.settings.compare
    url = args.webhook or (c.webhook_url.get_secret_value() if c.webhook_url else None)
    problem = check_url(url) if url else None
    if problem:  # found before the rebuild, not on the day the verdict changes
        print(f"error: {problem} (--webhook or RAGORTUNE_WEBHOOK_URL)", file=sys.stderr)
        return 2
    given = [n.strip() for n in (args.answerers or "").split(",") if n.strip()]
    names = given or bench.answerer_names
    items = bench.load_eval()[: args.limit]
    bar = tqdm(total=len(items) * len(names), unit="answer", file=sys.stderr, disable=args.quiet)

    def progress(done: int, total: int, what: str) -> None:
        bar.total, bar.n = total, done
        bar.set_postfix_str(what)
        bar.refresh()

    try:
        outcome = check(
            bench,
            items,
            names,
            args.out or c.work_dir / "report",
            full=args.full,
            concurrency=args.concurrency,
            webhook=url,
            webhook_timeout_s=args.webhook_timeout or c.webhook_timeout_s,
            progress=progress,
        )
    finally:
        bar.close()
    comparison, change = outcome.comparison, outcome.change
    print(outcome.rebuild)
    print(f"run {comparison.run.run_id}: {asked_again(comparison)}")
    print(change.summary())
    for moved in change.criteria:
        print(f"  {moved.name}: {moved.before} -> {moved.after}  ({moved.value_after})")
    print("reports: " + ", ".join(str(p) for p in outcome.reports))
    if outcome.webhook_error:
        print(f"webhook not told (the check goes on): {outcome.webhook_error}", file=sys.stderr)
    elif outcome.notified:
        print("webhook told")
    if any(s.answered == 0 for s in comparison.summary.sides):
        return 1
    return VERDICT_CHANGED if change.changed else 0


def diff(args: argparse.Namespace) -> int:
    """`diff RUN_A RUN_B`: exit 0, or 2 when a run is not in the history."""
    from compare.diff import diff_runs, render_diff

    db = _bench(args).db()
    runs = [_stored(db, args.run_a), _stored(db, args.run_b)]
    if runs[0] is None or runs[1] is None:
        return 2
    print(render_diff(diff_runs(runs[0], runs[1], args.metric), args.shown), end="")
    return 0


def report(args: argparse.Namespace) -> int:
    """`report [RUN] [--html]`: exit 0, or 2 when the run is not in the history."""
    from compare.freshness import batch_timeline
    from compare.html_report import write_html
    from compare.report import render_markdown

    bench = _bench(args)
    c = _stored(bench.db(), args.run or "newest")
    if c is None:
        return 2
    if not args.html:
        print(render_markdown(c), end="")
        return 0
    out = args.out or bench.settings.compare.work_dir / "report" / f"report-{c.run.run_id}.html"
    path = write_html(c, out, batch_timeline(bench.records()))
    print(f"report: {path}")
    return 0


def _bench(args: argparse.Namespace) -> Workbench:
    from compare.cli import _workbench

    return _workbench(args)


def _stored(db: RunsDatabase, run: str) -> Comparison | None:
    """A stored run by id, or `newest` / `previous`; prints why not when absent."""
    from compare.comparison import Comparison

    ids = [r.run_id for r in db.runs()]
    aliases = {"newest": ids[-1:], "previous": ids[-2:-1]}
    run_id = next(iter(aliases[run]), None) if run in aliases else run
    text = db.comparison_json(run_id) if run_id else None
    if text is None:
        print(
            f"error: {db.path} holds no run {run!r}; `python -m compare history` lists them",
            file=sys.stderr,
        )
        return None
    return Comparison.model_validate_json(text)
