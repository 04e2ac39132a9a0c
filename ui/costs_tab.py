"""The Freshness & cost tab: what each side knows, what it costs, where the sides break even."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from compare.comparison import Comparison
from compare.cost import CostSettings, crossings, monthly_curve
from compare.freshness import batch_timeline
from compare.workbench import Workbench
from ui import charts
from ui.probe_view import render_probe
from ui.state import MARKDOWN_COLORS, configured_corpus

VOLUMES = [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000]


def render_freshness_cost(wb: Workbench, key: str) -> None:
    """Corpus batches against the index build and the tuning cutoff; costs and break-even."""
    ss = st.session_state
    comparison: Comparison | None = ss.comparison
    records = configured_corpus(key, wb)[2]
    views = comparison.freshness if comparison else wb.freshness(records)
    st.subheader("Freshness")
    batches = pd.DataFrame(
        [
            {"batch": b.name, "date": pd.Timestamp(b.day), "records": b.records}
            for b in batch_timeline(records)
            if b.day
        ]
    )
    if not batches.empty:
        marks = pd.DataFrame(timeline_marks(views))
        st.altair_chart(charts.timeline_chart(batches, marks), width="stretch")
    columns = st.columns(len(views) or 1)
    for column, f in zip(columns, views, strict=False):
        with column, st.container(border=True):
            label = charts.KNOWLEDGE_LABELS.get(f.side, f.side)
            st.markdown(f"#### :{MARKDOWN_COLORS.get(f.side, 'gray')}[{label}]")
            tiles = st.columns(3)
            tiles[0].metric("Newest fact known", str(f.newest_known or "—"))
            tiles[1].metric(
                "Unseen records",
                f.unknown,
                f"{f.unknown_share:.0%} of corpus",
                delta_color="off" if not f.unknown else "inverse",
                delta_arrow="off",
            )
            tiles[2].metric("Behind the corpus", "—" if f.age_days is None else f"{f.age_days} d")
            if f.side != "index":
                st.caption(cutoff_caption(f))
    render_probe(wb, [f for f in views if f.side != "index"])
    st.subheader("Cost")
    if comparison is None:
        st.info(
            "Costs come from measured tokens and seconds: run an evaluation first (Evaluate tab)."
        )
        return
    render_cost_inputs(wb, comparison)
    comparison = ss.comparison
    render_cost(comparison)


def cutoff_caption(f: Any) -> str:
    """Which cutoff freshness uses, and the declared, manifest and estimated ones beside it."""
    return (
        f"Cutoff from: {f.basis} · declared {f.declared_cutoff or '—'} · manifest "
        f"{f.manifest_cutoff or '—'} · estimated {f.estimated or '— (run the probe below)'}"
    )


def timeline_marks(views: Sequence[Any]) -> list[dict[str, Any]]:
    """Dates of the index build and the tuning cutoff, as rules on the timeline."""
    marks = []
    for f in views:
        if f.side == "index" and f.built_at:
            marks.append(
                {"date": pd.Timestamp(f.built_at).tz_localize(None), "what": "index built"}
            )
        if f.side == "tuned" and f.newest_known:
            marks.append({"date": pd.Timestamp(f.newest_known), "what": "tuning cutoff"})
    return marks


def render_cost_inputs(wb: Workbench, comparison: Comparison) -> None:
    """Query volume, cadences, price entries and prices; submitting re-prices the last run."""
    ss = st.session_state
    cost: CostSettings = ss.cost
    book = wb.price_book()
    entries = list(book.entries)
    with st.form("cost_inputs"):
        a, b, c = st.columns(3)
        volume = a.number_input(
            "Queries per month", 0, 100_000_000, cost.queries_per_month, step=1000
        )
        retunes = b.number_input(
            "Re-tunes per month", 0.0, 100.0, float(cost.retunes_per_month), step=0.5
        )
        rebuilds = c.number_input(
            "Index rebuilds per month", 0.0, 1000.0, float(cost.rebuilds_per_month)
        )
        d, e, f, g = st.columns(4)
        base = d.selectbox(
            "Base model billed as",
            entries,
            index=_index_of(entries, cost.base_model),
            help="The base model writes the base and base + RAG sides (e.g. gpt-4o-mini beside "
            "a gpt-4o-mini-ft tuned model); extractive RAG calls no model.",
        )
        embedder = e.selectbox("RAG embedder", entries, index=_index_of(entries, cost.rag_embedder))
        tuned = f.selectbox(
            "Tuned model billed as", entries, index=_index_of(entries, cost.tuned_model)
        )
        local = "(local machine time)"
        tuning = g.selectbox(
            "Re-tune billed as",
            [local, *entries],
            index=_index_of([local, *entries], cost.tuning_price or local),
        )
        with st.expander("Price book (editable; every price has its source and date)"):
            prices = st.data_editor(
                pd.DataFrame(
                    [
                        {
                            "entry": k,
                            **p.model_dump(
                                include={
                                    "label",
                                    "input_per_1m",
                                    "output_per_1m",
                                    "training_per_1m",
                                    "local",
                                    "source",
                                    "date",
                                }
                            ),
                        }
                        for k, p in book.entries.items()
                    ]
                ),
                hide_index=True,
                width="stretch",
                disabled=["entry"],
                key="prices",
            )
        if st.form_submit_button("Update costs", type="primary"):
            ss.cost = cost.model_copy(
                update={
                    "queries_per_month": int(volume),
                    "retunes_per_month": float(retunes),
                    "rebuilds_per_month": float(rebuilds),
                    "rag_embedder": embedder,
                    "tuned_model": tuned,
                    "base_model": base,
                    "tuning_price": None if tuning == local else tuning,
                }
            )
            edited = book.with_rows(
                [{str(k): v for k, v in row.items()} for row in prices.to_dict("records")]
            )
            ss.comparison = wb.reassess(comparison, ss.cost, ss.advice, book=edited)


def _index_of(options: Sequence[str], value: str) -> int:
    return list(options).index(value) if value in options else 0


def render_cost(c: Comparison) -> None:
    """Cost per side from its measured prompts, the month at the planned volume, and where the
    sides break even."""
    report = c.cost
    stats = {s.answerer: s for s in c.summary.sides}
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "side": charts.side_label(x.model.side),
                    "billed as": x.model.generator or "no model",
                    "prompt tokens": stats[x.model.side].mean_prompt_tokens
                    if x.model.side in stats
                    else None,
                    "answer tokens": stats[x.model.side].mean_completion_tokens
                    if x.model.side in stats
                    else None,
                    "per query": x.monthly.per_query_usd,
                    "per 1k queries": x.monthly.per_1k_usd,
                    "fixed / month": x.monthly.fixed_usd,
                    "total / month": x.monthly.total_usd,
                }
                for x in report.sides
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            **{
                k: st.column_config.NumberColumn(format="$%.5f" if k == "per query" else "$%.2f")
                for k in ("per query", "per 1k queries", "fixed / month", "total / month")
            },
            **{
                k: st.column_config.NumberColumn(format="%.0f", help="measured mean per answer")
                for k in ("prompt tokens", "answer tokens")
            },
        },
    )
    st.caption(
        f"One tuning run ${report.tuning_run_usd:,.4f} · one index build "
        f"${report.index_build_usd:,.4f} · a retrieving side's prompts carry its passages"
    )
    left, right = st.columns([3, 2])
    curve = pd.DataFrame(monthly_curve(report, VOLUMES))
    curve["side"] = curve["side"].map(charts.side_label)
    left.altair_chart(
        charts.cost_curve_chart(curve, report.settings.queries_per_month), width="stretch"
    )
    with right:
        st.markdown("**Break-even**")
        for x in crossings(report):
            who = f"{charts.side_label(x.a)} vs {charts.side_label(x.b)}"
            if x.volume is None:
                st.markdown(f"- {who}: never cross")
            else:
                cheaper = charts.side_label(x.cheaper_above or "")
                st.markdown(
                    f"- {who}: **{x.volume:,.0f}** queries/month; above it {cheaper} costs less"
                )
