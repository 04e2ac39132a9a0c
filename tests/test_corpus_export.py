"""Exports follow each platform's rules, report what they cannot convert, and round-trip."""

from __future__ import annotations

import json

import pytest

from corpus import ExportError, Format, load_corpus
from corpus.export import TARGETS, export_records, write_export
from tests.conftest import FORMATS_DIR

ALL = sorted(p for p in FORMATS_DIR.glob("*.jsonl"))

# target -> formats of records it must refuse (written from each platform's rules)
REFUSED = {
    "openai": {"tx-1"},  # plain text has no assistant message
    "gemini": {"tx-1"},
    "alpaca": {"tx-1", "cm-1"},  # one exchange only
    "sharegpt": {"tx-1"},
    "trl-prompt-completion": {"tx-1", "cm-1", "cs-1", "gm-1"},  # strings: no turns, no system
    "trl-conversational": {"tx-1"},
    "text": set(),
}


@pytest.fixture(scope="module")
def records():
    report = load_corpus(ALL)
    assert report.ok
    return report.records


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_round_trip(target: str, records, tmp_path) -> None:
    out = tmp_path / f"{target}.jsonl"
    result = write_export(records, target, out, keep_meta=True)
    assert {p.record_id for p in result.problems} == REFUSED[target]
    reloaded = load_corpus(out)
    assert reloaded.ok, reloaded.rejects
    exported = [r for r in records if r.id not in REFUSED[target]]
    assert len(reloaded.records) == len(exported)
    back = {r.id: r for r in reloaded.records}
    for original in exported:
        again = back[original.id]
        assert again.as_of == original.as_of
        if target == "text" and original.format is not Format.TEXT:
            # plain text renders QA as "Question: … / Answer: …": the words survive, the turns do not
            assert again.text and (original.answer or original.label or "") in again.text
        else:
            assert again.content_hash == original.content_hash
            assert again.chat() == original.chat()


def test_openai_lines_follow_its_rules(records) -> None:
    result = export_records(records, "openai")
    for line in result.lines:
        messages = json.loads(line)["messages"]
        assert messages[-1]["role"] == "assistant"
        assert all(set(m) == {"role", "content"} and m["content"] for m in messages)
    (problem,) = result.problems
    assert "assistant" in problem.reason and problem.source.file.endswith("text.jsonl")


def test_gemini_uses_model_role_and_system_instruction(records) -> None:
    lines = [json.loads(line) for line in export_records(records, "vertex").lines]
    with_system = [line for line in lines if "systemInstruction" in line]
    assert with_system and all(
        c["role"] in {"user", "model"} for line in lines for c in line["contents"]
    )


def test_without_keep_meta_lines_carry_only_the_target_keys(records) -> None:
    (vertex,) = [r for r in records if r.id == "vx-1"]
    line = json.loads(export_records([vertex], "alpaca").lines[0])
    assert set(line) == {"instruction", "input", "output"}


def test_unknown_target_is_a_clear_error(records) -> None:
    with pytest.raises(ExportError, match="choose one of"):
        export_records(records, "excel")
