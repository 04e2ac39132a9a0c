"""The shared answer types: usage arithmetic, cache keys, the one passages prompt, redaction, and
answers and runs stored before these types existed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from answers import Answer, Question, SourceHit, Usage
from answers.choices import lettered_prompt, parse_letter
from answers.prompts import passages_messages
from answers.redact import redact, register_secret
from compare.runs_db import RunsDatabase
from compare.settings import CompareSettings, WorkbenchSettings
from rag.settings import RagSettings
from tuning.settings import TuningSettings


def test_usage_adds_up() -> None:
    total = Usage(prompt_tokens=400, completion_tokens=30) + Usage(embedding_tokens=9)
    assert total == Usage(prompt_tokens=400, completion_tokens=30, embedding_tokens=9)


def test_question_key_tells_dates_and_choices_apart() -> None:
    plain = Question(text="Who runs it?")
    assert plain.key() == "Who runs it?"  # earlier caches keyed plain questions by their text
    dated = Question(text="Who runs it?", as_of=date(2019, 1, 1))
    choices = Question(text="Who runs it?", choices=("Ann", "Bo"))
    assert len({plain.key(), dated.key(), choices.key()}) == 3


def test_an_answer_cached_before_usage_existed_still_loads() -> None:
    old = {"answerer": "tuned", "text": "x", "prompt_tokens": 12, "completion_tokens": 3}
    answer = Answer.model_validate(old)
    assert answer.usage == Usage(prompt_tokens=12, completion_tokens=3)


def test_passages_prompt_numbers_and_dates_every_source() -> None:
    sources = [
        SourceHit(record_id="fee-2", score=0.9, text="Pro costs 12 EUR.", as_of=date(2026, 7, 1)),
        SourceHit(record_id="fee-1", score=0.8, text="Pro costs 10 EUR."),
    ]
    system, user = passages_messages("What does Pro cost?", sources)
    assert "[1] (fee-2, as of 2026-07-01) Pro costs 12 EUR." in system["content"]
    assert "[2] (fee-1) Pro costs 10 EUR." in system["content"]
    assert user == {"role": "user", "content": "What does Pro cost?"}
    assert "(no sources found)" in passages_messages("q", [])[0]["content"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("B", 1), ("(c)", 2), ("Answer: A.", 0), ("D", None), ("B or C", None), ("", None)],
)
def test_letters_parse_strictly(reply: str, expected: int | None) -> None:
    assert parse_letter(reply, 3) == expected


def test_lettered_prompt_lists_every_choice() -> None:
    text = lettered_prompt("Which?", ["one", "two", "three"])
    assert "A. one\nB. two\nC. three" in text and "(A, B or C)" in text


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: Bearer abc.DEF-123_456",
        "invalid key sk-proj-AbCdEf0123456789",
        "query ?api_key=zz9-secret-value",
        "the key was my-configured-key-42 exactly",
    ],
)
def test_redaction_removes_keys_and_key_shaped_strings(leak: str) -> None:
    register_secret("my-configured-key-42")
    out = redact(leak)
    for secret in (
        "abc.DEF-123_456",
        "sk-proj-AbCdEf0123456789",
        "zz9-secret-value",
        "my-configured-key-42",
    ):
        assert secret not in out
    assert "[redacted]" in out


def test_history_written_before_the_run_record_still_reads(tmp_path: Path) -> None:
    db = RunsDatabase(tmp_path / "runs.sqlite")
    flat = {
        "verdict": "keep_rag",
        "rag.token_f1": 0.8,
        "rag.token_f1.unseen": 0.7,
        "tuned.token_f1": 0.4,
    }
    db._db.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
        (
            "r1",
            datetime(2026, 5, 1, tzinfo=UTC).isoformat(),
            "demo",
            '["rag", "tuned"]',
            json.dumps(flat),
        ),
    )
    (run,) = db.runs()
    assert run.verdict == "keep_rag" and run.headline == {"rag": 0.8, "tuned": 0.4}
    assert run.headline_unseen == {"rag": 0.7}


def test_one_work_folder_moves_every_derived_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAGORTUNE_WORK_DIR", str(tmp_path / "w"))
    rag, tuning = RagSettings(_env_file=None), TuningSettings(_env_file=None)
    assert rag.work_dir == tmp_path / "w" / "index"
    assert (tuning.adapters_dir, tuning.jobs_dir) == (
        tmp_path / "w" / "adapters",
        tmp_path / "w" / "jobs",
    )
    monkeypatch.setenv("RAG_WORK_DIR", str(tmp_path / "elsewhere"))
    assert RagSettings(_env_file=None).work_dir == tmp_path / "elsewhere"  # still overridable
    monkeypatch.delenv("RAG_WORK_DIR")
    settings = WorkbenchSettings(
        compare=CompareSettings(_env_file=None), rag=rag, tuning=tuning
    ).with_overrides(work_dir=tmp_path / "moved")
    assert settings.rag.work_dir == tmp_path / "moved" / "index"
    assert settings.tuning.jobs_dir == tmp_path / "moved" / "jobs"
