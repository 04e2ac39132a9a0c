"""Every bad-input case gets a clear error (file, line, code, message, hint) and loses nothing valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus import StrictModeError, duplicates, load_corpus
from corpus.fix import fix_file
from tests.conftest import BAD_DIR, FORMATS_DIR

# file -> (expected rejects as (line, code), valid, blank, warning codes); written by reading the files.
# JSON arrays and pretty-printed objects are read leniently (a warning); --strict rejects them.
CASES: dict[str, tuple[list[tuple[int, str]], int, int, set[str]]] = {
    "invalid_json.jsonl": (
        [(3, "invalid_json"), (5, "invalid_json"), (6, "invalid_json")],
        3,
        0,
        set(),
    ),
    "json_array.json": ([], 2, 0, {"json_array"}),
    "multiline.json": ([], 1, 0, {"multiline_json"}),
    "bom.jsonl": ([], 2, 0, {"bom"}),
    "cp1251.jsonl": ([(2, "not_utf8")], 2, 0, set()),
    "blank_lines.jsonl": ([], 2, 3, {"blank_line"}),
    "not_object.jsonl": ([(2, "not_object"), (3, "not_object"), (4, "not_object")], 2, 0, set()),
    "unknown_shape.jsonl": ([(1, "unknown_shape"), (2, "unknown_shape")], 1, 0, set()),
    "missing_answer.jsonl": (
        [
            (1, "missing_answer"),
            (2, "missing_answer"),
            (3, "missing_answer"),
            (4, "missing_answer"),
        ],
        1,
        0,
        set(),
    ),
    "empty_answer.jsonl": (
        [(1, "empty_answer"), (2, "empty_answer"), (3, "empty_answer"), (4, "empty_answer")],
        1,
        0,
        set(),
    ),
    "wrong_type.jsonl": ([(n, "wrong_type") for n in range(1, 6)], 1, 0, set()),
    "unknown_role.jsonl": ([(1, "unknown_role"), (2, "unknown_role")], 1, 0, set()),
    "no_assistant.jsonl": ([(1, "no_assistant")], 1, 0, set()),
    "role_order.jsonl": ([(1, "role_order"), (2, "role_order"), (3, "role_order")], 1, 0, set()),
    "mixed_formats.jsonl": ([], 4, 0, {"mixed_formats"}),
    "duplicates.jsonl": ([(3, "duplicate"), (4, "duplicate")], 2, 0, set()),
    "long_line.jsonl": ([], 3, 0, set()),  # 40 kB is a long example, not a bad one
    "bad_date.jsonl": ([(1, "bad_date"), (2, "bad_date")], 2, 0, set()),
    # 4 KiB of seeded random bytes: one reject for the file, not a cp1251 guess per line
    "random_bytes.jsonl": ([(0, "binary")], 0, 0, set()),
    "utf16.jsonl": ([(0, "not_utf8")], 0, 0, set()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_reports_every_problem(name: str) -> None:
    expected, valid, blank, warnings = CASES[name]
    report = load_corpus(BAD_DIR / name)
    assert [(r.line, r.code) for r in report.rejects] == expected
    (counts,) = report.files
    assert (counts.valid, counts.blank) == (valid, blank)
    assert len(report.records) == valid
    assert {w.code for w in report.warnings} == warnings
    for reject in report.rejects:
        assert reject.file.endswith(name)
        assert reject.message and reject.hint
        assert f"{name}:{reject.line}: [{reject.code}]" in str(reject)


@pytest.mark.parametrize("name", sorted(CASES))
def test_counts_add_up(name: str) -> None:
    (counts,) = load_corpus(BAD_DIR / name).files
    data = (BAD_DIR / name).read_bytes()
    lines = data.count(b"\n") + (not data.endswith(b"\n"))  # JSON Lines breaks at \n only
    assert counts.lines == lines
    assert counts.valid + counts.rejected + counts.skipped == counts.entries
    if counts.layout == "jsonl":
        assert counts.entries + counts.blank == lines
    assert counts.balanced


@pytest.mark.parametrize(
    ("name", "code", "items"),
    [("json_array.json", "json_array", 2), ("multiline.json", "multiline_json", 1)],
)
def test_strict_mode_refuses_a_whole_json_file(name: str, code: str, items: int) -> None:
    with pytest.raises(StrictModeError) as caught:
        load_corpus(BAD_DIR / name, strict=True)
    report = caught.value.report
    assert [(r.line, r.code) for r in report.rejects] == [(0, code)]
    assert not report.records
    (counts,) = report.files
    assert (counts.entries, counts.rejected, counts.balanced) == (items, items, True)


def test_seed_invalid_line_gets_the_role_content_hint() -> None:
    reject = load_corpus(BAD_DIR / "invalid_json.jsonl").rejects[0]
    assert reject.line == 3
    assert '"role": "assistant", "content"' in reject.hint


def test_cp1251_is_recognised() -> None:
    (reject,) = load_corpus(BAD_DIR / "cp1251.jsonl").rejects
    assert "cp1251" in reject.message


def test_random_bytes_are_called_binary_not_cp1251() -> None:
    (reject,) = load_corpus(BAD_DIR / "random_bytes.jsonl").rejects
    assert reject.code == "binary" and "cp1251" not in reject.message
    (counts,) = load_corpus(BAD_DIR / "random_bytes.jsonl").files
    assert counts.rejected == counts.lines - counts.blank and counts.valid == 0


def test_a_binary_line_inside_a_text_file_is_one_binary_reject(tmp_path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = b'{"prompt": "Wer leitet den Hafen?", "completion": "Ines Okafor"}\n'
    path.write_bytes(good + bytes(range(128, 256)) + b"\n" + good.replace(b"Ines", b"Tomasz"))
    report = load_corpus(path)
    assert [(r.line, r.code) for r in report.rejects] == [(2, "binary")]
    assert len(report.records) == 2


def test_a_long_first_line_is_read_as_json_lines_not_parsed_as_one_document(
    tmp_path, monkeypatch
) -> None:
    import corpus.loader

    big = json.dumps(
        {"id": "memo", "text": "Inventory of the Sable depot, aisle by aisle. " * 2000}
    )
    rest = [
        json.dumps({"prompt": f"Aisle {n} holds?", "completion": f"{n * 40} crates"})
        for n in range(3)
    ]
    path = tmp_path / "depot.jsonl"
    path.write_text("\n".join([big, *rest]) + "\n", encoding="utf-8")
    seen: list[int] = []
    real = corpus.loader.json_document
    monkeypatch.setattr(
        corpus.loader, "json_document", lambda data: seen.append(len(data)) or real(data)
    )
    report = load_corpus(path)
    assert len(report.records) == 4 and report.ok and report.files[0].layout == "jsonl"
    assert not seen  # the file was streamed, never read whole to try it as one JSON value


def test_fix_re_encodes_utf16(tmp_path) -> None:
    out = tmp_path / "fixed.jsonl"
    result = fix_file(BAD_DIR / "utf16.jsonl", out)
    assert "re-encoded UTF-16 as UTF-8" in result.changes
    report = load_corpus(out)
    assert report.ok and [r.answer for r in report.records] == ["14,5 m", "Ines Okafor"]


def test_unknown_shape_lists_keys_and_nearest_format() -> None:
    first, second = load_corpus(BAD_DIR / "unknown_shape.jsonl").rejects
    assert "answer, question" in first.message
    assert "prompt_completion" in first.hint and "'question' -> 'prompt'" in first.hint
    assert "'Prompt' -> 'prompt'" in second.hint


def test_json_array_is_read_leniently_and_offers_the_conversion(tmp_path) -> None:
    report = load_corpus(BAD_DIR / "json_array.json")
    (warning,) = report.warnings
    assert "JSON array of 2 item(s)" in warning.message and "python -m corpus fix" in warning.hint
    # each record's line is the line its element starts on (written from the file)
    assert [(r.source.line, r.answer) for r in report.records] == [(2, "Париж"), (6, "4")]
    out = tmp_path / "fixed.jsonl"
    result = fix_file(BAD_DIR / "json_array.json", out)
    assert result.lines_written == 2
    report = load_corpus(out)
    assert report.ok and [r.answer for r in report.records] == ["Париж", "4"]


@pytest.mark.parametrize(
    "name", ["bom.jsonl", "cp1251.jsonl", "blank_lines.jsonl", "multiline.json"]
)
def test_fix_repairs_file_level_problems(name: str, tmp_path) -> None:
    out = tmp_path / "fixed.jsonl"
    fix_file(BAD_DIR / name, out)
    report = load_corpus(out)
    assert report.ok and not report.warnings
    assert len(report.records) == CASES[name][1] + len(
        [r for r in CASES[name][0] if r[1] != "duplicate"]
    )


def test_duplicate_names_the_first_copy() -> None:
    first = load_corpus(BAD_DIR / "duplicates.jsonl").rejects[0]
    assert first.message.endswith("duplicates.jsonl:1")


def test_duplicates_are_found_after_the_index_merges_into_its_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeats of lines read long before (merged out of the dict) and just before (still in it)."""
    monkeypatch.setattr(duplicates, "RECENT", 8)
    lines = [{"prompt": f"Price of plan {n}?", "completion": f"{n} EUR"} for n in range(40)]
    lines += [lines[3], lines[38], lines[17]]
    path = tmp_path / "2026-01-01-plans.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    report = load_corpus(path)
    assert [(r.line, r.code) for r in report.rejects] == [
        (41, "duplicate"), (42, "duplicate"), (43, "duplicate")
    ]  # fmt: skip
    assert [r.message.rsplit(":", 1)[1] for r in report.rejects] == ["4", "39", "18"]
    assert len(report.records) == 40


def test_the_ceiling_against_runaway_lines_is_configurable() -> None:
    report = load_corpus(BAD_DIR / "long_line.jsonl", max_line_bytes=1_000)
    assert [(r.line, r.code) for r in report.rejects] == [(2, "too_long")]
    size = len((BAD_DIR / "long_line.jsonl").read_bytes().split(b"\n")[1])
    assert f"{size:,} bytes" in report.rejects[0].message
    assert "--max-line-bytes" in report.rejects[0].hint
    assert len(report.records) == 2 and report.files[0].balanced


def test_strict_mode_fails_the_file_with_the_complete_list() -> None:
    paths = [BAD_DIR / "wrong_type.jsonl", FORMATS_DIR / "gemini.jsonl"]
    with pytest.raises(StrictModeError) as caught:
        load_corpus(paths, strict=True)
    report = caught.value.report
    assert len(report.rejects) == 5  # every reject, not the first
    assert {r.source.file for r in report.records} == {str(FORMATS_DIR / "gemini.jsonl")}


def test_lenient_mode_loads_valid_records_of_a_whole_bad_directory() -> None:
    report = load_corpus(BAD_DIR)
    assert report.records and report.rejects
    for counts in report.files:
        assert counts.balanced, counts
    json.dumps([r.model_dump() for r in report.rejects])  # rejects serialise for --json
