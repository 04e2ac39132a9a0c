"""Remote tuning jobs against a local fake of the OpenAI files + fine_tuning.jobs API.

The one fake in the suite: the real service is paid and unreachable from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, UploadFile
from fastapi.responses import JSONResponse

from tuning import jobs
from tuning.manifest import TuningManifest
from tuning.serve import serve_in_thread as app_in_thread


class FakeOpenAI:
    """Files and fine-tuning jobs as the OpenAI API answers them; a job succeeds on its 2nd poll."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/files")
        async def upload(file: UploadFile, request: Request) -> dict[str, Any]:
            form = await request.form()
            assert form["purpose"] == "fine-tune"
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = await file.read()
            return {"id": file_id, "object": "file", "bytes": len(self.files[file_id]),
                    "created_at": 1, "filename": file.filename, "purpose": "fine-tune",
                    "status": "processed"}  # fmt: skip

        @app.post("/v1/fine_tuning/jobs")
        async def create(request: Request) -> Any:
            body = await request.json()
            if body["training_file"] not in self.files:
                return JSONResponse({"error": {"message": "no such file"}}, 400)
            job_id = f"ftjob-{len(self.jobs) + 1}"
            self.jobs[job_id] = body
            self.polls[job_id] = 0
            return self.job(job_id, "validating_files")

        @app.get("/v1/fine_tuning/jobs/{job_id}")
        async def retrieve(job_id: str) -> Any:
            if job_id not in self.jobs:
                return JSONResponse({"error": {"message": f"job {job_id} not found"}}, 404)
            self.polls[job_id] += 1
            if self.polls[job_id] == 1:
                return self.job(job_id, "running")
            return self.job(
                job_id, "failed" if self.jobs[job_id].get("suffix") == "doomed" else "succeeded"
            )

        return app

    def job(self, job_id: str, status: str) -> dict[str, Any]:
        body = self.jobs[job_id]
        done = status == "succeeded"
        lines = self.files[body["training_file"]].decode().splitlines()
        epochs = (
            body.get("method", {})
            .get("supervised", {})
            .get("hyperparameters", {})
            .get("n_epochs", 3)
        )
        return {
            "id": job_id, "object": "fine_tuning.job", "created_at": 1_780_000_000,
            "finished_at": 1_780_003_600 if done else None, "model": body["model"],
            "fine_tuned_model": f"ft:{body['model']}:acme::{job_id[-1]}abc" if done else None,
            "organization_id": "org-1", "result_files": [], "seed": 1, "status": status,
            "training_file": body["training_file"], "validation_file": None,
            "hyperparameters": {"n_epochs": epochs, "batch_size": 1, "learning_rate_multiplier": 1.0},
            "trained_tokens": 1000 * len(lines) if done else None,
            "error": {"code": "invalid", "message": "training data too short", "param": None} if status == "failed" else None,
        }  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def env(fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with app_in_thread(fake.app()) as base:
        monkeypatch.setenv("TUNING_JOBS_BASE_URL", f"{base}/v1")
        monkeypatch.setenv("TUNING_JOBS_API_KEY", "sk-fake")
        monkeypatch.setenv("TUNING_JOBS_DIR", str(tmp_path / "jobs"))
        monkeypatch.setenv("TUNING_ADAPTERS_DIR", str(tmp_path / "adapters"))
        monkeypatch.setenv("TUNING_MAX_RETRIES", "0")
        yield tmp_path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "2026-03-01-faq.jsonl").write_text(
        "\n".join(
            json.dumps(line, ensure_ascii=False)
            for line in [
                {"id": "a", "prompt": "Price of the Atlas kettle?", "completion": "49 EUR."},
                {"id": "b", "messages": [{"role": "user", "content": "Где сделан Борей?"},
                                         {"role": "assistant", "content": "В Тампере."}]},
                {"id": "c", "text": "Nordhaus was founded in 2011."},
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "2026-07-01-faq.jsonl").write_text(
        json.dumps({"id": "a", "prompt": "Price of the Atlas kettle?", "completion": "55 EUR."}),
        encoding="utf-8",
    )
    return folder


def test_create_uploads_the_export_and_starts_a_job(
    env: Path, corpus: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    code = jobs.main(["create", "--to", "openai", "--corpus", str(corpus), "--until", "2026-03-31",
                      "--model", "gpt-4o-mini-2024-07-18", "--epochs", "4"])  # fmt: skip
    assert code == 0
    job_id = capsys.readouterr().out.split("started job ")[1].split(";")[0]
    body = fake.jobs[job_id]
    assert body["model"] == "gpt-4o-mini-2024-07-18"
    assert body["method"]["supervised"]["hyperparameters"]["n_epochs"] == 4
    lines = [json.loads(x) for x in fake.files[body["training_file"]].decode().splitlines()]
    # the March price only (July is after the cutoff); the text record cannot be a chat example
    assert [m["messages"][-1]["content"] for m in lines] == ["49 EUR.", "В Тампере."]
    assert all(m["messages"][-1]["role"] == "assistant" for m in lines)

    assert jobs.main(["status", job_id]) == 0  # still running: no manifest yet
    assert not (env / "adapters").exists()
    assert jobs.main(["status", job_id]) == 0
    manifests = list((env / "adapters").glob("*/tuning_manifest.json"))
    assert len(manifests) == 1
    manifest = TuningManifest.load(manifests[0])
    assert manifest.provider == "openai"
    assert manifest.remote_model == f"ft:gpt-4o-mini-2024-07-18:acme::{job_id[-1]}abc"
    assert manifest.known_record_ids() == {"a", "b"}
    assert str(manifest.knowledge_cutoff) == "2026-03-31"
    assert manifest.epochs == 4
    assert manifest.training_tokens == 2000
    assert manifest.cost_usd == pytest.approx(2000 / 1e6 * 3.00)


def test_failed_job_exits_1_with_the_reason(
    env: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["create", "--corpus", str(corpus), "--until", "2026-03-31", "--suffix", "doomed"]
    assert jobs.main(args) == 0
    job_id = capsys.readouterr().out.split("started job ")[1].split(";")[0]
    assert jobs.main(["status", job_id]) == 0
    assert jobs.main(["status", job_id]) == 1
    assert "training data too short" in capsys.readouterr().err


def test_unknown_job_and_unreachable_api_exit_2(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jobs.main(["status", "ftjob-missing"]) == 2
    assert "ftjob-missing not found" in capsys.readouterr().err
    monkeypatch.setenv("TUNING_JOBS_BASE_URL", "http://127.0.0.1:9/v1")
    assert jobs.main(["status", "ftjob-1"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "sk-fake" not in err


def test_job_started_elsewhere_needs_a_declared_cutoff(
    env: Path, corpus: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jobs.main(["create", "--corpus", str(corpus), "--until", "2026-03-31"]) == 0
    job_id = capsys.readouterr().out.split("started job ")[1].split(";")[0]
    (env / "jobs" / f"{job_id}.json").unlink()  # as if started from another machine
    jobs.main(["status", job_id])
    assert jobs.main(["status", job_id]) == 2
    out = env / "m"
    assert jobs.main(["status", job_id, "--declared-cutoff", "2026-02-28", "--out", str(out)]) == 0
    manifest = TuningManifest.load(out)
    assert manifest.records == [] and str(manifest.knowledge_cutoff) == "2026-02-28"
