"""The advice flips the way the seed's criteria say it should."""

from __future__ import annotations

from datetime import date

from compare.advice import AdviceInputs, AdviceSettings, advise
from compare.freshness import Knowledge, freshness
from compare.stats import Interval
from corpus import Format, Record, SourceRef, content_hash
from corpus.record import Message

SETTINGS = AdviceSettings()


def ci(mean: float, half: float = 0.05) -> Interval:
    return Interval(mean=mean, low=mean - half, high=mean + half, n=60)


def inputs(**changes: object) -> AdviceInputs:
    base = dict(
        new_records=0,
        new_tokens=0,
        training_records=200,
        tuned_known=0.8,
        tuned_unknown=0.8,
        unknown_question_share=0.0,
        rag_vs_tuned=ci(0.0),
        tuned_rag_vs_rag=ci(0.0),
        tuned_rag_vs_tuned=ci(0.0),
        retune_cost_usd=5.0,
        retune_hours=1.0,
    )
    return AdviceInputs.model_validate({**base, **changes})


def test_no_new_data_keeps_the_model() -> None:
    advice = advise(inputs(), SETTINGS)
    assert advice.verdict == "keep_model"
    assert {c.name for c in advice.criteria} >= {
        "new_data",
        "stale_on_new_facts",
        "forgetting",
        "affordable",
    }


def test_many_new_facts_and_a_drop_on_them_means_retune() -> None:
    advice = advise(
        inputs(new_records=120, new_tokens=9000, tuned_unknown=0.3, unknown_question_share=0.4),
        SETTINGS,
    )
    assert advice.verdict == "retune_now"
    new_data = next(c for c in advice.criteria if c.name == "new_data")
    assert new_data.met and "120 records" in new_data.value


def test_when_rag_is_clearly_better_keep_rag() -> None:
    advice = advise(
        inputs(
            new_records=120,
            new_tokens=9000,
            tuned_unknown=0.3,
            unknown_question_share=0.4,
            rag_vs_tuned=ci(0.4),
        ),
        SETTINGS,
    )
    assert advice.verdict == "keep_rag"
    assert any("RAG beats" in r for r in advice.reasons)


def test_a_retune_too_expensive_for_its_gain_keeps_rag() -> None:
    advice = advise(
        inputs(
            new_records=120,
            new_tokens=9000,
            tuned_unknown=0.3,
            unknown_question_share=0.4,
            retune_cost_usd=5000.0,
        ),
        SETTINGS,
    )
    assert advice.verdict == "keep_rag"
    assert "affordable" in advice.reasons[0]


def test_a_retune_that_forgets_is_not_shipped() -> None:
    advice = advise(
        inputs(
            new_records=120,
            new_tokens=9000,
            tuned_unknown=0.3,
            unknown_question_share=0.4,
            forgetting=ci(-0.2),
        ),
        SETTINGS,
    )
    assert advice.verdict == "do_not_ship"
    forgetting = next(c for c in advice.criteria if c.name == "forgetting")
    assert not forgetting.met and "-0.200" in forgetting.value


def test_a_retune_that_keeps_old_knowledge_may_ship() -> None:
    advice = advise(
        inputs(
            new_records=120,
            new_tokens=9000,
            tuned_unknown=0.3,
            unknown_question_share=0.4,
            forgetting=ci(0.0, 0.01),
        ),
        SETTINGS,
    )
    assert advice.verdict == "retune_now"


def test_combination_wins_when_it_beats_both() -> None:
    advice = advise(
        inputs(rag_vs_tuned=ci(0.3), tuned_rag_vs_rag=ci(0.1, 0.03), tuned_rag_vs_tuned=ci(0.4)),
        SETTINGS,
    )
    assert advice.verdict == "combine"


def test_declared_task_change_triggers_a_retune() -> None:
    advice = advise(inputs(), AdviceSettings(task_changed=True))
    assert advice.verdict == "retune_now"


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


def test_freshness_by_hash_and_by_cutoff() -> None:
    old = _record("a", "1", date(2026, 3, 1))
    changed = _record("b", "2", date(2026, 10, 1))
    new = _record("c", "3", date(2026, 10, 1))
    index = Knowledge(
        side="rag",
        content_hashes=frozenset({old.content_hash, changed.content_hash, new.content_hash}),
    )
    tuned = Knowledge(side="tuned", content_hashes=frozenset({old.content_hash}))
    remote = Knowledge(side="remote", cutoff=date(2026, 6, 30))
    rag_view, tuned_view, remote_view = (
        freshness([old, changed, new], k) for k in (index, tuned, remote)
    )
    assert (rag_view.unknown, rag_view.age_days, rag_view.newest_known) == (0, 0, date(2026, 10, 1))
    assert (tuned_view.unknown, tuned_view.unknown_ids, tuned_view.age_days) == (2, ["b", "c"], 214)
    assert tuned_view.unknown_share == 2 / 3
    assert (remote_view.known, remote_view.newest_known) == (1, date(2026, 3, 1))
