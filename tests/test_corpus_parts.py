"""Content parts as LLaMA-Factory v1 writes them: reasoning kept out of the answer, `tool_call`
parts read as tool calls, so its tool-use chats load whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpus import load_corpus
from corpus.export import write_export
from tests.conftest import ROOT

V1 = ROOT / "tests" / "data" / "shapes" / "llamafactory_v1_tools.jsonl"


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in V1.read_text(encoding="utf-8").splitlines()]


def _parts(line: dict[str, Any], kind: str) -> list[str]:
    return [p["value"] for m in line["messages"] for p in m["content"] if p.get("type") == kind]


def _write(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "chats.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def test_every_line_of_the_v1_tool_use_file_loads() -> None:
    lines = _lines()
    report = load_corpus(V1)
    assert (len(lines), len(report.records), report.rejects) == (50, 50, [])
    (file,) = report.files
    assert (file.valid, file.rejected, file.balanced) == (50, 0, True)
    # the answer is the final reply's text parts, as the file writes them
    expected = [
        "".join(p["value"] for p in x["messages"][-1]["content"] if p["type"] == "text")
        for x in lines
    ]
    assert [r.answer for r in report.records] == expected
    assert [r.question for r in report.records] == [
        x["messages"][1]["content"][0]["value"] for x in lines
    ]


def test_reasoning_is_never_the_answer_nor_a_turn_and_is_counted() -> None:
    lines = _lines()
    report = load_corpus(V1)
    reasoning = [text for x in lines for text in _parts(x, "reasoning")]
    assert len(reasoning) == 75  # one per assistant turn: 28 + 22 final replies + 25 calling turns
    said = " ".join(
        f"{r.answer} {r.prompt_text()} " + " ".join(m.content for m in r.chat())
        for r in report.records
    )
    assert not [text for text in set(reasoning) if text in said]
    (warning,) = report.warnings
    assert warning.code == "reasoning_dropped" and warning.message.startswith(
        "75 reasoning part(s) dropped from 50 line(s)"
    )
    assert report.files[0].dropped == {"reasoning": 75}


def test_tool_call_parts_are_tool_calls() -> None:
    lines = _lines()
    records = load_corpus(V1).records
    calling = [r for r in records if any(m.tool_calls for m in r.messages)]
    assert len(calling) == 22 == sum(bool(_parts(x, "tool_call")) for x in lines)
    for record, line in zip(records, lines, strict=True):
        written = [json.loads(v) for v in _parts(line, "tool_call")]
        read = [c for m in record.messages for c in m.tool_calls]
        assert [(c.name, json.loads(c.arguments)) for c in read] == [
            (w["name"], w["arguments"]) for w in written
        ]
        assert [m.role for m in record.messages].count("tool") == len(written)
    # a call beside text keeps the text on its turn
    beside = next(r for r in calling if any(m.tool_calls and m.content for m in r.messages))
    assert beside.question == "Look up 'Saltmarsh Diaries' for me."
    assert all(json.loads(r.tools or "")[0]["name"] == "catalogue_search" for r in records)


def test_a_v1_chat_hashes_like_the_same_chat_with_openai_tool_calls(tmp_path: Path) -> None:
    v1 = next(x for x in _lines() if len(_parts(x, "tool_call")) == 2)
    openai: list[dict[str, Any]] = []
    for m in v1["messages"]:
        text = "".join(p["value"] for p in m["content"] if p["type"] == "text")
        calls = [json.loads(v) for v in _parts({"messages": [m]}, "tool_call")]
        if calls:
            openai.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": json.dumps(c["arguments"]),
                            },
                        }
                        for c in calls
                    ],
                }
            )
        else:
            openai.append({"role": m["role"], "content": text})
    path = _write(tmp_path, {"messages": openai, "tools": json.loads(v1["tools"])})
    (from_openai,) = load_corpus(path).records
    (from_v1,) = [r for r in load_corpus(V1).records if r.question == from_openai.question]
    assert from_v1.content_hash == from_openai.content_hash
    assert from_v1.messages == from_openai.messages


@pytest.mark.parametrize("target", ["openai", "sharegpt", "trl-conversational"])
def test_v1_chats_export_and_read_back_alike(target: str, tmp_path: Path) -> None:
    records = load_corpus(V1).records
    result = write_export(records, target, tmp_path / "out.jsonl")
    beside = {r.id for r in records if any(m.tool_calls and m.content for m in r.messages)}
    # ShareGPT holds a turn's text or its call, not both: the two such chats say so
    assert {p.record_id for p in result.problems} == (beside if target == "sharegpt" else set())
    again = load_corpus(tmp_path / "out.jsonl").records
    kept = [r for r in records if r.id not in {p.record_id for p in result.problems}]
    assert [r.content_hash for r in again] == [r.content_hash for r in kept]


def test_reasoning_beside_the_content_is_counted_too(tmp_path: Path) -> None:
    line = {
        "messages": [
            {"role": "user", "content": "How late is Mill Street open on Fridays?"},
            {
                "role": "assistant",
                "content": "Until 20:00.",
                "reasoning_content": "Friday hours are on the timetable.",
            },
        ]
    }
    gemini = {
        "contents": [
            {"role": "user", "parts": [{"text": "Is Eastgate open on Sundays?"}]},
            {
                "role": "model",
                "parts": [{"text": "Sunday closures apply.", "thought": True}, {"text": "No."}],
            },
        ]
    }
    report = load_corpus(_write(tmp_path, line, gemini))
    assert [r.answer for r in report.records] == ["Until 20:00.", "No."]
    assert report.files[0].dropped == {"reasoning": 2}


ASK = {"role": "user", "content": "Hours?"}
REPLY = {"role": "assistant", "content": "Until 20:00."}


@pytest.mark.parametrize(
    ("messages", "code", "says"),
    [
        (
            [
                {"role": "user", "content": [{"type": "tool_call", "value": '{"name": "f"}'}]},
                REPLY,
            ],
            "bad_tool_call",
            "message 1 is a user turn with a tool_call part",
        ),
        (
            [ASK, {"role": "assistant", "content": [{"type": "tool_call", "value": "f(x)"}]}],
            "bad_tool_call",
            "message 2 is a function call but not JSON with a name",
        ),
        (
            [ASK, {"role": "assistant", "content": [{"type": "reasoning", "value": "Policy."}]}],
            "empty_answer",
            "an assistant turn is empty",
        ),
        (
            [
                ASK,
                {"role": "assistant", "content": [{"type": "tool_call", "value": '{"name": "f"}'}]},
                REPLY,
            ],
            "role_order",
            "roles out of order: user -> assistant (tool call) -> assistant",
        ),
    ],
)
def test_bad_parts_are_rejected_with_what_is_wrong(
    messages: list[dict[str, Any]], code: str, says: str, tmp_path: Path
) -> None:
    (reject,) = load_corpus(_write(tmp_path, {"messages": messages})).rejects
    assert (reject.code, reject.message) == (code, says) and reject.hint


def test_a_rejected_answer_in_v1_parts_is_checked_as_text(tmp_path: Path) -> None:
    pair = {
        "prompt": [{"role": "user", "content": "Can I renew by phone?"}],
        "chosen": [{"role": "assistant", "content": [{"type": "text", "value": "Yes."}]}],
        "rejected": [{"role": "assistant", "content": [{"type": "text", "value": "Never."}]}],
    }
    only_reasoning = pair | {
        "rejected": [{"role": "assistant", "content": [{"type": "reasoning", "value": "Hmm."}]}]
    }
    report = load_corpus(_write(tmp_path, pair, only_reasoning))
    assert [r.answer for r in report.records] == ["Yes."]
    assert [(r.line, r.code) for r in report.rejects] == [(2, "empty_field")]
