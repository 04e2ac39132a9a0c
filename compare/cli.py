"""`python -m compare run|advise|history`: the side-by-side evaluation from a terminal.

Exit codes: 0 ok, 1 the run finished but a side failed on every question, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from corpus.offline import use_offline_defaults


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="ask every side every eval question; write report.md + report.json"
    )
    run.add_argument("--eval", type=Path, help="eval file (default: the demo eval set)")
    run.add_argument(
        "--answerers", default="rag,tuned,tuned_rag", help="comma-separated: rag,tuned,tuned_rag"
    )
    run.add_argument("--out", type=Path, default=Path("work/report"), help="where the report goes")
    run.add_argument("--limit", type=int, help="ask only the first N questions")
    run.add_argument("--corpus", type=Path, help="corpus directory (default: the demo corpus)")
    run.add_argument("--queries-per-month", type=int, default=10_000)
    run.add_argument("--retunes-per-month", type=float, default=1.0)
    advise = sub.add_parser(
        "advise", help="print the verdict of the last run's report, with every number"
    )
    advise.add_argument("--report", type=Path, default=Path("work/report/report.json"))
    sub.add_parser("history", help="list past runs and their headline numbers")
    return parser


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from compare.costing import CostSettings
    from compare.report import write_report
    from compare.settings import build_settings
    from compare.workbench import Workbench

    overrides = {"corpus_dir": args.corpus} if args.corpus else {}
    bench = Workbench(build_settings(**overrides))
    if bench.index_status().built_at is None and {"rag", "tuned_rag"} & set(
        args.answerers.split(",")
    ):
        print("no index yet: building it over the corpus first", file=sys.stderr)
        print(bench.rebuild_index().line(), file=sys.stderr)
    items = bench.load_eval(args.eval)[: args.limit]
    names = [n.strip() for n in args.answerers.split(",") if n.strip()]
    bar = tqdm(total=len(items) * len(names), unit="answer", file=sys.stderr)

    def progress(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(what[:40])
        bar.refresh()

    cost = CostSettings(
        queries_per_month=args.queries_per_month, retunes_per_month=args.retunes_per_month
    )
    comparison = bench.evaluate(items, names, progress=progress, cost=cost)
    bar.close()
    json_path, md_path = write_report(comparison, args.out)
    print(md_path.read_text(encoding="utf-8"))
    print(f"report: {md_path} and {json_path}")
    failed = [s.answerer for s in comparison.summary.sides if s.answered == 0]
    return 1 if failed else 0


def _advise(args: argparse.Namespace) -> int:
    from compare.report import Comparison

    if not args.report.exists():
        print(
            f"error: {args.report} not found — run `python -m compare run` first", file=sys.stderr
        )
        return 2
    comparison = Comparison.model_validate_json(args.report.read_text(encoding="utf-8"))
    advice = comparison.advice
    print(advice.headline)
    for reason in advice.reasons:
        print(f"  - {reason}")
    width = max(len(c.name) for c in advice.criteria)
    for c in advice.criteria:
        mark = "met" if c.met else "not met"
        print(f"  {c.name:<{width}}  {mark:<7}  {c.value}   (threshold {c.threshold})")
    return 0


def _history(args: argparse.Namespace) -> int:
    from compare.settings import build_settings
    from compare.workbench import Workbench

    for run in Workbench(build_settings()).history():
        print(run["run_id"], run["eval_name"], json.dumps(run["summary"], ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the compare CLI; returns the exit code."""
    use_offline_defaults()
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "advise": _advise, "history": _history}[args.command](args)
    except Exception as err:  # the edge: any failure becomes a message and exit code 2
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
