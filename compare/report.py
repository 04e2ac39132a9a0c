"""Render a comparison: `report.json` (everything) and `report.md` (what a team reads first)."""

from __future__ import annotations

from pathlib import Path

from compare.comparison import Comparison, caveats
from compare.stats import Interval
from compare.summary import FACT_METRIC

STATUS = {"met": "met", "not_met": "not met", "not_measured": "not measured"}


def write_report(comparison: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """Write report.json and report.md into `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    md_path.write_text(render_markdown(comparison), encoding="utf-8")
    return json_path, md_path


def _ci(interval: Interval | None) -> str:
    if interval is None:
        return "—"
    return f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(c: Comparison) -> str:
    """The report as Markdown: advice first, then quality, freshness, cost and latency."""
    run, s = c.run, c.summary
    metric = c.advice.inputs.metric
    out = [
        f"# rag-or-tune report — {run.eval_name}",
        "",
        f"Run `{run.run_id}` at {run.started_at:%Y-%m-%d %H:%M UTC}; {len(run.items)} questions; "
        f"answerers: {', '.join(run.answerers)}.",
        "",
        f"## Advice: {c.advice.headline}",
        "",
        *[f"- {reason}" for reason in c.advice.reasons],
        *[f"- **Caveat:** {note}" for note in caveats(c)],
        "",
        *_table(
            ["criterion", "measured", "threshold", "status"],
            [
                [
                    k.name,
                    k.value,
                    k.threshold,
                    STATUS[k.status] + (f": {k.to_measure}" if k.to_measure else ""),
                ]
                for k in c.advice.criteria
            ],
        ),
        "",
        f"## Quality ({metric} unless named; mean [95% bootstrap CI])",
        "",
    ]
    rows = []
    for q in s.quality:
        rows.append([q.answerer, q.metric, _ci(q.overall), _ci(q.known), _ci(q.unknown)])
    out += _table(
        ["answerer", "metric", "all questions", "facts it knows", "facts it has not seen"], rows
    )
    kinds = list(dict.fromkeys(k for q in s.quality for k in q.by_kind))
    if kinds:
        out += ["", "### By kind of fact (the eval's stable / changed / new)", ""]
        out += _table(
            ["answerer", "metric", *[f"{k} facts" for k in kinds]],
            [
                [q.answerer, q.metric, *[_ci(q.by_kind.get(k)) for k in kinds]]
                for q in s.quality
                if q.metric in (metric, FACT_METRIC)
            ],
        )
    out += ["", "### Gaps between answerers (paired bootstrap over the same questions)", ""]
    gap_rows = [
        [f"{g.a} − {g.b}", g.metric, _ci(g.diff), "yes" if g.diff.excludes_zero else "no"]
        for g in s.gaps
        if g.metric == metric
    ]
    out += _table(["pair", "metric", "difference", "beyond noise"], gap_rows)
    if s.chance is not None:
        out += [
            "",
            f"Multiple-choice items: guessing scores {s.chance:.3f} on average (chance baseline).",
        ]
    out += ["", "## Answerers", ""]
    side_rows = []
    for side in s.sides:
        retrieval = ", ".join(f"{k} {v:.3f}" for k, v in side.retrieval.items()) or "—"
        labels = (
            "—"
            if side.label_accuracy is None
            else f"acc {side.label_accuracy:.3f}, macro-F1 {side.label_macro_f1:.3f}"
        )
        side_rows.append(
            [
                side.answerer,
                f"{side.answered}/{side.answered + side.errors}",
                str(side.abstained),
                f"{side.latency_p50_s * 1000:.0f} / {side.latency_p95_s * 1000:.0f}",
                f"{side.mean_prompt_tokens:.0f} / {side.mean_completion_tokens:.0f}",
                retrieval,
                labels,
            ]
        )
    out += _table(
        [
            "answerer",
            "answered",
            "abstained",
            "latency p50 / p95 ms",
            "tokens in / out",
            "retrieval",
            "labels",
        ],
        side_rows,
    )
    errors = [f"- {side.answerer}: {side.first_error}" for side in s.sides if side.first_error]
    if errors:
        out += ["", "First error per answerer:", "", *errors]
    out += ["", "## Freshness", ""]
    out += _table(
        [
            "side",
            "newest fact known",
            "built",
            "new since its cutoff",
            "older, not seen",
            "behind the corpus by",
        ],
        [
            [
                f.side,
                str(f.newest_known or "—"),
                f"{f.built_at:%Y-%m-%d %H:%M}" if f.built_at else "—",
                str(f.new_since_cutoff),
                str(f.unseen_before_cutoff),
                "—" if f.age_days is None else f"{f.age_days} days",
            ]
            for f in c.freshness
        ],
    )
    cs = c.cost.settings
    out += [
        "",
        f"## Cost ({cs.queries_per_month:,} queries/month, {cs.retunes_per_month:g} re-tunes/month, "
        f"{cs.rebuilds_per_month:g} index rebuilds/month)",
        "",
    ]
    out += _table(
        ["side", "per query", "per 1k queries", "fixed / month", "total / month"],
        [
            [
                x.model.side,
                f"${x.monthly.per_query_usd:.6f}",
                f"${x.monthly.per_1k_usd:.4f}",
                f"${x.monthly.fixed_usd:.2f}",
                f"${x.monthly.total_usd:.2f}",
            ]
            for x in c.cost.sides
        ],
    )
    out += [
        "",
        f"One tuning run: ${c.cost.tuning_run_usd:.4f}; one index build: ${c.cost.index_build_usd:.4f}.",
        "",
    ]
    for pair, volume in c.cost.break_even.items():
        out.append(
            f"- break-even {pair}: "
            + (
                "never (one side is cheaper at every volume)"
                if volume is None
                else f"{volume:,.0f} queries/month"
            )
        )
    return "\n".join(out) + "\n"
