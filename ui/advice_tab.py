"""The Advice tab: the verdict and every number behind it, with editable thresholds."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from compare.advice import AdviceSettings
from compare.comparison import Comparison, caveats
from compare.workbench import Workbench
from ui.evaluate_tab import run_evaluation
from ui.state import (
    METRIC_LABELS,
    eval_items,
    spread,
)

QUICK_EVAL = 5  # questions in the quick evaluation offered before the first run
GOOD_VERDICTS = {"keep_rag", "keep_model", "combine", "retune_now"}
STATUS = {"met": "✅ met", "not_met": "❌ not met", "not_measured": "➖ not measured"}


def render_advice(wb: Workbench) -> None:
    """The verdict, its reasons, every criterion with its threshold, and editable thresholds."""
    ss = st.session_state
    comparison: Comparison | None = ss.comparison
    if comparison is None:
        st.info("No evaluation yet: the advice rests on measured quality, freshness and cost.")
        if st.button(
            f"Run a quick evaluation ({QUICK_EVAL} questions)", type="primary", key="quick_eval"
        ):
            run_evaluation(wb, spread(eval_items(wb), QUICK_EVAL), wb.default_sides)
            st.rerun()
        return
    advice = comparison.advice
    show = st.success if advice.verdict in GOOD_VERDICTS else st.warning
    show(f"### {advice.headline}")
    if advice.further_questions:
        st.metric(
            "Further questions needed",
            f"{advice.further_questions:,}",
            f"{advice.inputs.metric}, smallest difference {advice.settings.smallest_difference:.2f}",
            delta_color="off",
            delta_arrow="off",
            help="Paired questions beyond those asked to detect the smallest difference that "
            "matters at 95% confidence and 80% power, from the spread of the observed differences.",
        )
    for reason in advice.reasons:
        st.markdown(f"- {reason}")
    counts = {status: sum(k.status == status for k in advice.criteria) for status in STATUS}
    st.caption(" · ".join(f"{STATUS[k]}: {n}" for k, n in counts.items()))
    for note in caveats(comparison):
        st.warning(note, icon="⚠️")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "status": STATUS[k.status],
                    "criterion": k.name.replace("_", " "),
                    "measured": k.value,
                    "threshold": k.threshold,
                    "meaning": k.meaning,
                    "to measure it": k.to_measure,
                }
                for k in advice.criteria
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    render_thresholds(wb, comparison)


def render_thresholds(wb: Workbench, comparison: Comparison) -> None:
    """Every AdviceSettings field as an input; submitting re-checks the advice on the same run."""
    ss = st.session_state
    current: AdviceSettings = ss.advice
    with st.expander("Thresholds"), st.form("thresholds", border=False):
        values: dict[str, Any] = {}
        columns = st.columns(3)
        for i, (name, field) in enumerate(AdviceSettings.model_fields.items()):
            value = getattr(current, name)
            label = name.replace("_", " ")
            col = columns[i % 3]
            if name == "metric":
                options = ["auto", "token_f1", "contains", "accuracy", "numbers", "judge"]
                values[name] = col.selectbox(
                    label,
                    options,
                    index=options.index(value),
                    format_func=lambda m: METRIC_LABELS.get(m, m),
                    help=field.description,
                )
            elif isinstance(value, bool):
                values[name] = col.checkbox(label, value, help=field.description)
            elif isinstance(value, int):
                values[name] = col.number_input(label, value=value, step=1, help=field.description)
            else:
                values[name] = col.number_input(
                    label, value=float(value), format="%.3f", help=field.description
                )
        if st.form_submit_button("Re-check advice"):
            ss.advice = AdviceSettings(**values)
            ss.comparison = wb.reassess(comparison, ss.cost, ss.advice)
            st.rerun()
