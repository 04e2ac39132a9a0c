"""The Ask tab: one question, every chosen side's answer side by side."""

from __future__ import annotations

import streamlit as st

from answers import Answer
from compare.side_table import side_spec
from compare.versions_given import GivenVersion, fact_of, version_given
from compare.workbench import Workbench
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
    """One question, every chosen side's answer side by side; a failing side shows its error in
    its own column, a stale answer is marked where it appears."""
    ss = st.session_state
    demo = [item.question for item in eval_items(wb)[:6]]
    if demo:
        st.pills("Try a demo question", demo, key="quick_pick", on_change=_pick_question)
    names = st.pills(
        "Sides",
        wb.answerer_names,
        selection_mode="multi",
        default=wb.default_sides,
        format_func=charts.side_label,
        key="ask_sides",
        help="Extractive RAG (no model), the base model with retrieved passages (RAG as teams "
        "deploy it), the base model alone, the tuned model alone and with passages, and the "
        "model a re-tune replaces.",
    )
    with st.form("ask", border=False):
        question = st.text_input("Question", key="question", placeholder="Ask about the corpus…")
        asked = st.form_submit_button("Ask", type="primary", disabled=not names)
    if asked and question.strip():
        with st.spinner("Asking every side…"):
            answers = wb.ask(question.strip(), names, cost=ss.cost)
            ss.answers = (question.strip(), answers)
    if ss.answers is None:
        st.caption("Pick a demo question or type one, then press Ask.")
        return
    asked_q, answers = ss.answers
    fact = fact_of(answers.values(), fact_index(key, wb))
    writers = wb.writers(list(answers))
    st.markdown(f"**Q:** {asked_q}")
    columns = st.columns(len(answers))
    for column, (name, answer) in zip(columns, answers.items(), strict=True):
        with column:
            given = version_given(answer.text, fact) if fact and answer.ok else None
            render_answer(name, answer, writers.get(name, ""), given)
    if fact is not None and fact.changed:
        st.markdown(
            f"**History of this fact** ({len(fact.versions)} versions)\n\n"
            + "\n".join(frames.history_lines(fact))
        )


def render_answer(name: str, answer: Answer, writer: str, given: GivenVersion | None) -> None:
    """One side's answer card: who wrote it, text, numbers, sources; or its error."""
    st.markdown(f"### :{MARKDOWN_COLORS.get(name, 'gray')}[{charts.side_label(name)}]")
    billed = st.session_state.cost.writer_entry(side_spec(name).writer) or "no model"
    st.caption(f"written by {writer} · billed as {billed}")
    if answer.error:
        st.error(f"{charts.side_label(name)} failed: {answer.error}")
        return
    with st.container(border=True):
        st.markdown(answer.text or "_(empty answer)_")
        if answer.abstained:
            st.caption("The side abstained: nothing relevant was found.")
    if given is not None and given.stale:
        current = given.current
        st.warning(
            f"**Stale** — this is the answer that {given.describe().removeprefix('stale: ')}; "
            f"current since {current.first_seen or 'undated'}: {current.answer}",
            icon="⚠️",
        )
    cutoff = answer.knowledge_cutoff or "unknown"
    st.markdown(
        f":gray-badge[answered in {_seconds(answer.latency_s)}] "
        f":gray-badge[{answer.usage.prompt_tokens} → {answer.usage.completion_tokens} tokens] "
        f":gray-badge[${answer.cost_usd:.6f}] :gray-badge[knows up to {cutoff}]"
    )
    if answer.sources:
        stale = sum(s.stale for s in answer.sources)
        label = f"Sources ({len(answer.sources)}" + (f", {stale} stale)" if stale else ")")
        with st.expander(label):
            st.dataframe(
                frames.sources_frame(answer.sources),
                hide_index=True,
                width="stretch",
            )


def _seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.1f} s"
