"""rag-or-tune: answer the same questions from retrieval and from a tuned model, and see which to ship.

A thin layer over `compare.workbench.Workbench`: one `render_…` function per tab, widgets and charts
only. Run it with `streamlit run app.py` (or `make demo`, which also starts the tuned-model server).
"""

from __future__ import annotations

from typing import Any

from corpus.offline import use_offline_defaults

use_offline_defaults()  # before the imports that load models or phone home

import streamlit as st  # noqa: E402

from compare.advice import TITLES  # noqa: E402
from compare.comparison import Comparison  # noqa: E402
from compare.workbench import Workbench  # noqa: E402
from ui import charts  # noqa: E402
from ui.advice_tab import render_advice  # noqa: E402
from ui.ask_tab import render_ask  # noqa: E402
from ui.costs_tab import render_freshness_cost  # noqa: E402
from ui.data_tab import render_data  # noqa: E402
from ui.evaluate_tab import render_evaluate  # noqa: E402
from ui.index_tab import render_index  # noqa: E402
from ui.settings_tab import render_settings  # noqa: E402
from ui.state import METRIC, configured_corpus, get_workbench, settings_key, state  # noqa: E402

TABS = ["Data", "Index", "Ask", "Evaluate", "Freshness & cost", "Advice", "Settings"]


# --- header ----------------------------------------------------------------------------------------


def render_header(wb: Workbench, key: str) -> None:
    """What the tool answers, where the user is in the first steps, and the headline numbers."""
    st.markdown(
        "## ⚖️ rag-or-tune\n"
        "**Should these questions be answered from retrieval (RAG) or from a fine-tuned model — "
        "and is it time to re-tune?** Measured side by side: quality, freshness, cost, latency."
    )
    ss = st.session_state
    _, summary, current = configured_corpus(key, wb)
    index = wb.index_status(current)
    comparison: Comparison | None = ss.comparison
    render_steps(
        [
            ("Data", bool(current), f"{len(current):,} records"),
            ("Index", index.built_at is not None, "built" if index.built_at else "Index tab"),
            ("Ask", ss.answers is not None, "one question, every side"),
            ("Evaluate", comparison is not None, "a set of questions, scored"),
            ("Advice", comparison is not None, "the verdict and its numbers"),
        ]
    )
    quiet: dict[str, Any] = {"delta_color": "off", "delta_arrow": "off", "border": True}
    tiles = st.columns([2, 2, 2, 3])
    tiles[0].metric(
        "Current records",
        f"{len(current):,}",
        f"{summary.records:,} valid lines · {summary.rejected} rejected",
        help="As the Data tab counts them: a line with the id of an older one replaces it, so "
        "valid lines can outnumber current records.",
        **quiet,
    )
    pending = index.pending
    built = f"built {index.built_at:%Y-%m-%d}" if index.built_at else "not built yet"
    tiles[1].metric(
        "Records indexed",
        f"{index.records:,}",
        f"{index.nodes:,} passages · {pending} pending · {built}",
        help="Every current record is indexed with the older versions of changed facts, which "
        "retrieval returns marked superseded.",
        **quiet,
    )
    best = _best_side(comparison)
    tiles[2].metric("Best token F1", best[0], best[1], help="the best side's mean", **quiet)
    with tiles[3].container(border=True):
        st.caption("Advice")
        if comparison is None:
            st.markdown("**—** run an evaluation")
        else:
            st.markdown(f"**{TITLES[comparison.advice.verdict]}**")
            st.caption(comparison.advice.headline.partition(": ")[2] or "see Advice")


def render_steps(steps: list[tuple[str, bool, str]]) -> None:
    """The first steps in order, each done or not, and the next one named."""
    upcoming = next((name for name, done, _ in steps if not done), None)
    parts = []
    for name, done, note in steps:
        mark = "✅" if done else ("👉" if name == upcoming else "⬜")
        parts.append(f"{mark} **{name}** — {note}")
    lead = f"Next: the **{upcoming}** tab. " if upcoming else "All steps done. "
    st.caption(lead + " → ".join(parts))


def _best_side(comparison: Comparison | None) -> tuple[str, str | None]:
    if comparison is None:
        return "—", "after an evaluation"  # the mean is the tile's value: a side's name is long
    ranked = sorted(
        (q for q in comparison.summary.quality if q.metric == METRIC),
        key=lambda q: q.overall.mean,
        reverse=True,
    )
    if not ranked:
        return "—", None
    top = ranked[0]
    return f"{top.overall.mean:.2f}", charts.side_label(top.answerer)


# --- page ------------------------------------------------------------------------------------------


def main() -> None:
    """Lay out the page; only the open tab runs."""
    st.set_page_config(page_title="rag-or-tune", page_icon="⚖️", layout="wide")
    ss = state()
    key = settings_key(ss.settings)
    wb = get_workbench(key, ss.settings)
    header = st.container()
    tabs = st.tabs(TABS, key="tab", on_change="rerun", bind="query-params")
    renderers = [
        lambda: render_data(wb, key),
        lambda: render_index(wb, key),
        lambda: render_ask(wb, key),
        lambda: render_evaluate(wb, key),
        lambda: render_freshness_cost(wb, key),
        lambda: render_advice(wb),
        render_settings,
    ]
    for tab, render in zip(tabs, renderers, strict=True):
        if tab.open:
            with tab:
                render()
    with header:  # drawn last, so the tiles show what this run just measured
        render_header(wb, key)


if __name__ == "__main__":
    main()
