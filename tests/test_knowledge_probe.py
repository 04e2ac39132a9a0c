"""The knowledge probe against models whose knowledge is known: real local OpenAI-compatible
servers answering the fixture's questions as they stood at a chosen batch. The truth comes from
the fixture's files; the probe must read it back from the answers alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from compare.effective_cutoff import BatchDate, batch_dates, estimate_cutoff
from compare.knowledge_probe import (
    LIKELIHOOD_USED,
    ProbeResult,
    ProbeSettings,
    load_probe,
    probe_sides,
    save_probe,
)
from compare.probe_facts import choose_facts
from compare.runs_db import RunsDatabase
from corpus import load_corpus
from corpus.facts import FactHistory, fact_histories
from tests.probe_helpers import BATCHES, CORPUS, every_question, knowing_app, known_at
from tuning.client import TunedAnswerer
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

RECORDS = load_corpus([CORPUS]).records
HISTORIES = fact_histories(RECORDS)
DATES = batch_dates(RECORDS)
# every model the tests ask: a model trained up to each batch, one that knows nothing, and one
# that gives every fact's newest version (the newest batch's answers)
MODELS = {f"at-{day}": known_at(day) for day in BATCHES} | {"nothing": known_at(None)}
MODELS["silent"] = dict.fromkeys(every_question(), "")  # answers every question with nothing


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(knowing_app(MODELS, loglik=True)) as base:
        yield f"{base}/v1"


@pytest.fixture(scope="module")
def answers_only_url() -> Iterator[str]:
    with serve_in_thread(knowing_app(MODELS, loglik=False)) as base:
        yield f"{base}/v1"


def side(url: str, model: str, name: str = "tuned") -> TunedAnswerer:
    settings = TuningSettings(_env_file=None, base_url=url, model=model, max_retries=0, timeout=10)
    return TunedAnswerer(settings, name=name)


def probe(url: str, models: dict[str, str], likelihood: bool, **kw: object) -> ProbeResult:
    """Probe `models` (side name -> model) on every fact of the fixture."""
    answerers = [side(url, model, name) for name, model in models.items()]
    support = {
        a.name: LIKELIHOOD_USED if a.client.supports_loglik() else "no logprobs" for a in answerers
    }
    assert all((v == LIKELIHOOD_USED) == likelihood for v in support.values())
    return probe_sides(HISTORIES, DATES, answerers, support, **kw)  # type: ignore[arg-type]


def test_the_fixture_is_what_the_probe_needs() -> None:
    assert [b.day for b in DATES] == BATCHES and len(HISTORIES) == len(every_question())
    assert sum(h.changed for h in HISTORIES) == 9
    assert len(choose_facts(HISTORIES, RECORDS, 100)) == len(HISTORIES)


@pytest.mark.parametrize("trained", BATCHES[1:3])
def test_a_model_trained_up_to_a_middle_batch_is_placed_there(url: str, trained: date) -> None:
    result = probe(url, {"tuned": f"at-{trained}"}, likelihood=True)
    estimate = result.sides[0].estimate
    assert estimate.status == "estimated" and estimate.day == trained, estimate.describe()
    assert estimate.facts == len(HISTORIES)
    assert estimate.curve[estimate.best_index or 0].share == 1.0
    by_likelihood = result.sides[0].by_likelihood
    assert by_likelihood is not None and by_likelihood.day == trained, by_likelihood


def test_a_model_that_knows_nothing_comes_out_before_the_corpus(url: str) -> None:
    found = probe(url, {"base": "nothing"}, likelihood=True).sides[0]
    assert found.estimate.status == "before_corpus", found.estimate.describe()
    assert found.estimate.describe().startswith("before the corpus")
    # its likelihood prefers whichever answers read likelier: no date is read from that
    assert found.by_likelihood is not None and found.by_likelihood.status == "cannot_estimate"
    assert "state none of the facts" in (found.by_likelihood.reason or "")


def test_a_model_giving_every_newest_version_comes_out_after_the_newest_batch(
    answers_only_url: str,
) -> None:
    result = probe(answers_only_url, {"tuned": f"at-{BATCHES[-1]}"}, likelihood=False)
    found = result.sides[0]
    assert found.estimate.status == "after_newest" and found.estimate.day == BATCHES[-1]
    assert found.by_likelihood is None and found.likelihood == "no logprobs"


def test_the_estimate_follows_the_answers_not_the_question_order(url: str) -> None:
    """Two models asked the same facts in the same order get different cutoffs: the probe reads
    the answers."""
    result = probe(url, {"old": f"at-{BATCHES[1]}", "new": f"at-{BATCHES[2]}"}, likelihood=True)
    days = {s.side: s.estimate.day for s in result.sides}
    assert days == {"old": BATCHES[1], "new": BATCHES[2]}


def test_a_side_whose_endpoint_fails_cannot_be_estimated(url: str) -> None:
    estimate = probe(url, {"tuned": "down"}, likelihood=False).sides[0].estimate
    assert estimate.status == "cannot_estimate" and estimate.day is None
    assert "worker crashed" in (estimate.reason or "") and "endpoint" in (estimate.fix or "")


def test_a_side_that_replies_nothing_cannot_be_estimated(answers_only_url: str) -> None:
    estimate = probe(answers_only_url, {"tuned": "silent"}, likelihood=False).sides[0].estimate
    assert estimate.status == "cannot_estimate" and "every reply was empty" in (
        estimate.reason or ""
    )


def test_answers_are_cached_like_eval_answers(url: str, tmp_path: Path) -> None:
    db = RunsDatabase(tmp_path / "runs.sqlite")
    keys = {"tuned": "probe-test"}
    first = probe(
        url, {"tuned": f"at-{BATCHES[1]}"}, likelihood=True, cache=db, configurations=keys
    )
    again = probe(
        url, {"tuned": f"at-{BATCHES[1]}"}, likelihood=True, cache=db, configurations=keys
    )
    assert not any(r.cached for r in first.sides[0].readings)
    assert all(r.cached for r in again.sides[0].readings)
    assert again.sides[0].estimate == first.sides[0].estimate
    save_probe(again, tmp_path / "probe")
    assert load_probe(tmp_path / "probe") == again


def test_a_corpus_with_no_changed_fact_cannot_be_estimated() -> None:
    stable = [h for h in HISTORIES if not h.changed]
    estimate = estimate_cutoff("tuned", stable, [h.current for h in stable], DATES)
    assert estimate.status == "cannot_estimate" and "changed" in (estimate.reason or "")
    assert "later batch" in (estimate.fix or "")


def test_too_few_facts_per_batch_cannot_be_estimated() -> None:
    few = [h for h in HISTORIES if h.fact_id.startswith(("quellmark", "ardwen"))]
    estimate = estimate_cutoff("tuned", few, [h.current for h in few], DATES)
    assert estimate.status == "cannot_estimate" and "too few facts" in (estimate.reason or "")
    assert "--facts" in (estimate.fix or "")


def test_likelihood_that_picks_at_random_says_so() -> None:
    from compare.effective_cutoff import estimate_by_likelihood

    changed = [h for h in HISTORIES if h.changed]
    # the oldest version of every fact: a fixed preference that matches no one date better
    flat = [h.versions[(i % 2) * -1] for i, h in enumerate(changed)]
    estimate = estimate_by_likelihood("tuned", changed, flat, DATES)
    assert estimate.status == "cannot_estimate" and "random" in (estimate.reason or "")


def test_a_declared_cutoff_outside_the_interval_contradicts_the_estimate(url: str) -> None:
    estimate = probe(url, {"tuned": f"at-{BATCHES[1]}"}, likelihood=True).sides[0].estimate
    assert estimate.contradicts(BATCHES[3]) and estimate.contradicts(date(2020, 1, 1))
    assert not estimate.contradicts(BATCHES[1]) and not estimate.contradicts(date(2021, 10, 1))


def test_sampling_is_stratified_and_settable() -> None:
    picked = choose_facts(HISTORIES, RECORDS, 8, seed=1)
    assert len(picked) == 8 and choose_facts(HISTORIES, RECORDS, 8, seed=1) == picked
    first_seen = {h.versions[0].first_seen for h in picked}
    assert len(first_seen) >= 3  # every batch's facts, not the first eight of the corpus
    assert any(h.changed for h in picked) and not all(h.changed for h in picked)
    assert ProbeSettings(facts=8).facts == 8


def fact(fact_id: str) -> FactHistory:
    return next(h for h in HISTORIES if h.fact_id == fact_id)


def test_the_batches_are_dated_by_their_newest_line() -> None:
    assert DATES[0] == BatchDate(name="2021-03-01", day=date(2021, 3, 1))
    assert fact("vessick-leader").version_on(DATES[3].day).answer == "Dr Henrike Solvang"
