"""The Streamlit app, tab by tab, through `streamlit.testing.v1.AppTest` with the real workbench.

The tuned endpoint points at a closed port, so every run also checks that a failing side shows its
error in its own column while retrieval answers. Each AppTest opens one tab (tabs render lazily and
AppTest cannot click a tab), and results that later tabs need travel in `session_state`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from compare.evalset import load_eval
from tests.conftest import BAD_DIR, DEMO_EVAL, ROOT

APP = str(ROOT / "app.py")
TIMEOUT = 180
SECRET = "sk-test-never-shown-0123456789"


def closed_port() -> int:
    """A port nothing listens on: bound once to get a free number, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings for every test in this module: a private work folder and a dead tuned endpoint."""
    base = tmp_path_factory.mktemp("app")
    return {
        "RAGORTUNE_WORK_DIR": str(base / "work"),
        "RAG_WORK_DIR": str(base / "work" / "index"),
        "TUNING_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "TUNING_MAX_RETRIES": "0",
        "TUNING_TIMEOUT": "5",
    }


@pytest.fixture(scope="module")
def module_env(app_env: dict[str, str]) -> Iterator[None]:
    """Apply the module's settings as environment variables, from the repository root."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        for key, value in app_env.items():
            mp.setenv(key, value)
        # the module starts and ends with empty caches; within it, the workbench for these
        # settings (and its loaded embedder) is shared, as it is between sessions of a real server
        st.cache_resource.clear()
        st.cache_data.clear()
        yield
        st.cache_resource.clear()
        st.cache_data.clear()


@pytest.fixture(autouse=True)
def fresh_data_cache(module_env: None) -> None:
    """Cached corpus loads never leak from one test into the next."""
    st.cache_data.clear()


def open_tab(tab: str, **session: Any) -> AppTest:
    """A new session on one tab, with some session state set before the first run."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["tab"] = tab
    for key, value in session.items():
        at.session_state[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    """No exception reached the page."""
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    """Every markdown, caption and alert text on the page, joined."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in ("success", "info", "warning", "error"):
        parts += [e.value for e in getattr(at, kind)]
    return "\n".join(parts)


def metric(at: AppTest, label: str) -> str:
    """The value of the metric tile with this label."""
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture(scope="module")
def indexed(module_env: None) -> AppTest:
    """The Index tab after pressing Rebuild: the index every later test retrieves from."""
    at = open_tab("Index")
    at.button(key="rebuild").click().run()
    return at


@pytest.fixture(scope="module")
def evaluated(indexed: AppTest) -> Any:
    """A three-question evaluation run from the Evaluate tab; returns the Comparison it kept."""
    at = open_tab("Evaluate")
    at.slider(key="eval_n").set_value(3)
    at.button(key="run_eval").click().run()
    assert_clean(at)
    return at.session_state["comparison"]


def test_data_tab_reads_the_demo_corpus(module_env: None) -> None:
    at = open_tab("Data")
    assert_clean(at)
    assert int(metric(at, "Current records").replace(",", "")) > 0
    files = at.dataframe[0].value
    assert {"file", "formats", "lines", "valid", "rejected", "skipped", "blank"} <= set(
        files.columns
    )
    assert (files["valid"] + files["rejected"] + files["skipped"] == files["entries"]).all()
    assert (files["entries"] + files["blank"] == files["lines"]).all()
    assert "Every line loaded." in texts(at)
    assert "o200k_base" in texts(at) or "cl100k_base" in texts(at)  # says which tokenizer
    assert at.get("download_button"), "an export download is offered"


def test_data_tab_counts_changed_facts_and_shows_a_history(module_env: None) -> None:
    at = open_tab("Data")
    assert_clean(at)
    assert int(metric(at, "Changed")) >= 14  # 14 demo facts are restated under their own id
    history = next(d.value for d in at.dataframe if "held until" in d.value.columns)
    assert list(history["status"])[-1] == "current" and "superseded" in set(history["status"])
    assert history["first seen"].is_monotonic_increasing


@pytest.mark.parametrize("target", ["openai", "alpaca", "text"])
def test_data_tab_exports_any_target(module_env: None, target: str) -> None:
    at = open_tab("Data")
    at.selectbox(key="export_target").set_value(target).run()
    assert_clean(at)
    offered = at.get("download_button")[0].proto.label  # "Download N lines"
    assert int(offered.split()[1]) > 0
    verdicts = [*(s.value for s in at.success), *(w.value for w in at.warning)]
    assert f"Every record converts to {target}." in verdicts or any(
        v.endswith(f"could not be converted to {target}") for v in verdicts
    )


@pytest.mark.slow
def test_data_tab_exports_raft_with_retrieved_passages(indexed: AppTest) -> None:
    at = open_tab("Data")
    at.selectbox(key="export_target").set_value("RAFT (with retrieved passages)").run()
    at.number_input(key="raft_k").set_value(2).run()
    assert_clean(at)
    offered = next(b for b in at.get("download_button") if "RAFT" in b.proto.label)
    assert int(offered.proto.label.split()[1]) > 100  # "Download N RAFT lines"
    said = "\n".join(t.value for t in at.text)
    assert "2 hard distractors each" in said and "held out 74 facts" in said


def test_data_tab_reports_bad_lines_from_files_on_disk(module_env: None) -> None:
    at = open_tab("Data")
    at.radio(key="data_source").set_value("Files on disk").run()
    bad = [BAD_DIR / "invalid_json.jsonl", BAD_DIR / "bom.jsonl", BAD_DIR / "missing_answer.jsonl"]
    at.text_input(key="data_paths").input(", ".join(str(p) for p in bad)).run()
    assert_clean(at)
    rejects = next(d.value for d in at.dataframe if "hint" in d.value.columns)
    assert {"code", "lines", "first", "message", "hint"} <= set(rejects.columns)
    assert {"invalid_json", "missing_answer"} <= set(rejects["code"])
    assert (
        rejects["first"].str.match(r"^[\w.-]+\.jsonl:\d+$").all()
        and rejects["hint"].str.len().gt(0).all()
    )
    assert int(metric(at, "Rejected lines")) == rejects["lines"].sum()
    warnings = [d.value for d in at.dataframe if "code" in d.value.columns][1:]
    assert warnings and "bom" in set(warnings[0]["code"])


def test_uploaded_bytes_take_the_same_path(module_env: None, tmp_path: Path) -> None:
    """What the uploader receives is written by `store_uploads` and read like files on disk."""
    from ui.uploads import store_uploads

    source = BAD_DIR / "invalid_json.jsonl"
    stored = store_uploads([("escape.jsonl", source.read_bytes())], tmp_path / "uploads", 10**6)
    assert stored == store_uploads(
        [("escape.jsonl", source.read_bytes())], tmp_path / "uploads", 10**6
    )
    at = open_tab("Data")
    at.radio(key="data_source").set_value("Files on disk").run()
    at.text_input(key="data_paths").input(str(stored.paths[0])).run()
    assert_clean(at)
    rejects = next(d.value for d in at.dataframe if "hint" in d.value.columns)
    assert (
        set(rejects["code"]) == {"invalid_json"}
        and rejects["first"].str.startswith("escape.jsonl:").all()
    )
    assert at.get("download_button"), "the full list of rejects is offered as a download"


def test_data_tab_shows_variants_of_an_undated_file_without_none(
    module_env: None, tmp_path: Path
) -> None:
    """An undated KTO file: two desirable answers to one prompt are variants, not a change."""
    path = tmp_path / "tent\ncare.jsonl"  # a newline in the name, shown escaped
    ask = {"role": "user", "content": "Best way to store the tent?"}
    path.write_text(
        "".join(
            json.dumps({"messages": [ask, {"role": "assistant", "content": a}], "label": True})
            + "\n"
            for a in ("Dry it fully, then roll it loosely.", "Keep it in its sack, dry.")
        ),
        encoding="utf-8",
    )
    at = open_tab("Data")
    at.radio(key="data_source").set_value("Files on disk").run()
    at.text_input(key="data_paths").input(str(path)).run()
    assert_clean(at)
    assert (metric(at, "Changed"), metric(at, "Variants")) == ("0", "1")
    assert "grouped by id and wording" in texts(at).lower()
    files = at.dataframe[0].value
    assert list(files["file"]) == ["tent\\ncare.jsonl"]
    history = next(d.value for d in at.dataframe if "held until" in d.value.columns)
    assert "None" not in history.to_string()
    assert list(history["first seen"]) == ["undated", "undated"]
    assert list(history["status"]) == ["current", "current (variant)"]


def test_index_tab_rebuilds_with_progress(indexed: AppTest) -> None:
    assert_clean(indexed)
    assert "Rebuilt in" in texts(indexed)
    assert int(metric(indexed, "Records indexed").replace(",", "")) > 0
    assert metric(indexed, "Built") != "never"
    assert "up to date" in texts(indexed)


def test_ask_shows_rag_while_the_tuned_endpoint_fails(indexed: AppTest) -> None:
    at = open_tab("Ask")
    at.text_input(key="question").input(load_eval(DEMO_EVAL)[0].question)
    at.button[0].click().run()
    assert_clean(at)
    page = texts(at)
    for label in ("RAG (extractive)", "Base + RAG", "Tuned", "Tuned + RAG"):
        assert f"[{label}]" in page, f"a column for {label}"
    # each column says which model writes it and at which price entry it is billed
    assert "written by smollm2-135m-instruct at http://127.0.0.1:" in page
    assert "billed as local-smollm2-135m" in page and "billed as no model" in page
    errors = [e.value for e in at.error]
    assert any(e.startswith("Tuned failed") for e in errors)
    assert any(e.startswith("Base + RAG failed") for e in errors)
    assert not any(e.startswith("RAG (extractive) failed") for e in errors), "the lookup answers"
    assert "answered in" in page and "knows up to" in page


def test_evaluate_tab_shows_quality_gaps_and_history(indexed: AppTest, evaluated: Any) -> None:
    assert len(evaluated.run.items) == 3
    at = open_tab("Evaluate", comparison=evaluated)
    assert_clean(at)
    per_question = next(d.value for d in at.dataframe if "reference" in d.value.columns)
    assert len(per_question) == 3
    assert {"RAG (extractive)", "RAG (extractive) F1", "Base + RAG", "Tuned", "Tuned F1"} <= set(
        per_question.columns
    )
    assert per_question["Tuned"].str.startswith("error").all(), "the dead endpoint is visible"
    assert len(at.get("vega_lite_chart")) >= 4  # quality, gaps, latency, kinds of fact
    assert any("Quality by kind of fact" in m.value for m in at.markdown)
    assert "Run history" in [s.value.split(" (")[0] for s in at.subheader]
    best = next(m for m in at.metric if m.label == "Best token F1")
    means = [q.overall.mean for q in evaluated.summary.quality if q.metric == "token_f1"]
    assert best.value == f"{max(means):.2f}"
    assert best.delta == "RAG (extractive)", "the side is named beside its mean"


def test_evaluate_tab_estimates_the_cost_offers_the_report_and_diffs_runs(
    indexed: AppTest, evaluated: Any
) -> None:
    at = open_tab("Evaluate", comparison=evaluated)
    assert_clean(at)
    assert "Estimated cost of this run" in texts(at), "the cost before Run"
    [download] = at.get("download_button")
    assert "Download the report (HTML)" in str(download.proto)
    at.slider(key="eval_n").set_value(3)
    at.button(key="run_eval").click().run()  # a second run: two runs to compare
    assert_clean(at)
    newest = at.session_state["comparison"].run.run_id
    assert at.selectbox(key="diff_b").value == newest
    assert at.selectbox(key="diff_a").value == evaluated.run.run_id
    sides = next(d.value for d in at.dataframe if "change [95% CI]" in d.value.columns)
    assert list(sides["side"]) == evaluated.run.answerers
    assert "3 shared questions" in texts(at)


def test_a_made_eval_set_is_the_one_that_runs_until_another_is_picked(module_env: None) -> None:
    asked = ("How much does the Pro plan cost?", {})
    at = open_tab("Evaluate", answers=asked)
    assert at.selectbox(key="eval_file").value == DEMO_EVAL.relative_to(ROOT)
    next(b for b in at.button if b.label == "Make eval set").click().run()
    assert_clean(at)
    made = at.session_state["settings"].compare.eval_path
    assert made.name == "generated-0.jsonl" and made.is_file()
    assert at.selectbox(key="eval_file").value == made, "the picker follows the new set"
    at.run()  # and stays there on the next run
    assert at.session_state["settings"].compare.eval_path == made
    demo_docs = Path("data/eval/demo_documents.jsonl")
    at.selectbox(key="eval_file").set_value(demo_docs).run()
    assert_clean(at)
    assert at.session_state["settings"].compare.eval_path == demo_docs
    assert at.session_state["answers"] == asked, "another eval set keeps the Ask tab's answers"


def test_freshness_and_cost_reprice_on_new_inputs(evaluated: Any) -> None:
    at = open_tab("Freshness & cost", comparison=evaluated)
    assert_clean(at)
    assert at.get("vega_lite_chart"), "the batch timeline and the break-even chart"
    costs = next(d.value for d in at.dataframe if "total / month" in d.value.columns)
    assert set(costs["side"]) == {"RAG (extractive)", "Base + RAG", "Tuned", "Tuned + RAG"}
    billed = dict(zip(costs["side"], costs["billed as"], strict=True))
    assert billed["Base + RAG"] == billed["Tuned"] == "local-smollm2-135m"
    volume = next(n for n in at.number_input if n.label == "Queries per month")
    volume.set_value(250_000)
    next(b for b in at.button if b.label == "Update costs").click().run()
    assert_clean(at)
    assert at.session_state["comparison"].cost.settings.queries_per_month == 250_000


def test_advice_shows_the_verdict_and_every_criterion(evaluated: Any) -> None:
    at = open_tab("Advice", comparison=evaluated)
    assert_clean(at)
    verdict = [*at.success, *at.warning]
    assert verdict and evaluated.advice.headline in verdict[0].value
    criteria = next(d.value for d in at.dataframe if "threshold" in d.value.columns)
    assert len(criteria) == len(evaluated.advice.criteria)
    shown = dict(zip(criteria["criterion"], criteria["status"], strict=True))
    # the dead tuned endpoint: a side that failed everywhere, and criteria that were not measured
    assert evaluated.advice.verdict == "incomplete"
    assert shown["forgetting"] == "➖ not measured" and shown["task changed"] == "❌ not met"
    box = next(n for n in at.number_input if n.label == "min new records")
    box.set_value(1)
    next(b for b in at.button if b.label == "Re-check advice").click().run()
    assert_clean(at)
    assert at.session_state["advice"].min_new_records == 1


def test_advice_offers_a_quick_evaluation_first(indexed: AppTest) -> None:
    at = open_tab("Advice")
    assert "No evaluation yet" in texts(at)
    at.button(key="quick_eval").click().run()
    assert_clean(at)
    assert len(at.session_state["comparison"].run.items) == 5
    headline = at.session_state["comparison"].advice.headline
    assert any(headline in box.value for box in [*at.success, *at.warning]), "a verdict shown"


def test_settings_never_show_the_api_key(module_env: None) -> None:
    at = open_tab("Settings")
    assert_clean(at)
    fields = {t.label.split(" —")[0]: t for t in at.text_input}
    fields["Endpoint URL"].input("http://127.0.0.1:9/v1")
    fields["API key"].input(SECRET)
    next(b for b in at.button if b.label == "Apply settings").click().run()
    assert_clean(at)
    settings = at.session_state["settings"]
    assert settings.tuning.base_url == "http://127.0.0.1:9/v1"
    assert settings.tuning.api_key.get_secret_value() == SECRET
    key_box = next(t for t in at.text_input if t.label.startswith("API key"))
    assert "currently set" in key_box.label and key_box.value == ""
    shown = texts(at) + "".join(str(t.value) for t in at.text_input)
    assert SECRET not in shown


def test_settings_take_a_declared_cutoff_and_reject_a_bad_one(module_env: None) -> None:
    at = open_tab("Settings")
    cutoff = next(t for t in at.text_input if t.label.startswith("Declared data cutoff"))
    cutoff.input("March 2026")
    next(b for b in at.button if b.label == "Apply settings").click().run()
    assert_clean(at)
    assert any("YYYY-MM-DD" in e.value for e in at.error)
    assert at.session_state["settings"].tuning.cutoff is None, "nothing applied"
    cutoff = next(t for t in at.text_input if t.label.startswith("Declared data cutoff"))
    cutoff.input("2026-03-31")
    next(b for b in at.button if b.label == "Apply settings").click().run()
    assert_clean(at)
    assert str(at.session_state["settings"].tuning.cutoff) == "2026-03-31"
    assert not at.error


def test_an_eval_set_with_bad_lines_runs_its_good_ones_and_lists_the_rest(
    module_env: None, tmp_path: Path
) -> None:
    from compare.settings import build_settings

    path = tmp_path / "eval.jsonl"
    path.write_text(
        '{"question": "How long is the warranty?", "reference": "Two years."}\n'
        '{"question": "", "reference": "x"}\n'
        "not json\n",
        encoding="utf-8",
    )
    at = open_tab("Evaluate", settings=build_settings(compare_eval_path=path))
    assert_clean(at)
    assert any("2 lines of the eval set are not questions" in w.value for w in at.warning)
    rejects = next(d.value for d in at.dataframe if "fix" in d.value.columns)
    assert list(rejects["line"]) == ["eval.jsonl:2", "eval.jsonl:3"]
    assert rejects["fix"].str.len().gt(0).all()
    missing = open_tab("Evaluate", settings=build_settings(compare_eval_path=tmp_path / "gone"))
    assert_clean(missing)
    assert any("cannot read the eval file" in e.value for e in missing.error)
