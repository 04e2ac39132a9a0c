"""Pure pieces of the tuned side: paraphrases, token-F1, the manifest, length bucketing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from corpus.record import Format, Record, SourceRef
from tuning.data import Example, batches_by_length, select_records, with_question
from tuning.manifest import TrainedRecord, TuningManifest
from tuning.paraphrase import is_russian, paraphrases
from tuning.settings import TuningSettings


def record(
    rid: str, as_of: str | None, question: str = "Q?", answer: str = "A.", text: str | None = None
) -> Record:
    fmt = Format.TEXT if text else Format.PROMPT_COMPLETION
    return Record(
        id=rid, format=fmt, question=None if text else question, answer=None if text else answer,
        text=text, as_of=date.fromisoformat(as_of) if as_of else None,
        source=SourceRef(file="f.jsonl", line=1), content_hash=f"h-{rid}-{answer}",
    )  # fmt: skip


def test_the_probe_scores_with_the_comparisons_token_f1() -> None:
    from answers import metrics
    from tuning import probe

    assert probe.token_f1 is metrics.token_f1  # one definition: probe and eval never disagree


@pytest.mark.parametrize(
    ("question", "russian"),
    [("What is the price of the Atlas kettle?", False), ("Сколько стоит чайник Атлас?", True)],
)
def test_paraphrases_keep_the_question_and_its_language(question: str, russian: bool) -> None:
    variants = paraphrases(question, 3, seed=1)
    assert len(variants) == len(set(variants)) == 3
    assert all(question in v or question[1:] in v for v in variants)
    assert all(is_russian(v) == russian for v in variants)
    assert paraphrases(question, 0) == [] and paraphrases("", 2) == []
    assert paraphrases(question, 2, seed=0) != paraphrases(question, 2, seed=1)


def test_paraphrased_question_keeps_the_context() -> None:
    rec = Record(id="r", format=Format.INSTRUCTION, question="Price?", context="Catalogue 2026", answer="49",
                 source=SourceRef(file="f", line=1), content_hash="h")  # fmt: skip
    turns = with_question(rec.chat(), "Tell me: Price?")
    assert turns[0].content == "Tell me: Price?\n\nCatalogue 2026"
    assert turns[1].content == "49"


def test_select_records_honours_the_cutoff_and_keeps_text() -> None:
    records = [record("a", "2026-03-01"), record("b", "2026-07-01"), record("c", None),
               record("t", "2026-01-01", text="Founded in 2011.")]  # fmt: skip
    assert [r.id for r in select_records(records, date(2026, 3, 31))] == ["a", "c", "t"]


def test_batches_group_similar_lengths() -> None:
    examples = [Example(str(n), [1] * n, [1] * n) for n in (50, 3, 48, 5, 49, 4)]
    batches = batches_by_length(examples, 3)
    assert [[len(e.input_ids) for e in b] for b in batches] == [[3, 4, 5], [48, 49, 50]]


def manifest(**values: Any) -> TuningManifest:
    trained_at = datetime(2026, 4, 1, tzinfo=UTC)
    return TuningManifest(base_model="SmolLM2-135M-Instruct", trained_at=trained_at, **values)


def test_manifest_knows_records_by_content(tmp_path: Path) -> None:
    old, changed, new = (
        record("a", "2026-03-01"),
        record("a", "2026-09-01", answer="B."),
        record("n", "2026-09-01"),
    )
    m = manifest(
        data_cutoff=date(2026, 3, 31),
        records=[TrainedRecord(id="a", content_hash=old.content_hash)],
    )
    assert m.knows(old) and not m.knows(changed) and not m.knows(new)
    assert m.known_record_ids() == {"a"}
    m.save(tmp_path)
    assert TuningManifest.load(tmp_path) == m
    assert TuningManifest.load(tmp_path / "tuning_manifest.json").knowledge_cutoff == date(
        2026, 3, 31
    )


def test_remote_manifest_knows_by_declared_cutoff() -> None:
    m = manifest(
        provider="openai", remote_model="ft:gpt-4o-mini:x", declared_cutoff=date(2026, 3, 31)
    )
    assert m.knows(record("a", "2026-03-01")) and not m.knows(record("b", "2026-04-01"))
    assert not m.knows(record("c", None))
    assert not manifest().knows(record("a", "2026-03-01"))  # nothing declared: nothing known


def test_settings_read_the_tuning_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNING_MODEL", "ft:gpt-4o-mini:acme")
    monkeypatch.setenv("TUNING_TIMEOUT", "7.5")
    monkeypatch.setenv("TUNING_API_KEY", "sk-secret")
    s = TuningSettings(_env_file=None)
    assert (s.model, s.timeout) == ("ft:gpt-4o-mini:acme", 7.5)
    assert s.api_key.get_secret_value() == "sk-secret" and "sk-secret" not in repr(s)


def test_a_tool_chat_trains_on_its_question_and_final_answer_only() -> None:
    """The template cannot render tool calls: without this, a turn that only calls a tool would
    be trained as an empty assistant reply."""
    from corpus import load_corpus
    from tests.conftest import ROOT
    from tuning.data import trainable_turns

    for name in ("tools_openai.jsonl", "tools_sharegpt.jsonl"):
        records = [
            r for r in load_corpus(ROOT / "tests" / "data" / "shapes" / name).records if r.has_tools
        ]
        assert records, name
        for record in records:
            turns = trainable_turns(record)
            assert [t.role for t in turns if t.role != "system"] == ["user", "assistant"]
            assert turns[-1].content == record.answer and record.answer
            assert all(t.content.strip() for t in turns)


@pytest.mark.parametrize(("env", "threads"), [({"OMP_NUM_THREADS": "1"}, "1"), ({}, "cpus")])
def test_the_cpu_device_keeps_an_explicit_thread_count(env: dict[str, str], threads: str) -> None:
    """OMP_NUM_THREADS set: the trainer and the server keep it; unset: every core."""
    import os
    import subprocess
    import sys

    code = (
        "import os, torch; from tuning.model import pick_device; pick_device(); "
        "print(torch.get_num_threads(), os.cpu_count())"
    )
    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env, "PYTHONPATH": root, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == (out[1] if threads == "cpus" else threads)
