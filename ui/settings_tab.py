"""The Settings tab: endpoint, model, API key, retrieval and corpus."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from compare.workbench import WorkbenchSettings
from ui.state import (
    apply_settings,
)

FIELDS = {  # widget key -> label
    "set_url": "Endpoint URL",
    "set_model": "Model",
    "set_manifest": "Tuning manifest (what the model was trained on)",
    "set_cutoff": "Declared data cutoff (remote model, no manifest)",
    "set_base_url": "Base model endpoint URL",
    "set_base_model": "Base model",
    "set_chroma": "Chroma server URL",
    "set_embed": "Embedding model",
    "set_corpus": "Corpus folder",
}


def _show(s: WorkbenchSettings) -> None:
    """Put the settings' current values into the form's widgets (the API key stays empty)."""
    values = {
        "set_url": s.tuning.base_url,
        "set_model": s.tuning.model,
        "set_manifest": str(s.tuning.manifest_path or ""),
        "set_cutoff": s.tuning.cutoff.isoformat() if s.tuning.cutoff else "",
        "set_base_url": s.tuning.base_endpoint or "",
        "set_base_model": s.tuning.base_endpoint_model or "",
        "set_chroma": s.rag.chroma_url or "",
        "set_embed": s.rag.embed_model or "",
        "set_corpus": str(s.compare.corpus_dir),
    }
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state["set_api_key"] = ""  # a typed key never lingers in a widget
    st.session_state["set_base_api_key"] = ""


def _apply() -> None:
    """Form callback: turn the widgets into a new settings object before the page reruns."""
    ss = st.session_state
    changes: dict[str, Any] = {
        "tuning_base_url": ss.set_url.strip(),
        "tuning_model": ss.set_model.strip(),
        "tuning_manifest_path": Path(ss.set_manifest.strip()) if ss.set_manifest.strip() else None,
        "tuning_base_endpoint": ss.set_base_url.strip() or None,
        "tuning_base_endpoint_model": ss.set_base_model.strip() or None,
        "chroma_url": ss.set_chroma.strip() or None,
        "embed_model": ss.set_embed.strip() or None,
        "corpus_dir": Path(ss.set_corpus.strip()),
    }
    try:
        cutoff = ss.set_cutoff.strip()
        changes["tuning_cutoff"] = date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        ss.settings_error = f"cutoff {ss.set_cutoff!r} is not a date: write YYYY-MM-DD"
        return
    ss.settings_error = None
    if ss.set_api_key:
        changes["tuning_api_key"] = ss.set_api_key
    if ss.set_base_api_key:
        changes["tuning_base_endpoint_api_key"] = ss.set_base_api_key
    apply_settings(**changes)
    _show(ss.settings)


def render_settings() -> None:
    """Endpoint, model, API key (never shown back), chroma, embedder and corpus folder."""
    s: WorkbenchSettings = st.session_state.settings
    if "set_url" not in st.session_state:
        _show(s)
    key_set = bool(s.tuning.api_key.get_secret_value())
    with st.form("settings_form"):
        st.markdown("**Tuned model endpoint** (OpenAI-compatible)")
        a, b = st.columns(2)
        a.text_input(FIELDS["set_url"], key="set_url")
        b.text_input(FIELDS["set_model"], key="set_model")
        c, d = st.columns(2)
        c.text_input(
            FIELDS["set_manifest"],
            key="set_manifest",
            help="tuning_manifest.json (or its folder): tells which corpus records the model has "
            "seen. `python -m tuning.train` and `python -m tuning.jobs status` write one.",
        )
        d.text_input(
            FIELDS["set_cutoff"],
            key="set_cutoff",
            placeholder="YYYY-MM-DD",
            help="For a model whose training set is unknown: records dated on or before this "
            "date count as known.",
        )
        st.text_input(
            f"API key — currently {'set' if key_set else 'not set'}",
            type="password",
            key="set_api_key",
            help="Leave empty to keep the current key. It is never shown back, logged or saved.",
        )
        st.markdown("**Base model endpoint** (writes the base and base + RAG sides)")
        e, f, g = st.columns(3)
        e.text_input(
            FIELDS["set_base_url"],
            key="set_base_url",
            placeholder="the tuned model's endpoint",
            help="Empty: the endpoint above (the local server serves the base model beside the "
            "adapter). For a hosted fine-tune, e.g. https://api.openai.com/v1.",
        )
        f.text_input(
            FIELDS["set_base_model"],
            key="set_base_model",
            placeholder="the base model the manifest names",
            help="e.g. gpt-4o-mini beside ft:gpt-4o-mini:…; empty: the manifest's base model, "
            "as the local server serves it.",
        )
        base_key_set = s.tuning.base_endpoint_api_key is not None
        g.text_input(
            f"Base model API key — currently {'set' if base_key_set else 'the same as above'}",
            type="password",
            key="set_base_api_key",
            help="Leave empty to keep the current key. It is never shown back, logged or saved.",
        )
        st.markdown("**Retrieval**")
        c, d = st.columns(2)
        c.text_input(
            FIELDS["set_chroma"],
            key="set_chroma",
            placeholder="embedded (no server)",
            help="Empty: an embedded index in the work folder.",
        )
        d.text_input(
            FIELDS["set_embed"],
            key="set_embed",
            placeholder="packaged (USE multilingual)",
            help="Empty: the packaged multilingual embedder (packaged:use-multilingual); "
            "packaged:minilm, packaged:e5-small or a sentence-transformers name or path.",
        )
        st.text_input(FIELDS["set_corpus"], key="set_corpus")
        st.form_submit_button("Apply settings", type="primary", on_click=_apply)
    if st.session_state.get("settings_error"):
        st.error(st.session_state.settings_error)
    st.caption(
        f"Work folder `{s.compare.work_dir}` · eval set `{s.compare.eval_path}` · "
        f"prices `{s.compare.prices_path}` · defaults come from environment variables and `.env`"
    )
