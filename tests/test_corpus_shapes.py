"""The corpora teams really have: text parts under `value`, tool calls, preference data, media,
JSON arrays and long documents, each with the records and warnings written out from the fixture."""

from __future__ import annotations

import json

import pytest

from corpus import Format, StrictModeError, content_hash, load_corpus
from corpus.export import TARGETS, export_records, write_export
from corpus.report import summarise
from tests.conftest import ROOT

SHAPES = ROOT / "tests" / "data" / "shapes"

# file -> [(id, format, question, answer, line)], [(line, reject code)], warning codes, counts
# (valid, rejected, skipped), dropped — all written by reading the fixture files.
CASES: dict[
    str,
    tuple[
        list[tuple[str, Format, str, str, int]],
        list[tuple[int, str]],
        set[str],
        tuple[int, int, int],
        dict[str, int],
    ],
] = {
    "value_parts.jsonl": (
        [
            (
                "vp-1",
                Format.CHAT,
                "When is the reservoir inspected?",
                "Every second Tuesday of March.",
                1,
            ),
            ("vp-2", Format.CHAT, "Какой объём у резервуара Орин-2?", "48 000 кубометров.", 2),
        ],
        [],
        set(),
        (2, 0, 0),
        {},
    ),
    "tools_openai.jsonl": (
        [
            (
                "to-1",
                Format.CHAT,
                "Is room B-214 free on 2034-05-09?",
                "B-214 is taken on 9 May; it is free again on 11 May.",
                1,
            ),
            (
                "to-2",
                Format.CHAT,
                "Compare the seating of halls C-1 and C-2.",
                "C-1 seats 120 people, C-2 seats 86.",
                2,
            ),
            (
                "to-3",
                Format.CHAT,
                "Who runs the Vellmar front desk?",
                "Saskia Brandt runs it on weekdays.",
                3,
            ),
        ],
        [],
        set(),
        (3, 0, 0),
        {},
    ),
    "tools_sharegpt.jsonl": (
        [
            (
                "ts-1",
                Format.SHAREGPT,
                "Is room B-214 free on 2034-05-09?",
                "B-214 is taken on 9 May; it is free again on 11 May.",
                1,
            ),
            (
                "ts-2",
                Format.SHAREGPT,
                "Book B-214 for 2034-05-11, 10:00 to 12:00.",
                'book_room({"end":"2034-05-11T12:00","room":"B-214","start":"2034-05-11T10:00"})',
                2,
            ),
        ],
        [],
        set(),
        (2, 0, 0),
        {},
    ),
    "dpo.jsonl": (
        [
            (
                "dp-1",
                Format.DPO,
                "How long is the warranty on a Tarvo T9 kettle?",
                "Three years from the date of purchase.",
                1,
            ),
            (
                "dp-2",
                Format.DPO,
                "Can a Tarvo T9 boil 2 litres?",
                "No: it holds 1.7 litres at most.",
                2,
            ),
            (
                "dp-3",
                Format.DPO,
                "Which descaler suits the T9?",
                "Citric-acid descaler, once a month.",
                3,
            ),
            (
                "dp-4",
                Format.DPO,
                "Is the T9 lid dishwasher-safe?",
                "Rinse it by hand; the seal warps in a dishwasher.",
                4,
            ),
            (
                "dp-5",
                Format.DPO,
                "Summarise the T9 recall notice.",
                "Week-14 units of 2032 can leak at the spout and are recalled.",
                5,
            ),
            (
                "dp-7",
                Format.DPO,
                "Does the T9 switch itself off?",
                "Yes, 30 seconds after the water boils.",
                7,
            ),
        ],
        [],
        {"dpo_rejected", "preference_repeat"},
        (6, 0, 1),
        {"dpo_rejected": 7, "preference_repeats": 1},
    ),
    "kto.jsonl": (
        [
            (
                "kt-1",
                Format.KTO,
                "What voltage does the Lumo desk lamp need?",
                "110-240 V, with the supplied adapter.",
                1,
            ),
            ("kt-3", Format.KTO, "Does the Lumo lamp dim?", "Yes, in five steps.", 3),
            (
                "kt-5",
                Format.KTO,
                "Где купить лампу Lumo?",
                "В магазинах сети «Светоч» и на сайте производителя.",
                5,
            ),
        ],
        [],
        {"kto_undesirable"},
        (3, 0, 2),
        {"kto_undesirable": 2},
    ),
    "multimodal.jsonl": (
        [
            (
                "mm-1",
                Format.CHAT,
                "Which valve is shown on this diagram?",
                "The pressure-relief valve PRV-3.",
                1,
            ),
            (
                "mm-2",
                Format.CHAT,
                "Compare the two gauges: ",
                "The left gauge reads 2.1 bar, the right one 3.4 bar.",
                2,
            ),
            (
                "mm-3",
                Format.CHAT,
                "What torque does bolt M12 need on the PRV-3 flange?",
                "85 Nm, tightened crosswise.",
                3,
            ),
        ],
        [(4, "empty_field")],
        {"media_dropped"},
        (3, 1, 0),
        {"media": 3},
    ),
}
# the words of every answer that must never become a record (DPO rejected, KTO undesirable)
NEVER = {
    "dpo.jsonl": [
        "Lifetime, no questions asked",
        "up to 3 litres",
        "Bleach works best",
        "Sure, any cycle",
        "Nothing is wrong with the T9",
        "Absolutely, 5 litres",
        "Only if you unplug it",
    ],
    "kto.jsonl": ["any car battery", "на рынке по воскресеньям"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_shape_loads_into_the_expected_records(name: str) -> None:
    records, rejects, warnings, counts, dropped = CASES[name]
    report = load_corpus(SHAPES / name)
    got = [(r.id, r.format, r.question, r.answer, r.source.line) for r in report.records]
    assert got == records
    assert [(r.line, r.code) for r in report.rejects] == rejects
    assert {w.code for w in report.warnings} == warnings
    (file,) = report.files
    assert (file.valid, file.rejected, file.skipped) == counts and file.balanced
    assert file.dropped == dropped


@pytest.mark.parametrize("name", sorted(NEVER))
def test_dropped_preference_answers_are_in_no_record_and_no_export(name: str, tmp_path) -> None:
    records = load_corpus(SHAPES / name).records
    dumped = json.dumps([r.model_dump(mode="json") for r in records], ensure_ascii=False)
    exported = ""
    for target in TARGETS:
        out = tmp_path / f"{target}.jsonl"
        write_export(records, target, out, keep_meta=True)
        exported += out.read_text(encoding="utf-8")
    assert exported  # every record exported somewhere
    for words in NEVER[name]:
        assert words not in dumped and words not in exported


def test_warnings_name_the_format_and_the_count() -> None:
    dpo = {w.code: w.message for w in load_corpus(SHAPES / "dpo.jsonl").warnings}
    assert dpo["dpo_rejected"].startswith("DPO: 7 rejected answer(s) dropped")
    kto = {w.code: w for w in load_corpus(SHAPES / "kto.jsonl").warnings}
    assert kto["kto_undesirable"].message.startswith("KTO: 2 undesirable answer(s) dropped")
    assert "lines 2, 4" in kto["kto_undesirable"].message
    media = {w.code: w.message for w in load_corpus(SHAPES / "multimodal.jsonl").warnings}
    assert media["media_dropped"].startswith(
        "3 image/audio/video item(s) dropped from 2 line(s): 1, 2"
    )


def test_the_report_counts_what_was_dropped() -> None:
    summary = summarise(load_corpus([SHAPES / "dpo.jsonl", SHAPES / "kto.jsonl"]))
    assert summary.dropped == {"dpo_rejected": 7, "preference_repeats": 1, "kto_undesirable": 2}
    assert (summary.records, summary.skipped) == (9, 3)


def test_tool_turns_are_kept_and_hash_alike_across_formats() -> None:
    openai = load_corpus(SHAPES / "tools_openai.jsonl").records
    sharegpt = load_corpus(SHAPES / "tools_sharegpt.jsonl").records
    # the first line of each file is the same conversation written in two trainers' formats
    assert openai[0].content_hash == sharegpt[0].content_hash
    roles = [m.role for m in openai[0].messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    (call,) = openai[0].messages[2].tool_calls
    assert (call.name, json.loads(call.arguments), call.id) == (
        "room_status",
        {"room": "B-214", "day": "2034-05-09"},
        "call_7",
    )
    assert openai[0].messages[3].tool_call_id == "call_7"
    assert [c.name for c in openai[1].messages[1].tool_calls] == ["hall_seats", "hall_seats"]
    assert json.loads(openai[2].tools or "")[0]["name"] == "room_status"
    assert all(r.has_tools for r in openai + sharegpt)
    assert openai[0].content_hash == content_hash(openai[0].chat(), tools=openai[0].tools)


@pytest.mark.parametrize("target", ["openai", "sharegpt", "trl-conversational"])
def test_tool_chats_round_trip_through_targets_that_hold_tools(target: str, tmp_path) -> None:
    records = load_corpus([SHAPES / "tools_openai.jsonl", SHAPES / "tools_sharegpt.jsonl"]).records
    result = write_export(records, target, tmp_path / "out.jsonl", keep_meta=True)
    assert not result.problems
    again = {r.id: r for r in load_corpus(tmp_path / "out.jsonl").records}
    for original in records:
        assert again[original.id].content_hash == original.content_hash
        assert again[original.id].answer == original.answer


@pytest.mark.parametrize("target", ["alpaca", "gemini", "trl-prompt-completion", "text"])
def test_targets_without_tools_list_tool_chats_as_not_convertible(target: str) -> None:
    records = load_corpus(SHAPES / "tools_openai.jsonl").records
    result = export_records(records, target)
    assert not result.lines
    assert {p.record_id for p in result.problems} == {"to-1", "to-2", "to-3"}
    assert all("tool" in p.reason for p in result.problems)


def test_a_json_array_is_read_leniently_with_each_elements_line() -> None:
    report = load_corpus(SHAPES / "alpaca_array.json")
    assert [(r.source.line, r.question, r.answer) for r in report.records] == [
        (2, "Name the river that feeds Lake Orrin.", "The Sable."),
        (7, "How long is the Sable?", "About 212 km."),
        (16, "Translate 'watershed' into German.", "Wasserscheide"),
    ]
    # Alpaca's history becomes earlier turns
    assert [m.content for m in report.records[1].messages] == [
        "Name the river that feeds Lake Orrin.",
        "The Sable.",
        "How long is the Sable?",
        "About 212 km.",
    ]
    assert [(r.line, r.code) for r in report.rejects] == [(15, "not_object")]
    (warning,) = report.warnings
    assert warning.code == "json_array" and "python -m corpus fix" in warning.hint
    (file,) = report.files
    assert (file.layout, file.entries, file.lines, file.balanced) == ("json_array", 4, 20, True)


def test_strict_mode_rejects_a_json_array_as_before() -> None:
    with pytest.raises(StrictModeError) as caught:
        load_corpus(SHAPES / "alpaca_array.json", strict=True)
    assert [(r.line, r.code) for r in caught.value.report.rejects] == [(0, "json_array")]


def test_a_long_document_loads_and_is_flagged_only_against_a_platform_limit(tmp_path) -> None:
    sentence = (
        "Clause {n}: the lessee of warehouse unit {n} keeps the loading bay clear after 18:00. "
    )
    document = "".join(sentence.format(n=n) for n in range(450))
    assert len(document) > 37_629  # longer than the document the old character limit refused
    path = tmp_path / "lease.jsonl"
    path.write_text(json.dumps({"id": "lease", "text": document}) + "\n", encoding="utf-8")
    report = load_corpus(path)
    assert report.ok and report.records[0].text == document
    default = summarise(report)
    assert default.over_limit_count == 0 and default.limit.tokens == 65_536
    from corpus.limits import custom_limit

    strict = summarise(report, limit=custom_limit(1_000))
    assert (strict.over_limit_count, strict.over_limit) == (1, ["lease"])
