"""The advice in every situation the decision table names, from scored runs through the real
scoring, summary, pricing, freshness and advice; each test fails when its rule is broken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from answers import Answer
from answers.prices import PriceBook
from compare.advice import AdviceInputs, AdviceSettings, advise
from compare.comparison import Comparison, Context, assess
from compare.cost import FixedInputs
from compare.evalset import EvalItem
from compare.freshness import freshness
from compare.knowledge import Knowledge, SidesKnowledge
from compare.run import RunResult, Scored
from compare.scoring import score_run
from compare.stats import Interval
from corpus import Format, Record, SourceRef, content_hash
from corpus.record import Message
from tests.conftest import ROOT

CUTOFF = date(2026, 3, 31)
OLD, NEW = date(2026, 3, 1), date(2026, 9, 1)
BOOK = PriceBook.load(ROOT / "data" / "prices.json")
Correct = Callable[[str, EvalItem], bool]  # (side, item) -> does the side answer it right?


def record(i: int, day: date) -> Record:
    question, answer = f"What is the code of item {i}?", f"The code of item {i} is K{i:03d}."
    turns = [Message(role="user", content=question), Message(role="assistant", content=answer)]
    return Record(
        id=f"r{i}",
        format=Format.PROMPT_COMPLETION,
        question=question,
        answer=answer,
        as_of=day,
        source=SourceRef(file="f.jsonl", line=i),
        content_hash=content_hash(turns),
    )


def corpus(old: int, new: int) -> list[Record]:
    return [record(i, OLD) for i in range(old)] + [record(old + i, NEW) for i in range(new)]


def knowledge(records: list[Record], *, index: bool = True) -> SidesKnowledge:
    trained = [r for r in records if r.as_of and r.as_of <= CUTOFF]
    return SidesKnowledge(
        index=Knowledge(side="index", content_hashes=frozenset(r.content_hash for r in records))
        if index
        else None,
        tuned=Knowledge(
            side="tuned", content_hashes=frozenset(r.content_hash for r in trained), cutoff=CUTOFF
        ),
        training_records=len(trained),
        new_tokens=40 * (len(records) - len(trained)),
        fixed=FixedInputs(training_tokens=50_000, training_seconds=600),
        retune_hours=0.2,
    )


def run(
    records: list[Record], asked: list[Record], correct: Correct, sides: list[str]
) -> RunResult:
    """A run whose answers are the reference where `correct` says so, else a wrong statement."""
    items = [
        EvalItem(
            id=f"q{r.id}",
            question=f"Which code has item {r.id}?",
            reference=r.answer or "",
            record_id=r.id,
        )
        for r in asked
    ]
    scored = []
    for side in sides:
        for item in items:
            if side == "failed":
                answer = Answer.failed(side, "cannot connect")
            else:
                text = item.reference if correct(side, item) else "It has no code at all."
                answer = Answer(answerer=side, text=text, latency_s=0.1)
            scored.append(Scored(item_id=item.id, answerer=side, answer=answer))
    return RunResult(
        run_id="r",
        started_at=datetime(2026, 11, 1, tzinfo=UTC),
        eval_name="scenario.jsonl",
        answerers=sides,
        items=items,
        scored=scored,
    )


def judge(
    result: RunResult, records: list[Record], k: SidesKnowledge, **settings: object
) -> Comparison:
    scored = score_run(
        result.items, result.scored, records={r.id: r for r in records}, knowledge=k.by_answerer()
    )
    result = result.model_copy(update={"scored": scored})
    context = Context(records=records, knowledge=k, book=BOOK, advice=AdviceSettings(**settings))
    return assess(result, context)


def is_new(item: EvalItem) -> bool:
    return int((item.record_id or "r0")[1:]) >= 100


def criterion(c: Comparison, name: str) -> str:
    return next(k.status for k in c.advice.criteria if k.name == name)


def test_tuned_better_on_what_it_knows_and_nothing_new_keeps_the_model() -> None:
    records = corpus(100, 0)
    rag_misses = {f"qr{i}" for i in range(0, 100, 2)}  # RAG gets half wrong, tuned all right
    result = run(
        records,
        records[:60],
        lambda side, item: side == "tuned" or item.id not in rag_misses,
        ["rag", "tuned"],
    )
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "keep_model"
    assert "better" in c.advice.headline
    assert criterion(c, "tuned_wins") == "met"


def test_new_facts_the_eval_never_asks_about_cannot_be_judged() -> None:
    records = corpus(100, 40)  # 40 records after the cutoff, none asked
    rag_misses = {f"qr{i}" for i in range(0, 100, 2)}
    result = run(
        records,
        records[:60],
        lambda side, item: side == "tuned" or item.id not in rag_misses,
        ["rag", "tuned"],
    )
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "cannot_judge_staleness"
    assert "40 records" in c.advice.headline
    assert criterion(c, "eval_covers_new_facts") == "not_met"


def test_rag_better_on_changed_facts_and_a_retune_too_dear_keeps_rag() -> None:
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]
    result = run(
        records, asked, lambda side, item: side == "rag" or not is_new(item), ["rag", "tuned"]
    )
    c = judge(result, records, knowledge(records), retune_budget_usd=0.0)
    assert c.advice.verdict == "keep_rag"
    assert criterion(c, "affordable") == "not_met"
    assert any("affordable" in r for r in c.advice.reasons)


def test_rag_better_only_on_new_facts_and_a_retune_affordable_and_worth_it_retunes() -> None:
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]
    result = run(
        records, asked, lambda side, item: side == "rag" or not is_new(item), ["rag", "tuned"]
    )
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "retune_now"
    assert criterion(c, "new_data") == "met" and criterion(c, "worth_it") == "met"


def test_rag_better_everywhere_keeps_rag_even_when_a_retune_is_affordable() -> None:
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]

    def correct(side: str, item: EvalItem) -> bool:  # tuned: half the old facts, no new one
        n = int((item.record_id or "r0")[1:])
        return side == "rag" or (not is_new(item) and n % 2 == 0)

    c = judge(run(records, asked, correct, ["rag", "tuned"]), records, knowledge(records))
    assert criterion(c, "worth_it") == "met" and criterion(c, "affordable") == "met"
    assert c.advice.verdict == "keep_rag"  # a re-tune would not close a gap on facts it knows


def test_tuned_plus_rag_beating_both_combines() -> None:
    records = corpus(100, 0)
    asked = records[:60]

    def correct(side: str, item: EvalItem) -> bool:
        n = int((item.record_id or "r0")[1:])
        return (
            side == "tuned_rag"
            or (side == "rag" and n % 2 == 0)
            or (side == "tuned" and n % 3 == 0)
        )

    c = judge(
        run(records, asked, correct, ["rag", "tuned", "tuned_rag"]), records, knowledge(records)
    )
    assert c.advice.verdict == "combine"


def test_a_retune_that_forgets_is_not_shipped() -> None:
    records = corpus(100, 0)
    result = run(
        records,
        records[:40],
        lambda side, item: side != "tuned",
        ["rag", "tuned", "tuned_previous"],
    )
    k = knowledge(records)
    k = k.model_copy(
        update={"previous_tuned": k.tuned.model_copy(update={"side": "tuned_previous"})}
    )  # type: ignore[union-attr]
    c = judge(result, records, k)
    assert c.advice.verdict == "do_not_ship"
    assert criterion(c, "forgetting") == "not_met"


def test_a_three_question_eval_is_not_enough_evidence_and_says_how_many_more() -> None:
    records = corpus(100, 0)
    result = run(records, records[:3], lambda side, item: side == "rag", ["rag", "tuned"])
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "not_enough_evidence"
    assert c.advice.further_questions is not None and c.advice.further_questions >= 17
    assert f"{c.advice.further_questions:,} more" in c.advice.headline


def test_a_gap_within_noise_asks_for_the_questions_that_would_settle_it() -> None:
    records = corpus(100, 0)

    def correct(side: str, item: EvalItem) -> bool:  # 30 vs 27 of 60 right, scattered
        n = int((item.record_id or "r0")[1:])
        return (n % 2 == 0) if side == "rag" else (n % 20 < 9 or n % 20 == 19)

    c = judge(run(records, records[:60], correct, ["rag", "tuned"]), records, knowledge(records))
    gap = c.advice.inputs.rag_vs_tuned
    assert gap is not None and not gap.excludes_zero
    assert c.advice.verdict == "not_enough_evidence"
    # the paired differences' spread sets the number: ((1.96 + 0.84) * sd / 0.05)^2 - 60
    expected = round(((1.959964 + 0.841621) * gap.sd / 0.05) ** 2 + 0.5) - 60
    assert c.advice.further_questions == pytest.approx(expected, abs=1)


def test_a_failed_side_gets_no_verdict_about_it() -> None:
    records = corpus(100, 0)
    result = run(records, records[:40], lambda side, item: True, ["rag", "failed"])
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "incomplete"
    assert "failed" in c.advice.headline


def test_a_rag_only_run_has_no_tuned_freshness_and_no_verdict_about_tuning() -> None:
    records = corpus(100, 40)
    c = judge(
        run(records, records[:30], lambda side, item: True, ["rag"]), records, knowledge(records)
    )
    assert [f.side for f in c.freshness] == ["index"]
    assert c.advice.verdict == "incomplete"
    assert criterion(c, "retrieval_wins") == "not_measured"


def test_criteria_not_measured_never_count_as_met() -> None:
    advice = advise(
        AdviceInputs(rag_vs_tuned=Interval(mean=0.0, low=-0.01, high=0.01, n=400, sd=0.05)),
        AdviceSettings(),
    )
    unmeasured = [k for k in advice.criteria if k.status == "not_measured"]
    assert {k.name for k in unmeasured} >= {
        "new_data",
        "stale_on_new_facts",
        "forgetting",
        "affordable",
    }
    assert all(not k.met and k.to_measure for k in unmeasured)


def test_equal_sides_keep_the_cheaper_one_and_say_so() -> None:
    inputs = AdviceInputs(
        rag_vs_tuned=Interval(mean=0.0, low=-0.01, high=0.01, n=400, sd=0.05),
        monthly_usd={"rag": 1.0, "tuned": 9.0},
    )
    advice = advise(inputs, AdviceSettings())
    assert advice.verdict == "keep_rag" and "cheaper" in advice.headline


def _record(rid: str, answer: str, as_of: date) -> Record:
    turns = [Message(role="user", content=f"q {rid}"), Message(role="assistant", content=answer)]
    return Record(
        id=rid,
        format=Format.PROMPT_COMPLETION,
        question=f"q {rid}",
        answer=answer,
        as_of=as_of,
        source=SourceRef(file="f", line=1),
        content_hash=content_hash(turns),
    )


def test_freshness_counts_new_since_the_cutoff_apart_from_older_records_left_out() -> None:
    old = _record("a", "1", date(2026, 3, 1))
    left_out = _record("d", "4", date(2026, 2, 1))
    changed = _record("b", "2", date(2026, 10, 1))
    new = _record("c", "3", date(2026, 10, 1))
    everything = [old, left_out, changed, new]
    index = Knowledge(side="index", content_hashes=frozenset(r.content_hash for r in everything))
    tuned = Knowledge(side="tuned", content_hashes=frozenset({old.content_hash}), cutoff=CUTOFF)
    remote = Knowledge(side="remote", cutoff=date(2026, 6, 30))
    rag_view, tuned_view, remote_view = (freshness(everything, k) for k in (index, tuned, remote))
    assert (rag_view.unknown, rag_view.age_days, rag_view.newest_known) == (0, 0, date(2026, 10, 1))
    assert (tuned_view.unknown, tuned_view.unknown_ids, tuned_view.age_days) == (
        3,
        ["b", "c", "d"],
        214,
    )
    assert (tuned_view.new_since_cutoff, tuned_view.unseen_before_cutoff) == (2, 1)
    assert (remote_view.known, remote_view.newest_known) == (2, date(2026, 3, 1))


# --- the side matrix: the best retrieval side named, what tuning added, combine vs base + RAG ---


def test_the_verdict_names_the_best_retrieval_side() -> None:
    """With extractive RAG and base + RAG both run, "RAG" is the better of the two, named."""
    records = corpus(100, 0)

    def correct(side: str, item: EvalItem) -> bool:
        n = int((item.record_id or "r0")[1:])
        return (
            side == "base_rag" or (side == "rag" and n % 2 == 0) or (side == "tuned" and n % 5 == 0)
        )

    c = judge(
        run(records, records[:60], correct, ["rag", "base_rag", "tuned"]),
        records,
        knowledge(records),
    )
    assert c.advice.inputs.retrieval_side == "base_rag"
    assert c.advice.verdict == "keep_rag"
    assert c.advice.headline.startswith("Keep RAG (Base + RAG):")
    gap = c.summary.gap("base_rag", "tuned")
    assert gap is not None and c.advice.inputs.rag_vs_tuned == gap.diff


def test_tuned_plus_rag_that_only_beats_the_lookup_does_not_combine() -> None:
    """Combine only when tuned + RAG beats base + RAG beyond noise: beating the extractive
    lookup is what any model given passages may do."""
    records = corpus(100, 0)

    def correct(side: str, item: EvalItem) -> bool:
        n = int((item.record_id or "r0")[1:])
        return side in ("tuned_rag", "base_rag") or (side in ("rag", "tuned") and n % 3 == 0)

    sides = ["rag", "base_rag", "tuned", "tuned_rag"]
    c = judge(run(records, records[:60], correct, sides), records, knowledge(records))
    assert criterion(c, "combination_wins") == "not_met"
    assert c.advice.verdict != "combine"
    # the same run without base + RAG: tuned + RAG beats the lookup and the tuned model
    alone = judge(
        run(records, records[:60], correct, ["rag", "tuned", "tuned_rag"]),
        records,
        knowledge(records),
    )
    assert alone.advice.verdict == "combine"


def test_tuning_that_taught_nothing_on_its_own_facts_changes_the_recipe() -> None:
    """A re-tune is called for and affordable, but the tuned model answers its own training facts
    no better than the base model: re-tuning the same way will not help."""
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]

    def correct(side: str, item: EvalItem) -> bool:  # base and tuned alike on the old facts
        return side == "rag" or (side in ("tuned", "base") and not is_new(item))

    c = judge(run(records, asked, correct, ["rag", "base", "tuned"]), records, knowledge(records))
    assert criterion(c, "new_data") == "met" and criterion(c, "tuning_added") == "not_met"
    assert c.advice.verdict == "change_recipe"
    assert any("paraphrases" in r for r in c.advice.reasons)
    added = c.advice.inputs.tuning_added_trained
    assert added is not None and added.n == 30 and added.mean == 0.0


def test_tuning_that_taught_its_facts_still_retunes() -> None:
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]

    def correct(side: str, item: EvalItem) -> bool:  # the base model knows none of them
        return side == "rag" or (side == "tuned" and not is_new(item))

    c = judge(run(records, asked, correct, ["rag", "base", "tuned"]), records, knowledge(records))
    assert criterion(c, "tuning_added") == "met"
    assert c.advice.verdict == "retune_now"
    trained = c.advice.inputs.tuning_added_trained
    untrained = c.advice.inputs.tuning_added_untrained
    assert trained is not None and trained.mean > 0.5 and trained.n == 30
    assert untrained is not None and untrained.mean == 0.0 and untrained.n == 30


def test_too_few_questions_names_the_minimum_when_the_gap_is_already_clear() -> None:
    """9 paired questions with a gap far from zero: the headline names min_questions as what
    binds and how many more reach it — never a count for detecting a smaller difference."""
    records = corpus(100, 0)
    result = run(records, records[:9], lambda side, item: side == "rag", ["rag", "tuned"])
    c = judge(result, records, knowledge(records))
    assert c.advice.verdict == "not_enough_evidence"
    assert criterion(c, "retrieval_wins") == "met"
    headline = c.advice.headline
    assert "9 paired questions, fewer than the 20" in headline and "(min_questions)" in headline
    assert "11 more reach it" in headline and "beyond noise" in headline
    assert c.advice.further_questions == 11
    lowered = judge(result, records, knowledge(records), min_questions=5)
    assert lowered.advice.verdict == "keep_rag"


def test_a_gap_within_noise_says_what_resolves_the_observed_gap() -> None:
    records = corpus(100, 0)

    def correct(side: str, item: EvalItem) -> bool:  # 30 vs 24 of 60 right, scattered
        n = int((item.record_id or "r0")[1:])
        return (n % 2 == 0) if side == "rag" else (n % 5 < 2)

    c = judge(run(records, records[:60], correct, ["rag", "tuned"]), records, knowledge(records))
    gap = c.advice.inputs.rag_vs_tuned
    assert gap is not None and not gap.excludes_zero and abs(gap.mean) >= 0.05
    observed = round(((1.959964 + 0.841621) * gap.sd / abs(gap.mean)) ** 2 + 0.5) - 60
    assert c.advice.verdict == "not_enough_evidence"
    assert c.advice.further_questions == pytest.approx(observed, abs=1)
    assert "within noise" in c.advice.headline and "a gap of that size" in c.advice.headline
    assert any("smallest_difference" in r for r in c.advice.reasons)


def test_a_near_perfect_retrieval_side_on_offline_reworded_questions_gets_a_caveat() -> None:
    from compare.comparison import caveats

    records = corpus(100, 0)
    result = run(records, records[:30], lambda side, item: side == "rag", ["rag", "tuned"])
    hand_written = judge(result, records, knowledge(records))
    assert not any("reworded offline" in note for note in caveats(hand_written))
    made = result.model_copy(
        update={"items": [i.model_copy(update={"reworded": "offline"}) for i in result.items]}
    )
    c = judge(made, records, knowledge(records))
    [note] = [n for n in caveats(c) if "reworded offline" in n]
    assert note.startswith("RAG (extractive) scores 1.000") and "--reword endpoint" in note


# --- RAFT named where a re-tune should read its passages --------------------------------------


def test_combine_names_the_raft_commands() -> None:
    records = corpus(100, 0)

    def correct(side: str, item: EvalItem) -> bool:
        n = int((item.record_id or "r0")[1:])
        return (
            side == "tuned_rag"
            or (side == "rag" and n % 2 == 0)
            or (side == "tuned" and n % 3 == 0)
        )

    c = judge(
        run(records, records[:60], correct, ["rag", "tuned", "tuned_rag"]),
        records,
        knowledge(records),
    )
    assert c.advice.verdict == "combine"
    hint = next(r for r in c.advice.reasons if "RAFT" in r)
    assert "python -m rag.raft" in hint and "python -m tuning.train" in hint and "--raft" in hint


@pytest.mark.parametrize(("changed", "named"), [(12, True), (9, False), (0, False)])
def test_a_retune_of_a_corpus_with_many_changed_facts_names_raft(changed: int, named: bool) -> None:
    records = corpus(100, 40)
    asked = records[:30] + records[100:130]
    result = run(
        records, asked, lambda side, item: side == "rag" or not is_new(item), ["rag", "tuned"]
    )
    k = knowledge(records).model_copy(update={"changed_facts": changed})
    c = judge(result, records, k, many_changed_facts=10)
    assert c.advice.verdict == "retune_now" and c.advice.inputs.changed_facts == changed
    raft = [r for r in c.advice.reasons if "python -m rag.raft" in r]
    assert bool(raft) == named
    if named:
        assert raft[0].startswith("12 facts the model was trained on changed since (>= 10")


def test_changed_facts_are_trained_ids_the_corpus_now_states_otherwise() -> None:
    from compare.knowledge import changed_since
    from tuning.manifest import TrainedRecord, TuningManifest

    old = corpus(5, 0)
    manifest = TuningManifest(
        base_model="m",
        trained_at=datetime(2026, 4, 1, tzinfo=UTC),
        records=[TrainedRecord(id=r.id, content_hash=r.content_hash) for r in old],
    )
    restated = [old[0].model_copy(update={"content_hash": "new"}), *old[1:], record(7, NEW)]
    assert changed_since(manifest, restated) == 1  # r0 changed; r7 is new, not changed
    assert changed_since(manifest, old) == 0 and changed_since(None, restated) == 0
