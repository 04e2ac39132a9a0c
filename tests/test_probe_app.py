"""`python -m compare probe` and the app's probe sections, end to end through the workbench:
the fixture corpus, a local OpenAI-compatible server whose tuned model knows the batches up to the
second and whose base model knows nothing, no tuning manifest and no declared cutoff."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from compare.cli import main
from tests.conftest import ROOT
from tests.probe_helpers import BATCHES, CORPUS, knowing_app, known_at
from tuning.serve import serve_in_thread

pytestmark = pytest.mark.slow  # the workbench groups facts with the sentence embedder
TRAINED = BATCHES[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The workbench's settings as environment variables, from the repository root."""
    work = tmp_path_factory.mktemp("probe-app")
    models = {"tuned-model": known_at(TRAINED), "base-model": {}}
    with serve_in_thread(knowing_app(models, loglik=True)) as base:
        values = {
            "RAGORTUNE_CORPUS_DIR": str(CORPUS),
            "RAGORTUNE_WORK_DIR": str(work / "work"),
            "RAG_WORK_DIR": str(work / "work" / "index"),
            "TUNING_BASE_URL": f"{base}/v1",
            "TUNING_MODEL": "tuned-model",
            "TUNING_BASE_ENDPOINT_MODEL": "base-model",
            "TUNING_MANIFEST_PATH": str(work / "no-manifest"),
            "TUNING_MAX_RETRIES": "0",
        }
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(ROOT)
            for key, value in values.items():
                mp.setenv(key, value)
            st.cache_resource.clear()
            st.cache_data.clear()
            yield values
            st.cache_resource.clear()
            st.cache_data.clear()


@pytest.fixture(scope="module")
def probed(env: dict[str, str]) -> tuple[int, Path]:
    """One run of the command; (exit code, the re-tune plan's training file)."""
    out = Path(env["RAGORTUNE_WORK_DIR"]) / "retune.jsonl"
    code = main(["probe", "--sides", "base,tuned", "--plan-out", str(out), "--paraphrases", "1"])
    return code, out


def test_the_command_estimates_each_model_and_writes_its_files(
    probed: tuple[int, Path], env: dict[str, str]
) -> None:
    code, plan_file = probed
    assert code == 0
    folder = Path(env["RAGORTUNE_WORK_DIR"]) / "probe"
    saved = json.loads((folder / "probe.json").read_text(encoding="utf-8"))
    estimates = {s["side"]: s["estimate"] for s in saved["sides"]}
    assert estimates["tuned"]["status"] == "estimated" and estimates["tuned"]["day"] == str(TRAINED)
    assert estimates["base"]["status"] == "before_corpus"
    report = (folder / "probe.md").read_text(encoding="utf-8")
    assert "Re-tune plan" in report and "STALE" in report
    assert (folder / "ledger.csv").read_text(encoding="utf-8").startswith("fact_id,question")
    lines = plan_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * 15 and all("messages" in json.loads(x) for x in lines)


def test_freshness_rests_on_the_estimate_and_the_tab_shows_it(
    probed: tuple[int, Path],
) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["tab"] = "Freshness & cost"
    at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.caption)
    assert "Cutoff from: estimated from 22 facts" in text
    cutoffs = next(d.value for d in at.dataframe if "estimated (answers)" in d.value.columns)
    rows = dict(zip(cutoffs["side"], cutoffs["estimated (answers)"], strict=True))
    assert rows["Tuned"].startswith(str(TRAINED)) and rows["Base"].startswith("before the corpus")
    ledger = next(d.value for d in at.dataframe if "versions" in d.value.columns)
    assert len(ledger) == 22 and ledger["Tuned"].str.contains("STALE").sum() == 7
    plan = next(d.value for d in at.dataframe if "what the research says" in d.value.columns)
    assert list(plan["records"]) == [1, 7, 8]


def test_the_data_tab_shows_the_ledger(probed: tuple[int, Path]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["tab"] = "Data"
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == "What each model gives, per fact" for s in at.subheader)
    ledger = next(d.value for d in at.dataframe if "versions" in d.value.columns)
    assert set(ledger.columns) >= {"question", "Base", "Tuned"}
