"""The Data tab's RAFT export: the configured corpus's questions with retrieved passages (the one
that answers in a share P, k hard distractors from the index), replies that quote the passage,
the eval file's facts held out; in any format that holds a chat with a system turn."""

from __future__ import annotations

from typing import Any

import streamlit as st

from answers.redact import redact
from compare.workbench import Workbench
from corpus.export import export_records
from corpus.report import summarise_events
from rag.raft import RaftSettings, RaftSplit, build_raft, describe
from rag.raft_files import RAFT_TARGETS
from rag.raft_items import read_asked
from ui.state import files_stamp

RAFT_EXPORT = "RAFT (with retrieved passages)"  # the Data tab's name for this export


def render_raft_export(wb: Workbench, key: str) -> None:
    """Settings, the split drawn from the index, its download in the chosen format, its tokens."""
    ss = st.session_state
    eval_path = ss.settings.compare.eval_path
    st.caption(
        "Each question of the configured corpus with passages retrieved from the index: the one "
        "that answers in a share P of the examples, k distractors (its nearest passages that do "
        "not answer) in all; the reply quotes the passage, then answers. Same prompt as "
        "Base + RAG and Tuned + RAG ask with. Train on it: `python -m tuning.train --raft DIR`."
    )
    cols = st.columns(5)
    target = cols[0].selectbox("Format", RAFT_TARGETS, key="raft_target")
    p = cols[1].slider("P: share with the answer's passage", 0.0, 1.0, 0.8, 0.05, key="raft_p")
    k = int(cols[2].number_input("k: distractors", 0, 16, 4, key="raft_k"))
    style = cols[3].selectbox("Quote style", ("cite", "raft"), key="raft_style")
    seed = int(cols[4].number_input("Seed", 0, 10_000, 0, key="raft_seed"))
    hold = st.checkbox(
        f"Hold out the facts `{eval_path.name}` asks about", value=True, key="raft_hold"
    )
    settings = RaftSettings(p=p, k=k, quote_style=style, seed=seed)
    try:
        index = wb.sides.index()
    except Exception as err:  # the edge: no index is a message, not a crash
        st.info(
            redact(f"Build the index first (Index tab): RAFT draws its passages from it. {err}")
        )
        return
    stamp = (str(index.manifest.built_at), files_stamp([str(eval_path)]), hold)
    try:
        split = raft_split(key, stamp, settings.model_dump_json(), _wb=wb, _index=index)
    except Exception as err:  # the edge: a bad eval file or index is a message
        st.error(redact(f"Could not draw the RAFT split: {type(err).__name__}: {err}"))
        return
    result = export_records(split.records(), target)
    left, right = st.columns([1, 2])
    left.download_button(
        f"Download {len(result.lines)} RAFT lines",
        data="\n".join(result.lines) + "\n",
        file_name=f"raft-{target}.jsonl",
        mime="application/jsonl",
        disabled=not result.lines,
        key="raft_download",
    )
    with right:
        st.text(describe(split))
        t = summarise_events(split.records()).tokens
        st.caption(
            f"Tokens per example ({t.tokenizer}): median {t.median:.0f}, p95 {t.p95:.0f}, "
            f"max {t.max}, total {t.total:,}"
        )


@st.cache_data(show_spinner="Retrieving passages for every question…", max_entries=8)
def raft_split(key: str, stamp: Any, settings: str, _wb: Workbench, _index: Any) -> RaftSplit:
    """The RAFT split of the configured corpus (cached per settings, index build and eval file)."""
    chosen = RaftSettings.model_validate_json(settings)
    held = read_asked(_wb.settings.compare.eval_path) if stamp[2] else []
    return build_raft(_wb.records(), _index, chosen, held_out=held)
