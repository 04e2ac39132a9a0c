"""Every seed format and alias loads into the same normalised Record."""

from __future__ import annotations

from datetime import date

import pytest

from corpus import Format, content_hash, current_records, load_corpus
from corpus.record import Message
from tests.conftest import FORMATS_DIR

# file -> (format, first record's id, question, answer) — expected values written from the files
CASES = {
    "prompt_completion.jsonl": (Format.PROMPT_COMPLETION, "pc-1", "Столица Франции?", "Париж"),
    "instruction_output.jsonl": (
        Format.INSTRUCTION,
        "io-1",
        "Переведи следующий текст на английский.",
        "Hello, world!",
    ),
    "instruction_output_text.jsonl": (
        Format.INSTRUCTION,
        "iot-1",
        "Суммируй числа от 1 до 10.",
        "55",
    ),
    "instruction_response.jsonl": (
        Format.INSTRUCTION,
        "ir-1",
        "Name the capital of Italy.",
        "Rome",
    ),
    "vertex.jsonl": (
        Format.VERTEX,
        "vx-1",
        "Напиши слоган для кофейни 'Утренний Луч'",
        "Утренний Луч: Начни свой день с идеальной чашки!",
    ),
    "chat_single.jsonl": (
        Format.CHAT,
        "ch-1",
        "Какая столица Франции?",
        "Столица Франции - Париж.",
    ),
    "chat_system.jsonl": (Format.CHAT, "cs-1", "Привет, как дела?", "Привет! Чем могу помочь?"),
    "chat_multi.jsonl": (
        Format.CHAT,
        "cm-1",
        "Tell a joke.",
        "Why do programmers mix up Halloween and Christmas? Because Oct 31 == Dec 25.",
    ),
    "chat_parts.jsonl": (Format.CHAT, "cp-1", "What is 2+2?", "4"),
    "gemini.jsonl": (Format.GEMINI, "gm-1", "Largest planet?", "Jupiter."),
    "sharegpt.jsonl": (Format.SHAREGPT, "sg-1", "Best season in Karelia?", "Summer."),
    "trl_conversational.jsonl": (Format.CHAT, "tc-1", "What colour is the sky?", "Blue."),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_qa_format_normalises(name: str) -> None:
    fmt, rid, question, answer = CASES[name]
    report = load_corpus(FORMATS_DIR / name)
    assert report.ok, report.rejects
    record = report.records[0]
    assert (record.format, record.id, record.question, record.answer) == (
        fmt,
        rid,
        question,
        answer,
    )
    assert record.source.line == 1 and record.source.file.endswith(name)
    assert record.chat()[-1] == Message(role="assistant", content=answer)
    assert record.content_hash == content_hash(record.chat())


def test_instruction_input_becomes_context() -> None:
    record = load_corpus(FORMATS_DIR / "instruction_output.jsonl").records[0]
    assert record.context == "Привет, мир!"
    assert record.chat()[0].content == "Переведи следующий текст на английский.\n\nПривет, мир!"
    empty_input = load_corpus(FORMATS_DIR / "instruction_output.jsonl").records[1]
    assert empty_input.context is None


def test_system_prompts_are_kept() -> None:
    chat = load_corpus(FORMATS_DIR / "chat_system.jsonl").records[0]
    gemini = load_corpus(FORMATS_DIR / "gemini.jsonl").records[0]
    assert chat.system == "Ты - полезный ассистент."
    assert gemini.system == "Answer briefly."
    assert [m.role for m in gemini.chat()] == ["system", "user", "assistant"]


def test_multi_turn_keeps_every_turn() -> None:
    record = load_corpus(FORMATS_DIR / "chat_multi.jsonl").records[0]
    assert [m.role for m in record.messages] == ["user", "assistant", "user", "assistant"]
    assert record.messages[0].content == "Hi!"


def test_plain_text_and_classification() -> None:
    text = load_corpus(FORMATS_DIR / "text.jsonl").records[0]
    assert text.format is Format.TEXT and text.text and text.text.startswith("Однажды")
    assert text.chat() == [] and not text.is_qa
    labelled = load_corpus(FORMATS_DIR / "classification.jsonl").records
    assert [(r.format, r.label) for r in labelled] == [
        (Format.CLASSIFICATION, "положительный"),
        (Format.CLASSIFICATION, "отрицательный"),
    ]
    assert labelled[0].chat()[-1].content == "положительный"


def test_same_content_in_two_formats_hashes_alike() -> None:
    # the prompt/completion in the seed and the same exchange as a chat teach the same thing
    pc = load_corpus(FORMATS_DIR / "prompt_completion.jsonl").records[0]
    as_chat = content_hash(
        [
            Message(role="user", content="Столица Франции?"),
            Message(role="assistant", content="Париж"),
        ]
    )
    assert pc.content_hash == as_chat


def test_ids_explicit_or_content_hash() -> None:
    records = load_corpus(FORMATS_DIR / "prompt_completion.jsonl").records
    assert records[0].id == "pc-1"
    assert records[1].id == f"h-{records[1].content_hash[:16]}"
    again = load_corpus(FORMATS_DIR / "prompt_completion.jsonl").records
    assert again[1].id == records[1].id  # stable across loads


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (1, date(2026, 2, 3)),
        (2, date(2026, 2, 4)),
        (3, date(2026, 2, 5)),
        (4, date(2026, 2, 6)),
        (5, date(2026, 2, 7)),  # 1770422400 = 2026-02-07T00:00:00Z
        (6, None),
    ],
)
def test_every_date_key(line: int, expected: date | None) -> None:
    records = {r.source.line: r for r in load_corpus(FORMATS_DIR / "dated_keys.jsonl").records}
    assert records[line].as_of == expected


def test_extra_keys_are_kept_as_metadata() -> None:
    records = load_corpus(FORMATS_DIR / "dated_keys.jsonl").records
    assert records[-1].meta == {"source": "wiki", "lang": "ru"}


def test_file_name_date_is_the_batch(tmp_path) -> None:
    (tmp_path / "2026-05-01-news.jsonl").write_text(
        '{"prompt": "q", "completion": "a"}\n{"prompt": "q2", "completion": "a2", "as_of": "2026-04-01"}\n',
        encoding="utf-8",
    )
    records = load_corpus(tmp_path).records
    assert [(r.batch, r.as_of) for r in records] == [
        ("2026-05-01", date(2026, 5, 1)),
        ("2026-05-01", date(2026, 4, 1)),
    ]


def test_newer_record_with_same_id_replaces_older(tmp_path) -> None:
    (tmp_path / "2026-03-01-a.jsonl").write_text(
        '{"id": "price", "prompt": "Price?", "completion": "9 EUR"}\n', encoding="utf-8"
    )
    (tmp_path / "2026-09-01-b.jsonl").write_text(
        '{"id": "price", "prompt": "Price?", "completion": "12 EUR"}\n', encoding="utf-8"
    )
    report = load_corpus(tmp_path)
    assert len(report.records) == 2
    (current,) = current_records(report.records)
    assert current.answer == "12 EUR" and current.as_of == date(2026, 9, 1)
