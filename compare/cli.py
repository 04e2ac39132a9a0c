"""`python -m compare run|advise|history|make-eval|diff|report|rebuild-and-check|probe`: the
side-by-side evaluation from a terminal, and the knowledge probe (what each model gives, and its
effective cutoff).

Exit codes: 0 ok, 1 the run finished but a side failed on every question, 2 could not run,
3 the verdict changed (rebuild-and-check), 4 a gate failed (--fail-under, --fail-on-verdict).
Folders default to the configured work folder (`RAGORTUNE_WORK_DIR`, default `work`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compare import cli_pipeline as pipeline
from compare.side_table import SIDE_NAMES, parse_sides, retrieval_sides
from corpus.offline import use_offline_defaults

if TYPE_CHECKING:
    from compare.comparison import Comparison
    from compare.knowledge_probe import ProbeResult
    from compare.workbench import Workbench


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description=__doc__,
        epilog=pipeline.gate_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="ask every side every eval question; write report.md, report.json, report.html",
        epilog=pipeline.gate_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--eval", type=Path, help="eval file (default: RAGORTUNE_EVAL_PATH, the demo set)"
    )
    run.add_argument(
        "--answerers",
        default="all",
        help=f"comma-separated sides, or 'all' (default: every configured side): "
        f"{', '.join(SIDE_NAMES)}",
    )
    run.add_argument("--out", type=Path, help="report folder (default: <work folder>/report)")
    run.add_argument("--limit", type=int, help="ask only the first N questions")
    run.add_argument(
        "--corpus",
        type=Path,
        help="corpus directory (default: RAGORTUNE_CORPUS_DIR, the demo corpus)",
    )
    run.add_argument("--work", type=Path, help="work folder (default: RAGORTUNE_WORK_DIR or work)")
    run.add_argument(
        "--concurrency",
        type=int,
        help="questions asked at once per HTTP side, judge included (default: "
        "RAGORTUNE_CONCURRENCY or 4)",
    )
    run.add_argument(
        "--queries-per-month",
        type=int,
        default=10_000,
        help="query volume the monthly cost and break-even use (default 10,000)",
    )
    run.add_argument(
        "--retunes-per-month",
        type=float,
        default=1.0,
        help="re-tune cadence the monthly cost uses (default 1; 0.25 = once a quarter)",
    )
    run.add_argument(
        "--estimate",
        action="store_true",
        help="print what the run would cost per side (and a re-tune) and exit without asking",
    )
    pipeline.add_gate_flags(run)
    advise = sub.add_parser(
        "advise",
        help="print the verdict of a past run (default: the newest), with every number",
        epilog=pipeline.gate_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    advise.add_argument("--run", help="a run id from `history` (default: the newest run)")
    advise.add_argument("--report", type=Path, help="read a report.json instead of the history")
    advise.add_argument("--work", type=Path, help="work folder holding runs.sqlite")
    pipeline.add_gate_flags(advise)
    make = sub.add_parser(
        "make-eval",
        help="write an eval set from the corpus: stratified by batch, language and kind of fact, "
        "questions reworded",
    )
    make.add_argument(
        "--corpus",
        type=Path,
        help="corpus directory (default: RAGORTUNE_CORPUS_DIR, the demo corpus)",
    )
    make.add_argument("--out", type=Path, required=True, help="the eval JSONL to write")
    make.add_argument("--size", type=int, default=60, help="about this many items (default 60)")
    make.add_argument("--seed", type=int, default=0, help="the same seed gives the same set")
    make.add_argument(
        "--reword",
        choices=["offline", "endpoint"],
        default="offline",
        help="reword questions by rules (offline) or through the tuning endpoint (TUNING_BASE_URL)",
    )
    make.add_argument("--work", type=Path, help="work folder (default: RAGORTUNE_WORK_DIR or work)")
    _probe_parser(sub)
    history = sub.add_parser("history", help="list past runs and their headline numbers")
    history.add_argument("--work", type=Path, help="work folder holding runs.sqlite")
    pipeline.add_commands(sub)
    return parser


def _probe_parser(sub: Any) -> None:
    from corpus.export import ALIASES, TARGETS

    probe = sub.add_parser(
        "probe",
        help="ask each model closed-book which version of each fact it gives; estimate its "
        "effective cutoff; write the per-fact ledger and, asked, a re-tune plan's training file",
    )
    probe.add_argument(
        "--corpus", type=Path, help="corpus directory (default: RAGORTUNE_CORPUS_DIR)"
    )
    probe.add_argument(
        "--work", type=Path, help="work folder (default: RAGORTUNE_WORK_DIR or work)"
    )
    probe.add_argument(
        "--sides",
        help="comma-separated sides, or 'all' (default: the closed-book models and extractive "
        f"RAG): {', '.join(SIDE_NAMES)}",
    )
    probe.add_argument(
        "--facts", type=int, help="facts asked per side (default: RAGORTUNE_PROBE_FACTS or 40)"
    )
    probe.add_argument("--seed", type=int, default=0, help="the same seed asks the same facts")
    probe.add_argument("--out", type=Path, help="report folder (default: <work folder>/probe)")
    probe.add_argument("--concurrency", type=int, help="questions asked at once per HTTP side")
    probe.add_argument("--plan-out", type=Path, help="write the re-tune plan's training file here")
    probe.add_argument(
        "--to",
        default="openai",
        choices=[*TARGETS, *ALIASES],
        help="the training file's format (default openai)",
    )
    probe.add_argument(
        "--groups",
        default="older,unknown",
        help="which records of the plan to train on: right, older, unknown (default older,unknown)",
    )
    probe.add_argument(
        "--paraphrases", type=int, default=0, help="add N rephrasings of each question"
    )


def _workbench(args: argparse.Namespace) -> Workbench:
    from compare.settings import build_settings
    from compare.workbench import Workbench

    overrides = {
        "corpus_dir": getattr(args, "corpus", None),
        "work_dir": args.work,
        "compare_eval_path": getattr(args, "eval", None),
    }
    return Workbench(build_settings(**{k: v for k, v in overrides.items() if v is not None}))


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from compare.cost import CostSettings
    from compare.freshness import batch_timeline
    from compare.gates import GateError, check_sides
    from compare.html_report import write_html
    from compare.report import write_report

    bench = _workbench(args)
    names = bench.answerer_names if args.answerers == "all" else parse_sides(args.answerers)
    try:
        floors, verdicts = pipeline.parse_gates(args)
        check_sides(floors, names)
    except GateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cost = CostSettings(
        queries_per_month=args.queries_per_month, retunes_per_month=args.retunes_per_month
    )
    if args.estimate:
        return pipeline.estimate(bench, bench.load_eval()[: args.limit], names, cost)
    if bench.index_status().built_at is None and retrieval_sides(names):
        print("no index yet: building it over the corpus first", file=sys.stderr)
        print(bench.rebuild_index().line(), file=sys.stderr)
    items = bench.load_eval()[: args.limit]
    bar = tqdm(total=len(items) * len(names), unit="answer", file=sys.stderr)

    def progress(done: int, total: int, what: str) -> None:
        bar.total, bar.n = total, done
        bar.set_postfix_str(what)
        bar.refresh()

    comparison = bench.compare(
        items, names, progress=progress, cost=cost, concurrency=args.concurrency
    )
    bar.close()
    out = args.out or bench.settings.compare.work_dir / "report"
    json_path, md_path = write_report(comparison, out)
    html_path = write_html(comparison, out / "report.html", batch_timeline(bench.records()))
    print(md_path.read_text(encoding="utf-8"))
    print(f"report: {md_path}, {json_path} and {html_path}")
    gate = pipeline.gate_code(comparison, floors, verdicts)
    failed = [s.answerer for s in comparison.summary.sides if s.answered == 0]
    return gate or (1 if failed else 0)


def _advise(args: argparse.Namespace) -> int:
    from compare.gates import GateError

    try:
        floors, verdicts = pipeline.parse_gates(args)
    except GateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    comparison = _stored(args)
    if comparison is None:
        return 2
    advice = comparison.advice
    print(f"run {comparison.run.run_id} on {comparison.run.eval_name}")
    print(advice.headline)
    for reason in advice.reasons:
        print(f"  - {reason}")
    width = max(len(c.name) for c in advice.criteria)
    for c in advice.criteria:
        status = c.status.replace("_", " ")
        extra = (
            f"   (to measure: {c.to_measure})" if c.to_measure else f"   (threshold {c.threshold})"
        )
        print(f"  {c.name:<{width}}  {status:<12}  {c.value}{extra}")
    return pipeline.gate_code(comparison, floors, verdicts) or 0


def _stored(args: argparse.Namespace) -> Comparison | None:
    """The comparison to advise on: a report file, a named run, or the newest run."""
    from compare.comparison import Comparison

    if args.report is not None:
        if not args.report.exists():
            print(f"error: {args.report} not found", file=sys.stderr)
            return None
        return Comparison.model_validate_json(args.report.read_text(encoding="utf-8"))
    bench = _workbench(args)
    text = bench.db().comparison_json(args.run)
    if text is None:
        which = f"run {args.run!r}" if args.run else "any run"
        print(
            f"error: {bench.db().path} holds no {which} — run `python -m compare run` first "
            "(or pass --report FILE)",
            file=sys.stderr,
        )
        return None
    return Comparison.model_validate_json(text)


def _make_eval(args: argparse.Namespace) -> int:
    from compare.make_eval import write_eval

    made = _workbench(args).make_eval(args.size, args.seed, endpoint=args.reword == "endpoint")
    write_eval(made, args.out)
    print(made.summary())
    print(f"eval: {args.out}")
    return 0 if made.items else 1


def _probe(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from compare.knowledge_probe import ProbeSettings
    from compare.retune_plan import parse_groups

    bench = _workbench(args)
    names = bench.probe_side_names
    if args.sides:
        names = bench.answerer_names if args.sides == "all" else parse_sides(args.sides)
    groups = parse_groups(args.groups)  # refused before anything is asked
    if bench.index_status().built_at is None and retrieval_sides(names):
        print("no index yet: building it over the corpus first", file=sys.stderr)
        print(bench.rebuild_index().line(), file=sys.stderr)
    settings = ProbeSettings(facts=args.facts or bench.settings.compare.probe_facts, seed=args.seed)
    bar = tqdm(unit="answer", file=sys.stderr)

    def progress(done: int, total: int, what: str) -> None:
        bar.total, bar.n = total, done
        bar.set_postfix_str(what)
        bar.refresh()

    result = bench.probe(names, settings, progress=progress, concurrency=args.concurrency)
    bar.close()
    _probe_outputs(bench, result, args, groups)
    return 0 if any(s.estimate.usable for s in result.sides) else 1


def _probe_outputs(
    bench: Workbench, result: ProbeResult, args: argparse.Namespace, groups: list[Any]
) -> None:
    """Print each side's cutoffs and the plan; write the report, the ledger and, asked, the
    training file."""
    from compare.ledger import stale_count
    from compare.probe_report import headline, side_lines, write_probe_report
    from compare.retune_plan import write_plan

    tuned = bench.knowledge(bench.records()).tuned
    known = {tuned.side: tuned} if tuned is not None else {}
    plan = None
    try:
        plan = bench.retune_plan(result)
    except ValueError as err:
        print(f"no re-tune plan: {err}", file=sys.stderr)
    paths = write_probe_report(result, args.out or bench.probe_folder, known, plan)
    print(headline(result))
    for side in result.sides:
        print("\n".join(side_lines(side, stale_count(result, side.side), known.get(side.side))))
    if plan is not None:
        print("\n".join(plan.lines()))
        if args.plan_out:
            written = write_plan(
                plan, bench.records(), args.to, args.plan_out, groups, args.paraphrases
            )
            print(
                f"training file: {args.plan_out} ({len(written.lines)} lines, {args.to}; "
                f"{len(written.problems)} records could not be converted)"
            )
    print(f"report: {paths[1]}, ledger: {paths[2]}, probe: {paths[0]}")


def _history(args: argparse.Namespace) -> int:
    for run in _workbench(args).history():
        scores = ", ".join(f"{side} {value:.3f}" for side, value in run.headline.items())
        print(
            f"{run.run_id}  {run.started_at:%Y-%m-%d %H:%M}  {run.eval_name}  "
            f"{run.verdict or '-'}  {run.metric}: {scores}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the compare CLI; returns the exit code."""
    use_offline_defaults()
    args = _parser().parse_args(argv)
    try:
        commands = {
            "run": _run,
            "advise": _advise,
            "history": _history,
            "make-eval": _make_eval,
            "rebuild-and-check": pipeline.rebuild_and_check,
            "diff": pipeline.diff,
            "report": pipeline.report,
            "probe": _probe,
        }
        return commands[args.command](args)
    except Exception as err:  # the edge: any failure becomes a message and exit code 2
        from answers.redact import redact

        print(f"error: {redact(f'{type(err).__name__}: {err}')}", file=sys.stderr)
        return 2
