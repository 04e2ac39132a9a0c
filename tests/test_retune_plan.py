"""What the probe feeds: the per-fact ledger, the re-tune plan and its training file, and
freshness that rests on the estimate when nothing is declared (and flags a declared cutoff the
estimate contradicts). The model is the fixture's model trained up to its second batch."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from answers import Answer
from compare.comparison import caveats
from compare.effective_cutoff import batch_dates
from compare.freshness import freshness
from compare.knowledge import tuned_knowledge
from compare.knowledge_probe import ProbeResult, probe_sides
from compare.ledger import ledger_csv, stale_count
from compare.report import render_markdown
from compare.retune_plan import GROUPS, parse_groups, plan_records, retune_plan, write_plan
from corpus import current_records, load_corpus
from corpus.export import TARGETS
from corpus.facts import fact_histories
from tests.conftest import ROOT
from tests.probe_helpers import BATCHES, CORPUS, UNKNOWN, known_at

RECORDS = load_corpus([CORPUS]).records
CURRENT = current_records(RECORDS)
HISTORIES = fact_histories(RECORDS)
TRAINED = BATCHES[1]


class Knows:
    """A side answering from a table of what it knows (in process: the HTTP path is tested in
    test_knowledge_probe)."""

    def __init__(self, name: str, known: dict[str, str]) -> None:
        self.name, self.known = name, known

    def answer(self, question: object) -> Answer:
        text = self.known.get(getattr(question, "text", ""), UNKNOWN)
        return Answer(answerer=self.name, text=text)


@pytest.fixture(scope="module")
def probed() -> ProbeResult:
    sides = [Knows("tuned", known_at(TRAINED)), Knows("base", {})]
    return probe_sides(HISTORIES, batch_dates(RECORDS), sides, {})  # type: ignore[arg-type]


def expected_groups(known: dict[str, str], cutoff: date) -> dict[str, set[str]]:
    """Records dated after the cutoff, grouped from the fixture's files alone."""
    newest = known_at(BATCHES[-1])
    newer: dict[str, str] = {}
    for path in sorted(CORPUS.glob("*.jsonl")):
        if date.fromisoformat(path.name[:10]) > cutoff:
            newer |= {q: newest[q] for q in _questions(path)}
    groups: dict[str, set[str]] = {g: set() for g in GROUPS}
    for question, answer in newer.items():
        group = (
            "unknown"
            if question not in known
            else "right"
            if known[question] == answer
            else "older"
        )
        groups[group].add(question)
    return groups


def _questions(path: Path) -> list[str]:
    from tests.probe_helpers import stated

    return list(stated(path))


def test_the_plan_splits_newer_records_by_what_the_model_gives(probed: ProbeResult) -> None:
    estimate = probed.side("tuned").estimate  # type: ignore[union-attr]
    assert estimate.day == TRAINED
    plan = retune_plan(CURRENT, HISTORIES, probed, "tuned", estimate.day, estimate.describe())
    by_id = {r.id: r.question for r in CURRENT}
    got = {g.group: {by_id[i] for i in g.record_ids} for g in plan.groups}
    assert got == expected_groups(known_at(TRAINED), TRAINED)
    assert plan.newer_records == sum(len(v) for v in got.values()) == 16
    assert all(g.asked == g.facts for g in plan.groups)  # every fact was asked
    assert "Gekhman" in plan.group("unknown").research
    assert "Ovadia" in plan.group("older").research


def test_facts_not_asked_are_placed_by_their_history() -> None:
    plan = retune_plan(CURRENT, HISTORIES, None, "tuned", TRAINED, "declared")
    by_id = {r.id: r.question for r in CURRENT}
    got = {g.group: {by_id[i] for i in g.record_ids} for g in plan.groups}
    assert got == expected_groups(known_at(TRAINED), TRAINED)
    assert all(g.asked == 0 for g in plan.groups)


@pytest.mark.parametrize("target", list(TARGETS))
def test_the_training_file_passes_strict_validation(
    probed: ProbeResult, target: str, tmp_path: Path
) -> None:
    plan = retune_plan(CURRENT, HISTORIES, probed, "tuned", TRAINED, "estimated")
    out = tmp_path / f"retune-{target}.jsonl"
    written = write_plan(plan, CURRENT, target, out, parse_groups("older,unknown"), paraphrases=2)
    wanted = len(plan.group("older").record_ids) + len(plan.group("unknown").record_ids)
    assert not written.problems and len(written.lines) == 3 * wanted == 45
    check = subprocess.run(
        [sys.executable, "-m", "corpus", "validate", "--strict", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_paraphrases_reword_the_question_and_keep_the_answer() -> None:
    plan = retune_plan(CURRENT, HISTORIES, None, "tuned", TRAINED, "declared")
    chosen = plan_records(plan, CURRENT, ["unknown"], paraphrases=1)
    originals, reworded = chosen[::2], chosen[1::2]
    assert len(originals) == len(reworded) == len(plan.group("unknown").record_ids)
    for first, second in zip(originals, reworded, strict=True):
        assert second.answer == first.answer and second.question != first.question
        assert (first.question or "").casefold() in (second.question or "").casefold()
        assert second.chat()[-2].content == second.question  # the turns carry the new wording


def test_an_unknown_group_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="right, older, unknown"):
        parse_groups("older,stale")


def test_the_ledger_marks_stale_answers(probed: ProbeResult) -> None:
    rows = list(csv.DictReader(io.StringIO(ledger_csv(probed))))
    assert len(rows) == len(HISTORIES)
    old, newest = known_at(TRAINED), known_at(BATCHES[-1])
    stale = {q for q, a in old.items() if a != newest[q]}
    assert {r["question"] for r in rows if r["Tuned: stale"] == "yes"} == stale
    assert stale_count(probed, "tuned") == len(stale) == 7
    assert all(r["Base: gives"] == "states no version" for r in rows)
    versions = next(r["versions"] for r in rows if r["fact_id"] == "vessick-leader")
    assert versions.count("Dr Henrike Solvang") == 2 and "2021-09-01 → 2022-09-01" in versions


def test_freshness_rests_on_the_estimate_when_nothing_is_declared(probed: ProbeResult) -> None:
    estimate = probed.side("tuned").estimate  # type: ignore[union-attr]
    view = tuned_knowledge("tuned", None, None, estimate)
    assert view is not None and view.cutoff == TRAINED
    assert view.basis == f"estimated from {len(HISTORIES)} facts"
    shown = freshness(CURRENT, view)
    assert shown.basis == view.basis and shown.mismatch is None
    assert shown.new_since_cutoff == 16  # the records dated after the estimated cutoff
    base = tuned_knowledge("tuned", None, None, probed.side("base").estimate)  # type: ignore[union-attr]
    assert base is not None and base.cutoff is not None and base.cutoff < BATCHES[0]


def test_a_declared_cutoff_wins_and_the_mismatch_is_flagged(probed: ProbeResult) -> None:
    estimate = probed.side("tuned").estimate  # type: ignore[union-attr]
    declared = tuned_knowledge("tuned", None, BATCHES[3], estimate)
    assert declared is not None and declared.cutoff == BATCHES[3]
    assert declared.basis.startswith("declared")
    shown = freshness(CURRENT, declared)
    assert shown.mismatch is not None and "declared cutoff 2022-09-01" in shown.mismatch
    agreeing = tuned_knowledge("tuned", None, TRAINED, estimate)
    assert agreeing is not None and agreeing.mismatch() is None


def test_the_mismatch_is_a_caveat_of_the_advice(probed: ProbeResult) -> None:
    from tests.test_compare_advice import corpus, judge, knowledge, run

    records = corpus(60, 20)
    k = knowledge(records)
    estimate = probed.side("tuned").estimate  # type: ignore[union-attr]
    assert k.tuned is not None
    k.tuned = k.tuned.model_copy(update={"manifest_cutoff": BATCHES[3], "estimate": estimate})
    c = judge(run(records, records, lambda s, i: True, ["rag", "tuned"]), records, k)
    notes = [n for n in caveats(c) if "outside what the model gives" in n]
    assert len(notes) == 1 and notes[0].startswith("Tuned: the manifest cutoff 2022-09-01")
    report = render_markdown(c)
    assert f"manifest 2022-09-01, estimated {TRAINED}" in report and "**mismatch:**" in report


def test_re_tune_now_names_the_command_that_writes_the_plan() -> None:
    from tests.test_compare_advice import corpus, is_new, judge, knowledge, run

    records = corpus(100, 40)
    asked = records[:30] + records[100:130]
    result = run(records, asked, lambda side, i: side == "rag" or not is_new(i), ["rag", "tuned"])
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "retune_now"
    assert any("python -m compare probe --plan-out" in r for r in c.advice.reasons)


def test_the_command_refuses_an_unknown_group_before_asking_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compare.cli import main

    code = main(["probe", "--corpus", str(CORPUS), "--work", str(tmp_path), "--groups", "stale"])
    assert code == 2 and "choose from right, older, unknown" in capsys.readouterr().err
    assert not (tmp_path / "probe").exists()
