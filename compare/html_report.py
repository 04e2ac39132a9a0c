"""One self-contained HTML file to share a run: the verdict and its criteria, quality with
intervals, freshness on a timeline, cost and break-even, and every question side by side.

Styles and charts are inline (`compare.svg`); the file fetches nothing and runs no script, so it
opens the same from a mail attachment, a CI artifact or a laptop without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from compare.comparison import Comparison, caveats
from compare.cost import monthly_curve
from compare.freshness import Batch
from compare.report import FRESHNESS_HEADER, freshness_rows
from compare.stats import Interval
from compare.svg import cost_lines, interval_bars, side_colors, timeline

VOLUMES = [10**e for e in range(2, 8)]  # queries per month on the cost chart: 100 … 10M
STATUS = {"met": "met", "not_met": "not met", "not_measured": "not measured"}
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:1180px;margin:24px auto;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4}.verdict{font-size:18px;padding:12px 16px;border-radius:6px;
background:#eef6ff;border:1px solid #9cc7f5}.met{color:#2b9348}.not_met{color:#d62828}
.not_measured{color:#777}.right{background:#e9f7ee}.wrong{background:#fdecec}
.muted{color:#777}td.answer{max-width:260px}
"""


def write_html(c: Comparison, path: Path, batches: Sequence[Batch] = ()) -> Path:
    """Write the report to `path` (a folder gets `<run id>.html`); returns the file written."""
    if path.is_dir() or not path.suffix:
        path = path / f"report-{c.run.run_id}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(c, batches), encoding="utf-8")
    return path


def render_html(c: Comparison, batches: Sequence[Batch] = ()) -> str:
    """The whole report as one HTML document."""
    run = c.run
    colors = side_colors([*run.answerers, *[f.side for f in c.freshness]])
    body = [
        f"<h1>rag-or-tune report — {escape(run.eval_name)}</h1>",
        f'<p class="muted">Run <code>{escape(run.run_id)}</code> at '
        f"{run.started_at:%Y-%m-%d %H:%M} UTC · {len(run.items)} questions · sides: "
        f"{escape(', '.join(run.answerers))}</p>",
        *_advice(c),
        *_quality(c, colors),
        *_freshness(c, batches, colors),
        *_cost(c, colors),
        *_questions(c),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>rag-or-tune — {escape(run.eval_name)} — {escape(run.run_id)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _advice(c: Comparison) -> list[str]:
    a = c.advice
    rows = [
        [
            escape(k.name),
            escape(k.value),
            escape(k.threshold),
            f'<span class="{k.status}">{STATUS[k.status]}</span>'
            + (f"<br><small>{escape(k.to_measure)}</small>" if k.to_measure else ""),
        ]
        for k in a.criteria
    ]
    notes = [*a.reasons, *[f"Caveat: {n}" for n in caveats(c)]]
    return [
        "<h2>Advice</h2>",
        f'<p class="verdict" id="verdict"><strong>{escape(a.headline)}</strong></p>',
        "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>" if notes else "",
        _table(["criterion", "measured", "threshold", "status"], rows),
    ]


def _quality(c: Comparison, colors: dict[str, str]) -> list[str]:
    metric = c.advice.inputs.metric
    bars = [
        (q.answerer, q.overall.mean, q.overall.low, q.overall.high)
        for side in c.run.answerers
        if (q := c.summary.quality_of(side, metric)) is not None
    ]
    rows = [
        [escape(q.answerer), escape(q.metric), _ci(q.overall), _ci(q.known), _ci(q.unknown)]
        for q in c.summary.quality
    ]
    gaps = [
        [f"{escape(g.a)} − {escape(g.b)}", _ci(g.diff), "yes" if g.diff.excludes_zero else "no"]
        for g in c.summary.gaps
        if g.metric == metric
    ]
    out = [
        f"<h2>Quality ({escape(metric)}, mean with 95% bootstrap interval)</h2>",
        interval_bars(bars, colors, f"mean {metric} per side"),
        _table(
            ["side", "metric", "all questions", "facts it knows", "facts it has not seen"], rows
        ),
    ]
    if gaps:
        out += ["<h3>Gaps (paired over the same questions)</h3>"]
        out += [_table(["pair", f"difference in {metric}", "beyond noise"], gaps)]
    return out


def _freshness(c: Comparison, batches: Sequence[Batch], colors: dict[str, str]) -> list[str]:
    marks = []
    for f in c.freshness:
        if f.newest_known:
            marks.append((f"{f.side} knows up to", f.newest_known, colors[f.side]))
        if f.built_at:
            marks.append((f"{f.side} built", f.built_at.date(), colors[f.side]))
    dated = [(b.name, b.day, b.records) for b in batches if b.day is not None]
    rows = freshness_rows(c, escape)
    return [
        "<h2>Freshness</h2>",
        timeline(dated, marks, "corpus batches and what each side knows"),
        _table(["side", *FRESHNESS_HEADER], rows),
    ]


def _cost(c: Comparison, colors: dict[str, str]) -> list[str]:
    s = c.cost.settings
    curves: dict[str, list[tuple[int, float]]] = {}
    for point in monthly_curve(c.cost, sorted({*VOLUMES, max(s.queries_per_month, 1)})):
        curves.setdefault(str(point["side"]), []).append(
            (int(point["queries_per_month"]), float(point["usd_per_month"]))
        )
    rows = [
        [
            escape(x.model.side),
            f"${x.monthly.per_query_usd:.6f}",
            f"${x.monthly.per_1k_usd:.4f}",
            f"${x.monthly.fixed_usd:.2f}",
            f"${x.monthly.total_usd:.2f}",
        ]
        for x in c.cost.sides
    ]
    even = [
        f"<li>break-even {escape(pair)}: "
        + (
            "never (one side is cheaper at every volume)"
            if v is None
            else f"{v:,.0f} queries/month"
        )
        + "</li>"
        for pair, v in c.cost.break_even.items()
    ]
    return [
        f"<h2>Cost ({s.queries_per_month:,} queries/month, {s.retunes_per_month:g} re-tunes/month, "
        f"{s.rebuilds_per_month:g} index rebuilds/month)</h2>",
        _table(["side", "per query", "per 1k queries", "fixed / month", "total / month"], rows),
        f"<p>One tuning run: ${c.cost.tuning_run_usd:.4f}; one index build: "
        f"${c.cost.index_build_usd:.4f}.</p>",
        cost_lines(curves, colors, s.queries_per_month, "monthly cost by query volume"),
        f"<ul>{''.join(even)}</ul>",
    ]


def _questions(c: Comparison) -> list[str]:
    metric = c.advice.inputs.metric
    by_item = {(s.item_id, s.answerer): s for s in c.run.scored}
    rows = []
    for item in c.run.items:
        row = [escape(item.question), escape(item.reference), escape(item.kind or "")]
        for side in c.run.answerers:
            s = by_item.get((item.id, side))
            if s is None:
                row.append("—")
                continue
            text = s.answer.text if s.answer.ok else f"error: {s.answer.error}"
            score = s.metrics.get(metric)
            shade = "" if score is None else ("right" if score >= 0.5 else "wrong")
            shown = "" if score is None else f' <small class="muted">{score:.2f}</small>'
            row.append(f'<td class="answer {shade}">{escape(text[:400])}{shown}</td>')
        rows.append(row)
    header = ["question", "reference", "kind", *c.run.answerers]
    return [f"<h2>Per question ({escape(metric)} beside each answer)</h2>", _table(header, rows)]


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ci(interval: Interval | None) -> str:
    if interval is None:
        return "—"
    return f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"
