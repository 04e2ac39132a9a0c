"""Session state, cached resources and cached data shared by every tab."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from answers.metrics import LABELS as METRIC_LABELS
from compare.advice import AdviceSettings
from compare.cost import CostSettings
from compare.evalset import EvalLoad, EvalLoadError, read_eval
from compare.side_table import SIDE_TABLE
from compare.summary import HEADLINE as METRIC
from compare.workbench import Workbench, WorkbenchSettings, build_settings
from corpus import LoadReport, Record, Reject, current_records, load_corpus
from corpus.export import ExportResult, export_records
from corpus.report import CorpusSummary, summarise

__all__ = ["METRIC", "METRIC_LABELS"]
MARKDOWN_COLORS = {s.name: s.badge for s in SIDE_TABLE}  # the chart colours, as Markdown names


def settings_key(settings: WorkbenchSettings) -> str:
    """A cache key for the settings; the API keys enter only as a digest, never as themselves."""
    keys = (settings.tuning.api_key, settings.tuning.base_endpoint_api_key)
    secret = "|".join(k.get_secret_value() if k else "" for k in keys).encode()
    return settings.fingerprint() + "|" + hashlib.sha256(secret).hexdigest()[:16]


@st.cache_resource(show_spinner="Starting the workbench…", max_entries=4)
def get_workbench(key: str, _settings: WorkbenchSettings) -> Workbench:
    """One Workbench per distinct settings, shared by every session (it is thread-safe)."""
    return Workbench(_settings)


def files_stamp(paths: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime) of every JSONL file under `paths`, so edited files invalidate the cache."""
    stamp = []
    for raw in paths:
        path = Path(raw)
        files = sorted(path.glob("*.json*")) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                stat = file.stat()
                stamp.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(stamp)


@st.cache_data(show_spinner="Reading the corpus…", max_entries=16)
def read_corpus(
    key: str, paths: tuple[str, ...], stamp: Any, _wb: Workbench
) -> tuple[LoadReport, CorpusSummary]:
    """The load report and its summary, cached per settings, paths and file contents (no paths:
    the configured corpus)."""
    report = load_corpus([Path(p) for p in paths] or [_wb.settings.compare.corpus_dir])
    return report, summarise(report)


def configured_corpus(key: str, wb: Workbench) -> tuple[LoadReport, CorpusSummary, list[Record]]:
    """The configured corpus through the cached load: report, summary and current records.

    Every tab that needs the corpus reads it here, so a rerun re-reads files only when they change.
    """
    folder = str(st.session_state.settings.compare.corpus_dir)
    report, summary = read_corpus(key, (), files_stamp([folder]), wb)
    return report, summary, current_records(report.records)


@st.cache_data(show_spinner=False, max_entries=64)
def export_corpus(key: str, stamp: Any, target: str, _report: LoadReport) -> ExportResult:
    """The corpus written for one export target (cached per corpus and target)."""
    return export_records(current_records(_report.records), target)


@st.cache_data(show_spinner="Grouping facts…", max_entries=4)
def fact_index(key: str, _wb: Workbench) -> dict[str, Any]:
    """Each record id of the configured corpus -> the history of its fact (cached per settings)."""
    from corpus.facts import facts_by_record

    return facts_by_record(_wb.fact_histories())


def state() -> Any:
    """Session defaults: settings from env / .env, plan inputs, and the last results."""
    ss = st.session_state
    if "settings" not in ss:
        ss.settings = build_settings()
    ss.setdefault("corpus_paths", ())
    ss.setdefault("cost", CostSettings())
    ss.setdefault("advice", AdviceSettings())
    ss.setdefault("answers", None)
    ss.setdefault("comparison", None)
    ss.setdefault("rebuild_note", None)
    return ss


ANSWER_NEUTRAL = {"compare_eval_path"}  # settings no answer depends on


def apply_settings(**changes: Any) -> None:
    """Replace the session's settings; the next run gets (or builds) the matching Workbench."""
    ss = st.session_state
    ss.settings = ss.settings.with_overrides(**changes)
    if set(changes) - ANSWER_NEUTRAL:  # another eval set leaves the Ask tab's answers standing
        ss.answers = None
    for key in [k for k in ss if str(k).startswith("set_")]:
        del ss[key]  # the Settings form shows the new values next time it is drawn


def eval_load(wb: Workbench) -> EvalLoad:
    """The eval set as read: its questions and every bad line with its fix, read once per session
    and eval file (an unreadable file is one reject, never a traceback)."""
    ss = st.session_state
    path = ss.settings.compare.eval_path
    key = f"eval_items:{path}:{path.stat().st_mtime_ns if path.exists() else 0}"
    if key not in ss:
        try:
            ss[key] = read_eval(path)
        except EvalLoadError as err:
            problem = Reject(
                file=str(path), line=0, code="unreadable", message=str(err),
                hint="check the path in Settings or pick another eval set",
            )  # fmt: skip
            ss[key] = EvalLoad(rejects=[problem])
    loaded: EvalLoad = ss[key]
    return loaded


def eval_items(wb: Workbench) -> list[Any]:
    """The eval set's questions (the valid lines; see `eval_load` for the others)."""
    return list(eval_load(wb).items)


def spread(items: Sequence[Any], n: int) -> list[Any]:
    """`n` items spread evenly over the list, so a short run still mixes old and new facts."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
