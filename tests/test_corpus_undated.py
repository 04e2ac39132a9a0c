"""Facts change only across dates: answers given on one date, or in an undated file, are variants,
and an absent date reads as such wherever one is shown (never "None")."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from compare.criteria import AdviceInputs, AdviceSettings, criteria
from corpus import load_corpus
from corpus.cli import main, render_history
from corpus.facts import fact_histories, fact_summary
from corpus.report import render_summary, summarise
from ui import frames

TENT = "Best way to store the tent?"
DRY, SACK, BURN = (
    "Dry it fully, then roll it loosely.",
    "Keep it in its sack in a dry place.",
    "Leave it wet in the car boot.",
)


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def _kto(answer: str, good: bool) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": TENT},
            {"role": "assistant", "content": answer},
        ],
        "label": good,
    }


@pytest.fixture
def undated_kto(tmp_path: Path) -> Path:
    """No date in the name or the lines: one prompt, two desirable answers and one undesirable."""
    return _write(
        tmp_path / "tent-care.jsonl", [_kto(DRY, True), _kto(SACK, True), _kto(BURN, False)]
    )


def test_two_answers_in_an_undated_kto_file_are_variants_not_a_change(undated_kto: Path) -> None:
    report = load_corpus(undated_kto)
    assert [r.answer for r in report.records] == [DRY, SACK]  # the undesirable one is dropped
    (history,) = fact_histories(report.records)
    assert [(v.answer, v.first_seen, v.until, v.variant) for v in history.versions] == [
        (DRY, None, None, False),
        (SACK, None, None, True),
    ]
    assert not history.changed and history.has_variants
    summary = fact_summary(report.records)
    assert (summary.facts, summary.changed, summary.variants) == (1, 0, 1)
    assert summary.changes_per_batch == {}


def test_no_none_in_the_cli_facts_and_report_output(undated_kto: Path, capsys) -> None:
    assert main(["facts", str(undated_kto)]) == 0
    facts = capsys.readouterr().out
    assert "None" not in facts
    assert "(2 variant answers, unchanged)" in facts and "undated .. now" in facts
    assert facts.strip().endswith("1 fact(s) shown, 0 changed, 1 with variant answers on one date")
    assert main(["report", str(undated_kto)]) == 0
    report = capsys.readouterr().out
    assert "None" not in report
    assert "facts          1 (0 changed, 0 re-confirmed in a later batch, 1 with variant" in report
    assert main(["facts", str(undated_kto), "--changed"]) == 0
    assert capsys.readouterr().out.strip() == "0 fact(s) shown, 0 changed"


def test_no_none_in_the_apps_history_table_and_lines(undated_kto: Path) -> None:
    (history,) = fact_histories(load_corpus(undated_kto).records)
    table = frames.history_frame(history)
    assert "None" not in table.to_string() and not table.isna().any().any()
    assert list(table["first seen"]) == ["undated", "undated"]
    assert list(table["held until"]) == ["", ""]
    assert list(table["status"]) == ["current", "current (variant)"]
    lines = frames.history_lines(history)
    assert lines == [
        f"- current since undated (a variant stated alongside the answer below): {SACK}",
        f"- current since undated: {DRY}",
    ]
    assert frames.changes_per_batch([history]) == {}
    assert frames.fact_counts([history]) == {
        "facts": 1,
        "changed": 0,
        "variants": 1,
        "reconfirmed": 0,
    }


def test_answers_on_one_date_are_variants_and_a_later_date_is_a_change(tmp_path: Path) -> None:
    ask = "How many berths does the north pier have?"
    lines = [
        {"prompt": ask, "completion": "Six berths.", "as_of": "2031-04-01"},
        {"prompt": ask, "completion": "6 berths, two of them deep-water.", "as_of": "2031-04-01"},
        {"prompt": ask, "completion": "Six berths.", "as_of": "2031-04-01"},  # a duplicate
        {"prompt": ask, "completion": "Eight berths.", "as_of": "2033-09-15"},
    ]
    report = load_corpus(_write(tmp_path / "pier.jsonl", lines))
    (history,) = fact_histories(report.records)
    assert [(v.answer, v.first_seen, v.until, v.variant) for v in history.versions] == [
        ("Six berths.", date(2031, 4, 1), date(2033, 9, 15), False),
        ("6 berths, two of them deep-water.", date(2031, 4, 1), date(2033, 9, 15), True),
        ("Eight berths.", date(2033, 9, 15), None, False),
    ]
    assert history.changed and history.current.answer == "Eight berths."
    assert history.version_on(date(2032, 1, 1)).answer == "6 berths, two of them deep-water."
    summary = summarise(report)
    assert (summary.facts.changed, summary.facts.variants) == (1, 1)
    assert summary.facts.changes_per_batch == {"pier": 1}  # one change, not two
    assert frames.changes_per_batch([history]) == {"pier": 1}
    shown = render_history(history)
    assert "(3 versions, changed)" in shown and "None" not in shown
    assert shown.count("a variant: stated alongside the answer above") == 1


def test_the_same_answer_on_one_date_stays_one_version_in_line_order(tmp_path: Path) -> None:
    """A, B, A on one date (the last A worded apart, so not a duplicate line): two variants,
    and the answer of the later line is current."""
    ask = "Which gate do ferries to Orrin leave from?"
    lines = [
        {"prompt": ask, "completion": answer, "as_of": "2031-04-01", "id": f"gate-{n}"}
        for n, answer in enumerate(["Gate 4.", "Gate 5.", "gate 4"])
    ]
    (history,) = fact_histories(load_corpus(_write(tmp_path / "gates.jsonl", lines)).records)
    assert [(v.answer, v.record_ids, v.variant) for v in history.versions] == [
        ("Gate 5.", ["gate-1"], False),
        ("gate 4", ["gate-0", "gate-2"], True),  # worded as its newest line
    ]
    assert not history.changed and history.current.answer == "gate 4"


def test_an_undated_answer_then_a_dated_one_shows_both_dates_readably(tmp_path: Path) -> None:
    ask = "Who runs the Orrin ferry?"
    _write(tmp_path / "ferry.jsonl", [{"prompt": ask, "completion": "Saltline."}])
    _write(tmp_path / "2034-02-01-ferry.jsonl", [{"prompt": ask, "completion": "Bayway."}])
    (history,) = fact_histories(load_corpus(tmp_path).records)
    assert history.changed
    assert [v.first_seen for v in history.versions] == [None, date(2034, 2, 1)]
    assert frames.history_lines(history) == [
        "- current since 2034-02-01: Bayway.",
        "- superseded: held undated → 2034-02-01: Saltline.",
    ]
    assert "None" not in render_history(history)


def test_new_data_without_a_cutoff_date_reads_without_none() -> None:
    inputs = AdviceInputs(new_records=12, training_records=40, new_tokens=900)
    (new_data,) = [c for c in criteria(inputs, AdviceSettings()) if c.name == "new_data"]
    assert new_data.value.startswith("12 records the model was not trained on (no cutoff date)")
    dated = AdviceInputs(new_records=12, training_records=40, new_tokens=900, cutoff="2026-07-01")
    (new_data,) = [c for c in criteria(dated, AdviceSettings()) if c.name == "new_data"]
    assert new_data.value.startswith("12 records dated after 2026-07-01")


def test_the_summary_of_an_undated_file_names_its_batch_not_a_date(undated_kto: Path) -> None:
    text = render_summary(summarise(load_corpus(undated_kto)))
    assert "None" not in text and "per batch      tent-care 2" in text
