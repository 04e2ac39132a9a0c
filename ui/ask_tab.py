"""The Ask tab: one question, three answers side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from answers import Answer
from compare.workbench import Workbench
from corpus.facts import shown_day
from ui import charts, frames
from ui.state import (
    MARKDOWN_COLORS,
    eval_items,
    fact_index,
)


def _pick_question() -> None:
    """Copy a quick pick into the question box (runs before the widgets are drawn)."""
    if st.session_state.get("quick_pick"):
        st.session_state.question = st.session_state.quick_pick


def render_ask(wb: Workbench, key: str) -> None:
    """One question, three answers side by side; a failing side shows its error in its own column."""
    demo = [item.question for item in eval_items(wb)[:6]]
    if demo:
        st.pills("Try a demo question", demo, key="quick_pick", on_change=_pick_question)
    with st.form("ask", border=False):
        question = st.text_input("Question", key="question", placeholder="Ask about the corpus…")
        asked = st.form_submit_button("Ask", type="primary")
    if asked and question.strip():
        with st.spinner("Asking every side…"):
            answers = wb.ask(question.strip(), cost=st.session_state.cost)
            st.session_state.answers = (question.strip(), answers)
    if st.session_state.answers is None:
        st.caption("Pick a demo question or type one, then press Ask.")
        return
    asked_q, answers = st.session_state.answers
    facts = fact_index(key, wb)
    st.markdown(f"**Q:** {asked_q}")
    columns = st.columns(len(answers))
    for column, (name, answer) in zip(columns, answers.items(), strict=True):
        with column:
            render_answer(name, answer, facts)


def render_answer(name: str, answer: Answer, facts: dict[str, Any]) -> None:
    """One side's answer card: text, numbers, sources; or its error."""
    st.markdown(f"### :{MARKDOWN_COLORS.get(name, 'gray')}[{charts.side_label(name)}]")
    if answer.error:
        st.error(f"{charts.side_label(name)} failed: {answer.error}")
        return
    with st.container(border=True):
        st.markdown(answer.text or "_(empty answer)_")
        if answer.abstained:
            st.caption("The side abstained: nothing relevant was found.")
    cutoff = answer.knowledge_cutoff or "unknown"
    st.markdown(
        f":gray-badge[answered in {_seconds(answer.latency_s)}] "
        f":gray-badge[{answer.usage.prompt_tokens} → {answer.usage.completion_tokens} tokens] "
        f":gray-badge[${answer.cost_usd:.6f}] :gray-badge[knows up to {cutoff}]"
    )
    render_history(answer, facts)
    if answer.sources:
        stale = sum(s.stale for s in answer.sources)
        label = f"Sources ({len(answer.sources)}" + (f", {stale} stale)" if stale else ")")
        with st.expander(label):
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "record": s.record_id,
                            "score": round(s.score, 3),
                            "held from": shown_day(s.held_from or s.as_of),
                            "held until": shown_day(s.held_until, ""),
                            "status": "superseded" if s.stale else "current",
                            "text": s.text,
                        }
                        for s in answer.sources
                    ]
                ),
                hide_index=True,
                width="stretch",
            )


def render_history(answer: Answer, facts: dict[str, Any]) -> None:
    """The history of the fact the answer rests on: every version, with the dates it held."""
    source = next((s for s in answer.sources if not s.stale), None)
    history = facts.get(source.record_id) if source else None
    if history is None or not history.changed:
        return
    st.markdown("**History of this fact**\n\n" + "\n".join(frames.history_lines(history)))


def _seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.1f} s"
