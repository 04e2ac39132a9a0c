"""The Index tab: what the retrieval index holds and an incremental rebuild."""

from __future__ import annotations

import streamlit as st

from answers.redact import redact
from compare.workbench import Workbench
from ui.state import configured_corpus


def render_index(wb: Workbench, key: str) -> None:
    """What the index holds, what changed since its build, and a rebuild with progress."""
    status = wb.index_status(configured_corpus(key, wb)[2])
    tiles = st.columns(5)
    tiles[0].metric("Records indexed", f"{status.records:,}")
    built = status.built_at
    tiles[1].metric(
        "Built",
        f"{built:%Y-%m-%d}" if built else "never",
        f"{built:%H:%M} UTC" if built else None,
        delta_color="off",
        delta_arrow="off",
    )
    tiles[2].metric("Newest fact", str(status.newest_as_of or "—"))
    tiles[3].metric("New / changed", f"{status.pending_new} / {status.pending_changed}")
    tiles[4].metric("Removed", status.pending_removed)
    st.caption(
        f"Embedding model `{status.embed_model}` · chroma: {status.chroma} · "
        f"{status.nodes:,} nodes, and {status.deleted_nodes:,} deleted ones the graph still "
        "holds until a rebuild moves the live ones to a fresh graph (`RAG_COMPACT_AT`)"
    )
    pending = status.pending
    if status.built_at is None:
        st.warning("No index yet: build it to let the RAG sides answer.")
    elif pending:
        st.info(
            f"{pending} record(s) changed since the last build: an incremental rebuild embeds only those."
        )
    else:
        st.success("The index is up to date with the corpus.")
    full = st.checkbox("Full rebuild (re-embed everything)", key="full_rebuild")
    if st.button("Rebuild index", type="primary", key="rebuild"):
        bar = st.progress(0.0, text="Starting…")

        def progress(done: int, total: int, what: str) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=what)

        try:
            s = wb.rebuild_index(progress=progress, full=full)
        except Exception as err:  # the edge: a failed rebuild is a message, the index is unchanged
            bar.empty()
            st.error(redact(f"The rebuild failed: {type(err).__name__}: {err}"))
            return
        st.session_state.rebuild_note = (
            f"Rebuilt in {s.seconds:.1f} s: {s.added} added, {s.updated} updated, {s.deleted} deleted, "
            f"{s.unchanged} unchanged, {s.rejected} rejected lines skipped."
        )
        st.rerun()
    if st.session_state.rebuild_note:
        st.success(st.session_state.rebuild_note)
