"""The Data tab: pick the corpus, see what was read and rejected, export it for a platform."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from answers.redact import redact
from compare.workbench import Workbench
from corpus import CorpusError, current_records
from corpus.export import TARGETS
from corpus.facts import FactHistory
from corpus.names import printable
from corpus.report import CorpusSurvey
from ui import frames
from ui.raft_export import RAFT_EXPORT, render_raft_export
from ui.state import (
    apply_settings,
    configured_corpus,
    export_corpus,
    files_stamp,
)
from ui.uploads import MB, read_uploads, store_uploads

# wide enough that a message and its fix are read whole, not cut at a column edge
PROBLEM_COLUMNS = {
    "file": st.column_config.TextColumn("file", width="small"),
    "first": st.column_config.TextColumn("first", width="small"),
    "code": st.column_config.TextColumn("code", width="small"),
    "message": st.column_config.TextColumn("message", width="large"),
    "hint": st.column_config.TextColumn("hint", width="large"),
}


def render_data(wb: Workbench, key: str) -> None:
    """Pick the corpus (demo, upload, or files on disk) and show what was read and rejected."""
    ss = st.session_state
    source = st.radio(
        "Corpus",
        ["Demo corpus", "Upload JSONL files", "Files on disk"],
        horizontal=True,
        key="data_source",
        help="The demo corpus is the folder set under Settings.",
    )
    if source == "Demo corpus":
        ss.corpus_paths = ()
        st.caption(f"Reading `{ss.settings.compare.corpus_dir}`")
    elif source == "Upload JSONL files":
        limit_mb = int(st.get_option("server.maxUploadSize"))
        uploads = st.file_uploader(
            "JSONL files",
            type=["jsonl", "json"],
            accept_multiple_files=True,
            help=f"Up to {limit_mb} MB a file (server.maxUploadSize in .streamlit/config.toml).",
        )
        dest = ss.settings.compare.work_dir / "uploads"
        stored = store_uploads(((u.name, u.getvalue()) for u in uploads or []), dest, limit_mb * MB)
        for why in stored.refused:
            st.error(f"Not uploaded: {why}")
        ss.corpus_paths = tuple(str(p) for p in stored.paths)
    else:
        raw = st.text_input(
            "Paths (files or folders, comma-separated)",
            key="data_paths",
            placeholder="data/bad/invalid_json.jsonl, data/bad/bom.jsonl",
        )
        ss.corpus_paths = tuple(p.strip() for p in raw.split(",") if p.strip())
    if source != "Demo corpus" and not ss.corpus_paths:
        st.info("Choose files to read.")
        return
    try:
        if ss.corpus_paths:
            report, summary, found = _read_files(ss.corpus_paths)
            how = (
                "Grouped by id and wording, as `python -m corpus facts` groups them; the index "
                "also joins questions close in meaning once these files are the corpus."
            )
        else:
            report, summary, _ = configured_corpus(key, wb)
            stamp = files_stamp([str(ss.settings.compare.corpus_dir)])
            found, how = histories(f"{key}|{stamp}", wb, report), None
    except (CorpusError, OSError) as err:
        st.error(redact(f"Could not read the corpus: {printable(str(err))}"))
        return
    _data_overview(report, summary)
    render_fact_histories(found, how)
    _probe_ledger(wb)
    _data_export(wb, key, report)
    if ss.corpus_paths:
        _use_as_corpus(ss.corpus_paths)


def _read_files(paths: tuple[str, ...]) -> CorpusSurvey:
    """Uploaded or named files, read once per content as the corpus CLI reads them; a rerun with
    the same files reuses the read, and a new read shows its progress."""
    ss = st.session_state
    stamp = (paths, files_stamp(paths))
    kept = ss.get("data_survey")
    if kept is not None and kept[0] == stamp:
        return kept[1]
    bar = st.progress(0.0, text="Reading…")

    def shown(done: int, total: int) -> None:
        share = done / total if total else 1.0
        bar.progress(share, text=f"Reading {done / MB:,.1f} of {total / MB:,.1f} MB")

    try:
        survey = read_uploads([Path(p) for p in paths], progress=shown)
    finally:
        bar.empty()
    ss.data_survey = (stamp, survey)
    return survey


def _data_overview(report: Any, summary: Any) -> None:
    current = len(current_records(report.records))
    tiles = st.columns(6)
    tiles[0].metric(
        "Current records",
        f"{current:,}",
        help="One per id: a later line with the id of an older record replaces it "
        f"({summary.records - current:,} of the valid lines were replaced so).",
    )
    tiles[1].metric("Valid lines", f"{summary.records:,}", help="Every line that became a record.")
    tiles[2].metric("Files", summary.files)
    tiles[3].metric("Rejected lines", summary.rejected)
    tiles[4].metric("Warnings", summary.warnings)
    tiles[5].metric("Tokens", f"{summary.tokens.total:,}", help="Of every valid line.")
    st.subheader("Files")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "file": printable(Path(f.file).name),
                    "layout": f.layout,
                    "formats": ", ".join(f"{k} {v}" for k, v in f.formats.items()),
                    "batch": f.batch,
                    "lines": f.lines,
                    "entries": f.entries,
                    "valid": f.valid,
                    "rejected": f.rejected,
                    "skipped": f.skipped,
                    "blank": f.blank,
                }
                for f in report.files
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if report.rejects:
        st.subheader(f"Rejected lines ({len(report.rejects):,})")
        st.dataframe(
            frames.problems_by_code(report.rejects),
            hide_index=True,
            width="stretch",
            column_config=PROBLEM_COLUMNS,
        )
        st.download_button(
            f"Download all {len(report.rejects):,} rejected lines (CSV)",
            data=_problems(report.rejects).to_csv(index=False),
            file_name="rejected-lines.csv",
            mime="text/csv",
            key="rejects_csv",
        )
    else:
        st.success("Every line loaded.")
    if report.warnings:
        codes = ", ".join(sorted({w.code for w in report.warnings}))
        with st.expander(f"Warnings ({len(report.warnings)}: {codes}) — these lines still loaded"):
            st.dataframe(
                _problems(report.warnings),
                hide_index=True,
                width="stretch",
                column_config=PROBLEM_COLUMNS,
            )
    left, mid, right = st.columns(3)
    with left:
        st.markdown("**Records per batch**")
        if summary.per_batch:
            st.bar_chart(pd.Series(summary.per_batch, name="records"), height=220)
    with mid:
        t = summary.tokens
        st.markdown(f"**Tokens per record** ({t.tokenizer})")
        st.dataframe(
            pd.DataFrame(
                {
                    "": ["min", "median", "p95", "max", "total", "× epochs"],
                    "tokens": [t.min, t.median, t.p95, t.max, t.total, summary.training_tokens],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        if summary.over_limit_count:
            st.warning(
                f"{summary.over_limit_count:,} record(s) over the per-example limit of "
                f"{summary.limit.describe()} ({summary.limit.cite()})"
            )
        else:
            st.caption(f"Every record fits {summary.limit.describe()}.")
    if summary.dropped:
        st.info(
            "Kept out on purpose: "
            + ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in summary.dropped.items())
            + " — rejected preference answers, undesirable KTO answers and reasoning are never "
            "indexed, trained on or used as references; media are dropped and their text kept."
        )
    with right:
        st.markdown("**Formats and labels**")
        st.bar_chart(pd.Series(summary.per_format, name="records"), height=150, horizontal=True)
        if summary.labels:
            st.bar_chart(pd.Series(summary.labels, name="records"), height=150, horizontal=True)


def render_fact_histories(found: Sequence[FactHistory], how: str | None = None) -> None:
    """How many facts changed and when, and the history of any fact that changed or was given
    variant answers on one date (`how`: how the facts were grouped, when not as the index does)."""
    counts = frames.fact_counts(found)
    if not counts["facts"]:
        return
    st.subheader("Facts that change")
    if how:
        st.caption(how)
    left, right = st.columns([2, 3])
    with left:
        tiles = st.columns(4 if counts["variants"] else 3)
        tiles[0].metric(
            "Facts", f"{counts['facts']:,}", help="Questions, grouped by id or meaning."
        )
        tiles[1].metric(
            "Changed",
            f"{counts['changed']:,}",
            help="Facts that held another answer on a later date.",
        )
        tiles[2].metric(
            "Re-confirmed",
            f"{counts['reconfirmed']:,}",
            help="Facts restated with the same answer in a later batch: their newest date counts.",
        )
        if counts["variants"]:
            tiles[3].metric(
                "Variants",
                f"{counts['variants']:,}",
                help="Facts given more than one answer on one date, or in an undated file: "
                "answers stated alongside each other, not a change.",
            )
    with right:
        per_batch = frames.changes_per_batch(found)
        if per_batch:
            st.markdown("**New answers per batch**")
            st.bar_chart(pd.Series(per_batch, name="facts changed"), height=160)
    shown = [h for h in found if h.changed or h.has_variants]
    if shown:
        pick = st.selectbox(
            f"History of a fact that changed or has variants ({len(shown)})",
            range(len(shown)),
            format_func=lambda i: printable(shown[i].question.replace("\n", " ")[:120]),
            key="fact_pick",
        )
        st.dataframe(
            frames.history_frame(shown[min(pick or 0, len(shown) - 1)]),
            hide_index=True,
            width="stretch",
        )


@st.cache_data(show_spinner="Grouping facts…", max_entries=8)
def histories(key: str, _wb: Workbench, _report: Any) -> list[FactHistory]:
    """The configured corpus's fact histories as the index groups them (cached with the load's
    key; the question vectors come from the index's cache)."""
    return _wb.fact_histories(_report.records)


def _probe_ledger(wb: Workbench) -> None:
    """The last knowledge probe's per-fact ledger: which version of each fact every side gives."""
    from ui.probe_view import render_ledger

    result = wb.last_probe()
    if result is None:
        return
    st.subheader("What each model gives, per fact")
    st.caption(
        f"From the knowledge probe of {result.made_at:%Y-%m-%d %H:%M} UTC over the configured "
        "corpus (Freshness & cost tab, or python -m compare probe)."
    )
    render_ledger(result, key="data")


def _problems(items: Sequence[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "file": printable(Path(r.file).name),
                "line": r.line,
                "code": r.code,
                "message": r.message,
                "hint": r.hint,
            }
            for r in items
        ]
    )


def _data_export(wb: Workbench, key: str, report: Any) -> None:
    st.subheader("Export for a platform")
    left, right = st.columns([1, 2])
    target = left.selectbox("Target format", [*TARGETS, RAFT_EXPORT], key="export_target")
    if target == RAFT_EXPORT:
        render_raft_export(wb, key)
        return
    stamp = files_stamp(st.session_state.corpus_paths)
    result = export_corpus(key, (st.session_state.corpus_paths, stamp), target, report)
    left.download_button(
        f"Download {len(result.lines)} lines",
        data="\n".join(result.lines) + "\n",
        file_name=f"corpus-{target}.jsonl",
        mime="application/jsonl",
        disabled=not result.lines,
    )
    with right:
        if result.problems:
            st.warning(f"{len(result.problems)} record(s) could not be converted to {target}")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "record": p.record_id,
                            "file": printable(Path(p.source.file).name),
                            "line": p.source.line,
                            "reason": p.reason,
                        }
                        for p in result.problems
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.success(f"Every record converts to {target}.")


def _use_as_corpus(paths: Sequence[str]) -> None:
    folder = (
        Path(paths[0]) if len(paths) == 1 and Path(paths[0]).is_dir() else Path(paths[0]).parent
    )
    if st.button(f"Use `{folder}` as the corpus for the index and evaluations", key="use_corpus"):
        apply_settings(corpus_dir=folder)
        st.rerun()
