"""A key never leaks: an endpoint whose error repeats the request's Authorization header leaves
nothing key-shaped in runs.sqlite, the reports, the CLI's output or the app's page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from streamlit.testing.v1 import AppTest

from compare import cli
from compare.html_report import render_html
from compare.report import write_report
from compare.settings import CompareSettings, WorkbenchSettings
from compare.workbench import Workbench
from rag.settings import RagSettings
from tests.conftest import DEMO_CORPUS, ROOT
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

SECRET = "sk-leaktest-0123456789abcdef"
KEY_SHAPED = re.compile(r"sk-[A-Za-z0-9_\-]{8,}|Bearer [A-Za-z0-9._~+/=\-]{6,}")


def echoing_app() -> FastAPI:
    """Refuses every request, quoting the Authorization header back (some gateways do)."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        return JSONResponse(
            {"error": {"message": f"bad request from '{header}'", "type": "invalid"}}, 400
        )

    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(echoing_app()) as base:
        yield f"{base}/v1"


def eval_file(tmp_path: Path) -> Path:
    path = tmp_path / "eval.jsonl"
    lines = [{"question": "How much storage comes with Free?", "reference": "10 GB"}] * 2
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def settings(tmp_path: Path, url: str) -> WorkbenchSettings:
    return WorkbenchSettings(
        compare=CompareSettings(
            _env_file=None,
            corpus_dir=DEMO_CORPUS,
            eval_path=eval_file(tmp_path),
            prices_path=ROOT / "data" / "prices.json",
            work_dir=tmp_path / "work",
        ),
        rag=RagSettings(_env_file=None, work_dir=tmp_path / "work" / "index"),
        tuning=TuningSettings(
            _env_file=None, base_url=url, api_key=SECRET, max_retries=0, timeout=5
        ),
    )


def assert_no_key(text: str, where: str) -> None:
    assert SECRET not in text, f"the key itself in {where}"
    assert not KEY_SHAPED.search(text), (
        f"something key-shaped in {where}: {KEY_SHAPED.search(text)}"
    )


def test_no_key_in_the_runs_database_or_the_reports(tmp_path: Path, url: str) -> None:
    wb = Workbench(settings(tmp_path, url))
    comparison = wb.compare(wb.load_eval(), ["tuned"])
    error = comparison.run.scored[0].answer.error or ""
    assert "400" in error and "[redacted]" in error  # the failure is reported, the key is not
    db = (tmp_path / "work" / "runs.sqlite").read_bytes().decode("utf-8", "replace")
    assert_no_key(db, "runs.sqlite")
    json_path, md_path = write_report(comparison, tmp_path / "report")
    assert_no_key(json_path.read_text(encoding="utf-8"), "report.json")
    assert_no_key(md_path.read_text(encoding="utf-8"), "report.md")
    assert_no_key(render_html(comparison), "the HTML report")


def test_no_key_in_the_cli_output(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TUNING_BASE_URL", url)
    monkeypatch.setenv("TUNING_API_KEY", SECRET)
    monkeypatch.setenv("TUNING_MAX_RETRIES", "0")
    monkeypatch.chdir(ROOT)
    code = cli.main(
        ["run", "--answerers", "tuned", "--eval", str(eval_file(tmp_path)), "--work",
         str(tmp_path / "work"), "--out", str(tmp_path / "report")]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 1  # the tuned side failed on every question
    assert_no_key(out.out + out.err, "the CLI's output")
    code = cli.main(["advise", "--work", str(tmp_path / "work")])
    out = capsys.readouterr()
    assert code == 0 and "No verdict" in out.out
    assert_no_key(out.out + out.err, "the advice output")


def test_no_key_on_the_page(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for key, value in {
        "RAGORTUNE_WORK_DIR": str(tmp_path / "work"),
        "TUNING_BASE_URL": url,
        "TUNING_API_KEY": SECRET,
        "TUNING_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["tab"] = "Ask"
    at.run()
    at.text_input(key="question").input("How much storage comes with Free?")
    at.button[0].click().run()
    errors = [e.value for e in at.error]
    assert any("400" in e for e in errors), errors
    page = "\n".join(errors + [m.value for m in at.markdown] + [c.value for c in at.caption])
    assert_no_key(page, "the page")
    st.cache_resource.clear()
