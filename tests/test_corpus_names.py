"""File names with control characters, separators or undecodable bytes are shown escaped in
every table and line the corpus CLI prints: one row per file, nothing hidden, nothing refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus import load_corpus
from corpus.cli import main

GOOD = b'{"prompt": "Where is berth 7?", "completion": "North pier."}\n'
BAD = b'{"prompt": "Where is berth 9?"}\n'


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    """A folder of files named with a newline, an escape sequence and a byte that is not UTF-8."""
    (tmp_path / "2026-03-01\nfaq.jsonl").write_bytes(GOOD)
    (tmp_path / "x\x1b[2Jwipe.jsonl").write_bytes(BAD)
    (tmp_path / "tab\there.jsonl").write_bytes(GOOD.replace(b"7", b"8"))
    os.close(
        os.open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.jsonl"), os.O_CREAT | os.O_WRONLY)
    )
    return tmp_path


def test_validate_prints_one_row_per_file_with_names_escaped(odd_names: Path, capsys) -> None:
    assert main(["validate", str(odd_names)]) == 1
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\t") and "\udce9" not in out
    lines = out.splitlines()
    assert len(lines) == 1 + 4 + 1 + 1  # header, four files, one reject, the verdict
    rows = lines[1:5]
    assert [row.split()[0].rsplit("/", 1)[-1] for row in rows] == [
        "2026-03-01\\nfaq.jsonl",
        "caf\\udce9.jsonl",
        "tab\\there.jsonl",
        "x\\x1b[2Jwipe.jsonl",
    ]
    assert len({len(row) - len(row.lstrip()) for row in rows}) == 1  # the columns line up
    assert (
        lines[5]
        .strip()
        .endswith(
            "x\\x1b[2Jwipe.jsonl:1: [missing_answer] 'prompt' has no 'completion' — add \"completion\": \"...\""
        )
    )


def test_report_and_facts_escape_batch_names(odd_names: Path, capsys) -> None:
    assert main(["report", str(odd_names)]) == 1
    out = capsys.readouterr().out
    assert "per batch      2026-03-01 1, tab\\there 1" in out and "\t" not in out
    assert main(["facts", str(odd_names)]) == 0
    out = capsys.readouterr().out
    assert "batches tab\\there]" in out and "\t" not in out


def test_names_stay_as_they_are_on_the_records(odd_names: Path) -> None:
    report = load_corpus(odd_names)
    assert {Path(f.file).name for f in report.files} >= {"2026-03-01\nfaq.jsonl", "tab\there.jsonl"}
    (reject,) = report.rejects
    assert "\x1b" in reject.file and "\x1b" not in str(reject)


def test_an_error_naming_a_path_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "no\nsuch.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no\\nsuch.jsonl: no such file or directory" in err
