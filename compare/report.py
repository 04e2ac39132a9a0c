"""Render a comparison: `report.json` (everything) and `report.md` (what a team reads first).

The Markdown report is one function per section, in the order a team reads them: the advice,
quality, the sides (who writes each and what it costs to ask), freshness and cost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compare.comparison import Comparison, caveats
from compare.cost import crossings
from compare.side_table import side_label
from compare.stats import Interval
from compare.summary import FACT_METRIC, SideStats

STATUS = {"met": "met", "not_met": "not met", "not_measured": "not measured"}


def write_report(comparison: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """Write report.json and report.md into `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    md_path.write_text(render_markdown(comparison), encoding="utf-8")
    return json_path, md_path


def render_markdown(c: Comparison) -> str:
    """The report as Markdown: advice first, then quality, the sides, freshness and cost."""
    sections = (_title, _advice, _quality, _by_kind, _gaps, _sides, _freshness, _cost)
    return "\n".join(line for section in sections for line in section(c)) + "\n"


def _ci(interval: Interval | None) -> str:
    if interval is None:
        return "—"
    return f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _title(c: Comparison) -> list[str]:
    run = c.run
    sides = ", ".join(f"{side_label(n)} (`{n}`)" for n in run.answerers)
    return [
        f"# rag-or-tune report — {run.eval_name}",
        "",
        f"Run `{run.run_id}` at {run.started_at:%Y-%m-%d %H:%M UTC}; {len(run.items)} questions; "
        f"sides: {sides}.",
        "",
    ]


def _advice(c: Comparison) -> list[str]:
    rows = [
        [
            k.name,
            k.value,
            k.threshold,
            STATUS[k.status] + (f": {k.to_measure}" if k.to_measure else ""),
        ]
        for k in c.advice.criteria
    ]
    return [
        f"## Advice: {c.advice.headline}",
        "",
        *[f"- {reason}" for reason in c.advice.reasons],
        *[f"- **Caveat:** {note}" for note in caveats(c)],
        "",
        *_table(["criterion", "measured", "threshold", "status"], rows),
        "",
    ]


def _quality(c: Comparison) -> list[str]:
    rows = [
        [side_label(q.answerer), q.metric, _ci(q.overall), _ci(q.known), _ci(q.unknown)]
        for q in c.summary.quality
    ]
    header = ["side", "metric", "all questions", "facts it knows", "facts it has not seen"]
    return [
        f"## Quality ({c.advice.inputs.metric} unless named; mean [95% bootstrap CI])",
        "",
        *_table(header, rows),
    ]


def _by_kind(c: Comparison) -> list[str]:
    s, metric = c.summary, c.advice.inputs.metric
    kinds = list(dict.fromkeys(k for q in s.quality for k in q.by_kind))
    if not kinds:
        return []
    rows = [
        [side_label(q.answerer), q.metric, *[_ci(q.by_kind.get(k)) for k in kinds]]
        for q in s.quality
        if q.metric in (metric, FACT_METRIC)
    ]
    return [
        "",
        "### By kind of fact (the eval's stable / changed / new)",
        "",
        *_table(["side", "metric", *[f"{k} facts" for k in kinds]], rows),
    ]


def _gaps(c: Comparison) -> list[str]:
    s, i = c.summary, c.advice.inputs
    rows = [
        [
            f"{side_label(g.a)} − {side_label(g.b)}",
            g.metric,
            _ci(g.diff),
            "yes" if g.diff.excludes_zero else "no",
        ]
        for g in s.gaps
        if g.metric == i.metric
    ]
    out = [
        "",
        "### Gaps between sides (paired bootstrap over the same questions)",
        "",
        *_table(["pair", "metric", "difference", "beyond noise"], rows),
    ]
    if i.tuning_added is not None:
        out += [
            "",
            f"What tuning added (tuned − base, {i.metric}): all questions {_ci(i.tuning_added)}; "
            f"facts it was trained on {_ci(i.tuning_added_trained)}; facts it was not "
            f"{_ci(i.tuning_added_untrained)}.",
        ]
    if s.chance is not None:
        out += [
            "",
            f"Multiple-choice items: guessing scores {s.chance:.3f} on average (chance baseline).",
        ]
    return out


def _sides(c: Comparison) -> list[str]:
    s = c.summary
    billed = {x.model.side: x.model.generator or "no model" for x in c.cost.sides}
    rows = []
    for side in s.sides:
        retrieval = ", ".join(f"{k} {v:.3f}" for k, v in side.retrieval.items()) or "—"
        labels = (
            "—"
            if side.label_accuracy is None
            else f"acc {side.label_accuracy:.3f}, macro-F1 {side.label_macro_f1:.3f}"
        )
        rows.append(
            [
                side_label(side.answerer),
                c.writers.get(side.answerer, "—"),
                billed.get(side.answerer, "—"),
                f"{side.answered}/{side.answered + side.errors}",
                str(side.abstained),
                f"{side.latency_p50_s * 1000:.0f} / {side.latency_p95_s * 1000:.0f}",
                f"{side.wait_p50_s * 1000:.0f} / {side.wait_p95_s * 1000:.0f}",
                f"{side.mean_prompt_tokens:.0f} / {side.mean_completion_tokens:.0f}",
                retrieval,
                labels,
            ]
        )
    header = [
        "side",
        "written by",
        "billed as",
        "answered",
        "abstained",
        "answering p50 / p95 ms",
        "waiting p50 / p95 ms",
        "tokens in / out",
        "retrieval",
        "labels",
    ]
    errors = [f"- {side.answerer}: {side.first_error}" for side in s.sides if side.first_error]
    return [
        "",
        "## Sides",
        "",
        *_table(header, rows),
        *(["", "First error per side:", "", *errors] if errors else []),
    ]


FRESHNESS_HEADER = [
    "newest fact known",
    "built",
    "new since its cutoff",
    "older, not seen",
    "behind the corpus by",
]


def freshness_rows(c: Comparison, name: Callable[[str], str] = side_label) -> list[list[str]]:
    """One row per side's knowledge, in `FRESHNESS_HEADER`'s order after the side's name."""
    return [
        [
            name(f.side),
            str(f.newest_known or "—"),
            f"{f.built_at:%Y-%m-%d %H:%M}" if f.built_at else "—",
            str(f.new_since_cutoff),
            str(f.unseen_before_cutoff),
            "—" if f.age_days is None else f"{f.age_days} days",
        ]
        for f in c.freshness
    ]


def _freshness(c: Comparison) -> list[str]:
    rows = freshness_rows(c)
    header = ["knowledge of", *FRESHNESS_HEADER]
    cutoffs = [
        f"- {side_label(f.side)}: cutoff from {f.basis}; declared {f.declared_cutoff or '—'}, "
        f"manifest {f.manifest_cutoff or '—'}, estimated {f.estimated or '— (python -m compare probe)'}"
        + (f" — **mismatch:** {f.mismatch}" if f.mismatch else "")
        for f in c.freshness
        if f.side != "index"
    ]
    return ["", "## Freshness", "", *_table(header, rows), *(["", *cutoffs] if cutoffs else [])]


def _cost(c: Comparison) -> list[str]:
    cs = c.cost.settings
    tokens = {s.answerer: s for s in c.summary.sides}
    rows = [
        [
            side_label(x.model.side),
            x.model.generator or "no model",
            _tokens(tokens.get(x.model.side)),
            f"${x.monthly.per_query_usd:.6f}",
            f"${x.monthly.per_1k_usd:.4f}",
            f"${x.monthly.fixed_usd:.2f}",
            f"${x.monthly.total_usd:.2f}",
        ]
        for x in c.cost.sides
    ]
    out = [
        "",
        f"## Cost ({cs.queries_per_month:,} queries/month, {cs.retunes_per_month:g} re-tunes/month, "
        f"{cs.rebuilds_per_month:g} index rebuilds/month)",
        "",
        *_table(
            [
                "side",
                "billed as",
                "tokens in / out",
                "per query",
                "per 1k queries",
                "fixed / month",
                "total / month",
            ],
            rows,
        ),
        "",
        f"One tuning run: ${c.cost.tuning_run_usd:.4f}; one index build: ${c.cost.index_build_usd:.4f}. "
        "Per-query costs come from each side's measured prompts (passages included) and answers.",
        "",
    ]
    for x in crossings(c.cost):
        crossing = (
            "never (one side is cheaper at every volume)"
            if x.volume is None
            else f"{x.volume:,.0f} queries/month; above it {side_label(x.cheaper_above or '')} "
            "costs less"
        )
        out.append(f"- break-even {side_label(x.a)} vs {side_label(x.b)}: {crossing}")
    return out


def _tokens(side: SideStats | None) -> str:
    """Measured prompt / answer tokens per answer (passages included in a retrieving side's)."""
    if side is None or not side.answered:
        return "—"
    return f"{side.mean_prompt_tokens:.0f} / {side.mean_completion_tokens:.0f}"
