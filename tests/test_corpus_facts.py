"""Facts that change: re-confirmations are kept, histories are built from the question side only."""

from __future__ import annotations

import json
from datetime import date

import pytest

from corpus import current_records, load_corpus
from corpus.cli import main
from corpus.facts import (
    FactHistory,
    fact_histories,
    fact_summary,
    facts_by_record,
    normalize_question,
)
from tests.conftest import ROOT

FACTS = ROOT / "tests" / "data" / "port_registry"  # three dated batches of a port's registry
D31, D33, D36 = date(2031, 1, 15), date(2033, 6, 1), date(2036, 9, 30)


@pytest.fixture(scope="module")
def records():
    return load_corpus(FACTS).records


@pytest.fixture(scope="module")
def histories(records) -> dict[str, FactHistory]:
    """Histories keyed by the question as written in the newest batch that asks it."""
    return {h.question: h for h in fact_histories(records)}


def test_a_reconfirmation_in_a_later_batch_is_kept_and_only_an_in_batch_repeat_is_a_duplicate() -> (
    None
):
    report = load_corpus(FACTS)
    assert len(report.records) == 16  # 7 + 4 + 5 lines: every line but the in-batch repeat
    (reject,) = report.rejects
    assert (reject.file.endswith("2033-06-01-registry.jsonl"), reject.line, reject.code) == (
        True,
        4,
        "duplicate",
    )
    assert reject.message.endswith("2033-06-01-registry.jsonl:3")
    assert all(f.balanced for f in report.files)


def test_a_then_b_then_a_ends_at_a(records, histories) -> None:
    (current,) = [r for r in current_records(records) if r.id == "harbour-master"]
    assert (current.answer, current.as_of) == ("Ines Okafor", D36)
    history = histories["Who is the harbour master of Kestrel Port?"]
    assert [(v.answer, v.first_seen, v.until) for v in history.versions] == [
        ("Ines Okafor", D31, D33),
        ("Tomasz Wrona", D33, D36),
        ("Ines Okafor", D36, None),
    ]
    assert history.changed and history.current.answer == "Ines Okafor"


def test_version_on_a_day(histories) -> None:
    history = histories["Who is the harbour master of Kestrel Port?"]
    assert history.version_on(date(2030, 12, 31)) is None  # before the fact was first recorded
    assert history.version_on(D31).answer == "Ines Okafor"
    assert history.version_on(date(2035, 1, 1)).answer == "Tomasz Wrona"
    assert history.version_on(D36).answer == "Ines Okafor"


def test_a_reconfirmation_extends_last_confirmed_and_wording_is_no_change(histories) -> None:
    depth = histories["What is the depth of berth 7 at Kestrel Port?"]
    first, second = depth.versions
    # "14.5 m" (2031), "14.5 m." asked in lower case without "?" (2033): the same fact, same answer
    assert (first.first_seen, first.last_confirmed, first.until) == (D31, D33, D36)
    assert first.batches == ["2031-01-15", "2033-06-01"] and len(first.record_ids) == 2
    assert (second.answer, second.first_seen) == ("15.2 m", D36)
    logistics = histories["Кто возглавляет отдел логистики?"]
    assert [v.answer for v in logistics.versions] == ["Елкина", "Борисов"]  # ё -> е is no change
    assert logistics.versions[0].last_confirmed == D33


def test_bare_number_answers_of_different_questions_are_different_facts(histories) -> None:
    cranes = histories["How many cranes operate at berth 7?"]
    tugboats = histories["How many tugboats does Kestrel Port own?"]
    assert [v.answer for v in cranes.versions] == ["4"] and not cranes.changed
    assert [v.answer for v in tugboats.versions] == ["4", "5"]
    assert set(cranes.record_ids).isdisjoint(tugboats.record_ids)


def test_only_question_answer_records_are_facts(records, histories) -> None:
    assert len(histories) == 6  # the plain text and the classified complaint are not facts
    assert len(facts_by_record(histories.values())) == len({r.id for r in records if r.is_qa})


def test_pairs_from_the_retrieval_layer_join_reworded_questions(records) -> None:
    deepest = next(r for r in records if r.answer == "15.2 m" and r.id != "berth7-depth-reworded")
    joined = fact_histories(records, same_fact=[("berth7-depth-reworded", deepest.id)])
    assert len(joined) == 5
    (depth,) = [h for h in joined if "berth7-depth-reworded" in h.record_ids]
    assert depth.current.record_ids == [deepest.id, "berth7-depth-reworded"]
    assert [v.answer for v in depth.versions] == ["14.5 m.", "15.2 m"]


def test_the_summary_says_how_many_facts_changed_and_when(records) -> None:
    summary = fact_summary(records)
    assert (summary.facts, summary.changed, summary.reconfirmed) == (6, 4, 3)
    assert summary.new_per_batch == {"2031-01-15": 5, "2036-09-30": 1}
    assert summary.changes_per_batch == {"2033-06-01": 1, "2036-09-30": 4}


def test_same_content_on_another_date_in_one_file_is_a_reconfirmation(tmp_path) -> None:
    lines = [
        {"prompt": "Reactor 2 output?", "completion": "610 MW", "as_of": "2029-03-01"},
        {"prompt": "Reactor 2 output?", "completion": "655 MW", "as_of": "2030-03-01"},
        {"prompt": "Reactor 2 output?", "completion": "610 MW", "as_of": "2031-03-01"},
        {"prompt": "Reactor 2 output?", "completion": "610 MW", "as_of": "2031-03-01"},
    ]
    path = tmp_path / "plant.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    report = load_corpus(path)
    assert [(r.line, r.code) for r in report.rejects] == [
        (4, "duplicate")
    ]  # same content, same date
    (history,) = fact_histories(report.records)
    assert [v.answer for v in history.versions] == ["610 MW", "655 MW", "610 MW"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the SLA?", "what is the sla"),
        ("  Ёлка   и  ЁЖ!! ", "елка и еж"),
        ("Price: 9.99 EUR, or 1,000 RUB?", "price 9.99 eur or 1,000 rub"),
        ("«Сколько» стоит — тариф?", "сколько стоит тариф"),
        ("snake_case_name", "snake case name"),
    ],
)
def test_normalize_question(text: str, expected: str) -> None:
    assert normalize_question(text) == expected


def test_cli_facts_prints_changed_histories_and_finds_an_id(capsys) -> None:
    assert main(["facts", str(FACTS), "--changed"]) == 0
    out = capsys.readouterr().out
    assert "fact harbour-master (3 versions, changed)" in out and "Tomasz Wrona" in out
    assert "cranes" not in out and out.strip().endswith("4 fact(s) shown, 4 changed")
    assert main(["facts", str(FACTS), "--id", "harbour-master", "--json"]) == 0
    (payload,) = json.loads(capsys.readouterr().out)
    assert [v["answer"] for v in payload["versions"]] == [
        "Ines Okafor",
        "Tomasz Wrona",
        "Ines Okafor",
    ]
    assert main(["facts", str(FACTS), "--id", "no-such-record"]) == 1


def test_cli_report_shows_fact_changes_per_batch(capsys) -> None:
    assert main(["report", str(FACTS)]) == 1  # the in-batch duplicate is a reject
    out = capsys.readouterr().out
    assert "facts          6 (4 changed, 3 re-confirmed in a later batch)" in out
    assert "changes/batch  2033-06-01 1, 2036-09-30 4" in out
