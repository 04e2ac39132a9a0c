"""`python -m corpus`: tables for people, JSON for machines, exit codes that mean something."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corpus.cli import main
from tests.conftest import BAD_DIR, FORMATS_DIR, ROOT


def test_validate_clean_exits_0(capsys) -> None:
    assert main(["validate", str(FORMATS_DIR / "gemini.jsonl")]) == 0
    assert "1 valid, 0 rejected" in capsys.readouterr().out


def test_validate_rejects_exits_1_and_names_line_and_fix(capsys) -> None:
    assert main(["validate", str(BAD_DIR / "invalid_json.jsonl")]) == 1
    out = capsys.readouterr().out
    assert "invalid_json.jsonl:3: [invalid_json]" in out and '"content"' in out


def test_validate_json_is_machine_readable(capsys) -> None:
    assert main(["validate", "--json", str(BAD_DIR / "role_order.jsonl")]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert [r["line"] for r in payload["rejects"]] == [1, 2, 3]
    assert payload["files"][0]["valid"] == 1


def test_missing_path_exits_2(capsys) -> None:
    assert main(["validate", "/no/such/corpus"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_strict_mode_exits_1_with_every_reject(capsys) -> None:
    assert main(["validate", "--strict", str(BAD_DIR / "wrong_type.jsonl")]) == 1
    assert capsys.readouterr().out.count("[wrong_type]") == 5


@pytest.mark.parametrize("target", ["openai", "gemini", "alpaca", "sharegpt", "trl-conversational"])
def test_export_writes_a_loadable_file(target: str, tmp_path, capsys) -> None:
    out = tmp_path / "out.jsonl"
    code = main(["export", str(FORMATS_DIR / "chat_system.jsonl"), "--to", target, "-o", str(out)])
    assert code == 0
    assert main(["validate", str(out)]) == 0


def test_export_reports_what_it_could_not_convert(tmp_path, capsys) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["export", str(FORMATS_DIR / "text.jsonl"), "--to", "openai", "-o", str(out)]) == 1
    assert "not converted" in capsys.readouterr().out


def test_report_shows_tokens_and_labels(capsys) -> None:
    assert main(["report", str(FORMATS_DIR)]) == 0
    out = capsys.readouterr().out
    assert "tiktoken o200k_base" in out and "положительный 1" in out and "× 3 epochs" in out


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corpus", "validate", str(BAD_DIR / "cp1251.jsonl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1 and "cp1251" in done.stdout


def test_report_streams_and_says_when_percentiles_are_estimated(
    tmp_path, capsys, monkeypatch
) -> None:
    import corpus.report

    monkeypatch.setattr(corpus.report, "SAMPLE", 40)
    words = "Ledger entry for depot {n} closes at {h}:00 on weekdays and {h2}:30 on Saturdays."
    lines = [
        json.dumps(
            {"id": f"d{n}", "text": words.format(n=n, h=8 + n % 9, h2=9 + n % 5) * (1 + n % 4)}
        )
        for n in range(300)
    ]
    (tmp_path / "2032-02-02-depots.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["report", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    tokens = summary["tokens"]
    assert summary["records"] == 300 and tokens["sampled"] == 40
    assert tokens["min"] <= tokens["median"] <= tokens["p95"] <= tokens["max"]
    assert main(["report", str(tmp_path)]) == 0
    assert "estimated from a uniform sample of 40 records" in capsys.readouterr().out


def test_report_names_the_platform_limit_and_its_source(capsys) -> None:
    assert main(["report", str(FORMATS_DIR), "--platform", "vertex:gemini-2.5-flash"]) == 0
    out = capsys.readouterr().out
    assert "131,072 tokens" in out and "cloud.google.com" in out


def test_iter_load_streams_without_holding_the_text(tmp_path, monkeypatch) -> None:
    import tracemalloc

    import corpus.loader
    from corpus import iter_load
    from corpus.record import Record

    clause = "The depot at quay {n} stores {k} pallets of timber from the northern mills. "
    with (tmp_path / "2033-04-04-quays.jsonl").open("w", encoding="utf-8") as out:
        for n in range(4000):
            text = "".join(clause.format(n=n, k=k) for k in range(28))  # ~2 kB a line
            out.write(
                json.dumps({"id": f"q{n}", "prompt": f"Quay {n}?", "completion": text}) + "\n"
            )
    size = (tmp_path / "2033-04-04-quays.jsonl").stat().st_size
    monkeypatch.setattr(corpus.loader, "CHUNK", 1 << 16)  # reads of 64 KiB: the text is 8 MB
    tracemalloc.start()
    records = sum(1 for event in iter_load(tmp_path) if type(event) is Record)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert records == 4000
    assert peak < size / 8  # the duplicate index and a read or two, not the 8 MB of text
