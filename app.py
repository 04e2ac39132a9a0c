"""rag-or-tune: answer the same questions from retrieval and from a tuned model, and see which to ship.

A thin layer over `compare.workbench.Workbench`: one `render_…` function per tab, widgets and charts
only. Run it with `streamlit run app.py` (or `make demo`, which also starts the tuned-model server).
"""

from __future__ import annotations

from typing import Any

from corpus.offline import use_offline_defaults

use_offline_defaults()  # before the imports that load models or phone home

import streamlit as st  # noqa: E402

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
VERDICTS = {
    "keep_rag": "Keep RAG",
    "retune_now": "Re-tune now",
    "keep_model": "Keep model",
    "combine": "Combine",
    "do_not_ship": "Do not ship",
    "not_enough_evidence": "Not enough evidence",
    "cannot_judge_staleness": "Eval can't judge",
    "incomplete": "No verdict",
}


# --- header ----------------------------------------------------------------------------------------


def render_header(wb: Workbench, key: str) -> None:
    """What the tool answers, and the headline numbers as tiles."""
    st.markdown(
        "## ⚖️ rag-or-tune\n"
        "**Should these questions be answered from retrieval (RAG) or from a fine-tuned model — "
        "and is it time to re-tune?** Measured side by side: quality, freshness, cost, latency."
    )
    ss = st.session_state
    _, summary, current = configured_corpus(key, wb)
    index = wb.index_status(current)
    comparison: Comparison | None = ss.comparison
    quiet: dict[str, Any] = {"delta_color": "off", "delta_arrow": "off", "border": True}
    tiles = st.columns(4)
    tiles[0].metric(
        "Corpus records",
        f"{len(current):,}",
        f"{summary.records:,} lines read · {summary.rejected} rejected",
        help="Current records: a line with the id of an older one replaces it.",
        **quiet,
    )
    pending = index.pending
    built = f"built {index.built_at:%Y-%m-%d}" if index.built_at else "not built yet"
    tiles[1].metric(
        "Indexed records", f"{index.records:,}", f"{pending} pending · {built}", **quiet
    )
    best = _best_side(comparison)
    tiles[2].metric("Best side (token F1)", best[0], best[1], **quiet)
    verdict = VERDICTS.get(comparison.advice.verdict, "—") if comparison else "—"
    note = "see Advice" if comparison else "run an evaluation"
    tiles[3].metric("Advice", verdict, note, **quiet)


def _best_side(comparison: Comparison | None) -> tuple[str, str | None]:
    if comparison is None:
        return "—", "after an evaluation"
    ranked = sorted(
        (q for q in comparison.summary.quality if q.metric == METRIC),
        key=lambda q: q.overall.mean,
        reverse=True,
    )
    if not ranked:
        return "—", None
    top = ranked[0]
    return charts.side_label(top.answerer), f"{top.overall.mean:.2f} mean"


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
        lambda: render_evaluate(wb),
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
