"""The Evaluate tab: run the eval set and read quality with confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from compare.comparison import Comparison
from compare.workbench import Workbench
from ui import charts, frames
from ui.state import (
    METRIC,
    METRIC_LABELS,
    eval_items,
    spread,
)


def run_evaluation(wb: Workbench, items: Sequence[Any], names: list[str]) -> None:
    """Run the chosen questions through the chosen sides with a progress bar; keep the result."""
    ss = st.session_state
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{done}/{total} · {what}")

    ss.comparison = wb.compare(
        list(items), names, progress=progress, cost=ss.cost, advice=ss.advice
    )
    bar.empty()


def render_evaluate(wb: Workbench) -> None:
    """Run the eval set, then per-question answers, quality with CIs, gaps, latency and history."""
    items = eval_items(wb)
    left, mid, right = st.columns([2, 2, 1])
    names = left.multiselect(
        "Answerers",
        wb.answerer_names,
        default=wb.answerer_names,
        format_func=charts.side_label,
        key="eval_names",
    )
    n = mid.slider(
        "Questions",
        1,
        len(items),
        min(10, len(items)),
        key="eval_n",
        help="A few questions keep a demo fast; the whole set gives tighter intervals.",
    )
    right.write("")
    if right.button("Run evaluation", type="primary", key="run_eval", disabled=not names):
        run_evaluation(wb, spread(items, n), names)
    comparison: Comparison | None = st.session_state.comparison
    if comparison is None:
        st.info("No evaluation yet. Answers are cached, so re-running only asks what changed.")
    else:
        render_results(comparison)
    render_history(wb)


def render_results(c: Comparison) -> None:
    """Headline tiles, charts and the per-question table of one comparison."""
    run = c.run
    st.caption(
        f"Run `{run.run_id}` · {len(run.items)} questions · {run.started_at:%Y-%m-%d %H:%M} UTC"
    )
    tiles = st.columns(len(run.answerers))
    for tile, name in zip(tiles, run.answerers, strict=True):
        q = c.summary.quality_of(name)
        side = next(s for s in c.summary.sides if s.answerer == name)
        value = f"{q.overall.mean:.3f}" if q else "—"
        note = (
            f"{side.errors} errors" if side.errors else f"p50 {side.latency_p50_s * 1000:,.0f} ms"
        )
        tile.metric(
            f"{charts.side_label(name)} · token F1",
            value,
            note,
            delta_color="off",
            delta_arrow="off",
        )
    present = [m for m in METRIC_LABELS if any(q.metric == m for q in c.summary.quality)]
    metric = (
        st.segmented_control(
            "Quality metric",
            present,
            default=METRIC,
            format_func=lambda m: METRIC_LABELS.get(m, m),
            key="eval_metric",
            help="token F1: words shared with the reference; figures: share of the reference's "
            "numbers the answer states (what goes stale when a fact changes).",
        )
        or METRIC
    )
    quality, gaps, latency = st.columns([5, 4, 3])
    with quality:
        st.markdown("**Quality by what each side knows** (95% CI)")
        st.altair_chart(
            charts.quality_chart(frames.quality_frame(c, metric), metric), width="stretch"
        )
    with gaps:
        st.markdown("**Gaps between sides** (paired 95% CI; crossing 0 = noise)")
        frame = frames.gap_frame(c, metric)
        if frame.empty:
            st.caption("Pick two or more answerers to compare them.")
        else:
            st.altair_chart(charts.gap_chart(frame, metric), width="stretch")
    with latency:
        st.markdown("**Latency** p50 / p95")
        st.altair_chart(charts.latency_chart(frames.latency_frame(c)), width="stretch")
    kinds = frames.kind_frame(c, metric)
    if not kinds.empty:
        chart_column, note_column = st.columns([5, 7])
        with chart_column:
            st.markdown("**Quality by kind of fact** (95% CI)")
            order = list(dict.fromkeys(kinds["split"]))
            st.altair_chart(charts.quality_chart(kinds, metric, order), width="stretch")
        with note_column:
            st.markdown("**How to read it**")
            st.caption(
                "Stable facts never changed; changed facts were restated in a later batch "
                "(a new price, a new limit); new facts arrived after the older batches. A model "
                "tuned on the older batches answers changed facts with the old figures and new "
                "facts not at all; retrieval answers from whatever the index last built. Switch "
                "the metric to *figures stated* to see stale numbers that token F1 forgives."
            )
    st.markdown("**Per question**")
    st.dataframe(
        frames.question_frame(c),
        hide_index=True,
        width="stretch",
        column_config={
            f"{charts.side_label(n)} F1": st.column_config.ProgressColumn(
                format="%.2f", min_value=0.0, max_value=1.0
            )
            for n in run.answerers
        },
    )


def render_history(wb: Workbench) -> None:
    """Past runs and their headline quality, to follow quality over time."""
    runs = wb.history()
    if not runs:
        return
    st.subheader(f"Run history ({len(runs)})")
    table, points = frames.history_frames(runs)
    left, right = st.columns([3, 2])
    left.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=min(220, 38 + 35 * len(table)),  # no empty rows under a short history
        column_config={
            charts.side_label(n): st.column_config.NumberColumn(format="%.3f")
            for n in ("rag", "tuned", "tuned_rag")
        },
    )
    if len(points) > 1:
        metric = runs[-1].metric
        right.altair_chart(charts.history_chart(points, metric), width="stretch")
