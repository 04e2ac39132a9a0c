"""The workbench end to end on the demo data: a real index, the shipped adapter served by the real
local server, every side asked, scored, priced and advised."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from compare.cost import CostSettings
from compare.evalset import load_eval
from compare.workbench import Workbench
from corpus import current_records, load_corpus
from tests.conftest import DEMO_ADAPTER, DEMO_CORPUS, DEMO_EVAL, workbench_on
from tests.tuning_servers import free_port
from tuning.manifest import TuningManifest
from tuning.settings import TuningSettings

ADAPTER = DEMO_ADAPTER
CUTOFF = date(2026, 3, 31)
NEWEST = date(2026, 11, 1)  # the demo's newest batch: news passages


def workbench(work: Path, base_url: str) -> Workbench:
    """A workbench on the demo data with a private work folder; no .env is read."""
    tuning = TuningSettings(
        _env_file=None,
        base_url=base_url,
        manifest_path=ADAPTER,
        max_retries=0,
        # the base model rambles to whatever it is allowed (median 123 of 128 tokens on the demo);
        # nothing here scores answer quality, and 24 tokens hold a demo answer's sentence
        max_tokens=24,
        timeout=300,
        retry_budget_s=1800,  # a busy machine: wait out the server's 503s, do not fail on them
    )
    return workbench_on(work, tuning)


def test_a_side_that_cannot_start_answers_with_its_error(tmp_path: Path) -> None:
    """No index built and nothing listening: every side says why, nothing raises."""
    wb = workbench(tmp_path, f"http://127.0.0.1:{free_port()}/v1")
    answers = wb.ask("How much does the Pro plan cost?")
    assert set(answers) == {"rag", "base_rag", "tuned", "tuned_rag"}
    for side in ("rag", "base_rag", "tuned_rag"):
        assert "rag.rebuild" in (answers[side].error or ""), "says how to build the index"
    assert "cannot connect" in (answers["tuned"].error or "")
    assert not any(a.ok for a in answers.values())
    status = wb.index_status()
    assert status.built_at is None and status.pending_new == len(wb.records())


@pytest.fixture(scope="module")
def served(demo_server: str) -> str:
    """The shipped demo adapter behind `python -m tuning.serve` on 127.0.0.1, int8 weights as
    `make demo` serves them: nothing here scores answer quality, and the adapter answers its
    training questions as in fp32 (bench/weights.py)."""
    return demo_server


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, served: str) -> Workbench:
    wb = workbench(tmp_path_factory.mktemp("workbench"), served)
    wb.rebuild_index()
    return wb


@pytest.mark.slow
def test_freshness_reads_both_manifests(bench: Workbench) -> None:
    records = current_records(load_corpus([DEMO_CORPUS]).records)
    # expected from the file names alone: the adapter was trained on the March batch only
    later = sum(1 for r in records if (r.batch or "") > "2026-03-01")
    rag, tuned = bench.freshness()
    assert (rag.side, rag.unknown, rag.newest_known) == ("index", 0, NEWEST)
    assert tuned.side == "tuned" and tuned.unknown == later
    assert tuned.newest_known is not None and tuned.newest_known <= CUTOFF
    assert tuned.age_days == (NEWEST - tuned.newest_known).days


@pytest.mark.slow
def test_ask_answers_from_every_side_with_cost_and_cutoff(bench: Workbench) -> None:
    answers = bench.ask("How much storage does the Free plan include?", bench.answerer_names)
    assert set(answers) == {"rag", "base_rag", "base", "tuned", "tuned_rag"}
    assert all(a.ok for a in answers.values()), {n: a.error for n, a in answers.items()}
    assert answers["rag"].sources and answers["tuned_rag"].sources and answers["base_rag"].sources
    assert not answers["base"].sources and answers["base"].knowledge_cutoff is None
    # the base model is the adapter switched off: it does not answer as the tuned model does
    assert answers["base"].text != answers["tuned"].text
    assert answers["tuned"].knowledge_cutoff == CUTOFF
    assert answers["tuned"].usage.completion_tokens > 0 and answers["tuned"].cost_usd > 0
    assert answers["rag"].knowledge_cutoff == NEWEST


@pytest.mark.slow
def test_an_answer_costs_what_the_report_says_under_the_users_prices(bench: Workbench) -> None:
    """One source of truth: after "Tuned model billed as" changes, the Ask tab's answer and the
    run's report price the tuned side at the same entry."""
    billed = CostSettings(tuned_model="gpt-4o-mini-ft")
    book = bench.price_book()
    price = book.get("gpt-4o-mini-ft")
    answer = bench.ask("How much storage does the Free plan include?", ["tuned"], billed)["tuned"]
    expected = (
        answer.usage.prompt_tokens * price.input_per_1m
        + answer.usage.completion_tokens * price.output_per_1m
    ) / 1_000_000
    assert answer.cost_usd == pytest.approx(expected)
    run = bench.compare(load_eval(DEMO_EVAL)[:2], ["tuned"], cost=billed)
    for s in run.run.scored:
        usage = s.answer.usage
        per = (usage.prompt_tokens * 0.30 + usage.completion_tokens * 1.20) / 1_000_000
        assert s.answer.cost_usd == pytest.approx(per)  # the same arithmetic in the report's run
    tuned = next(c for c in run.cost.sides if c.model.side == "tuned")
    mean = sum(s.answer.cost_usd for s in run.run.scored) / len(run.run.scored)
    assert tuned.monthly.per_query_usd == pytest.approx(mean)


@pytest.mark.slow
def test_base_plus_rag_is_priced_as_the_base_model_with_its_passages(bench: Workbench) -> None:
    """The base model writes base + RAG from passages: its prompts carry them, it is billed at
    the base model's entry, and a price change moves the answer's cost and the report's."""
    items = load_eval(DEMO_EVAL)[:2]
    run = bench.compare(items, ["base_rag", "base"], cost=CostSettings(base_model="gpt-4o-mini"))
    assert run.writers["base_rag"].startswith("smollm2-135m-instruct at ")
    with_passages = {s.item_id: s.answer.usage for s in run.run.for_answerer("base_rag")}
    closed_book = {s.item_id: s.answer.usage for s in run.run.for_answerer("base")}
    for item in items:  # the same question with passages is a longer prompt
        assert with_passages[item.id].prompt_tokens > closed_book[item.id].prompt_tokens + 20
    side = next(c for c in run.cost.sides if c.model.side == "base_rag")
    assert side.model.generator == "gpt-4o-mini" and side.model.embedder is not None
    dearer = bench.price_book().with_rows([{"entry": "gpt-4o-mini", "input_per_1m": 1.5}])
    repriced = bench.reassess(run, run.cost.settings, run.advice.settings, book=dearer)
    again = next(c for c in repriced.cost.sides if c.model.side == "base_rag")
    assert again.monthly.per_query_usd > side.monthly.per_query_usd
    answer = bench.ask(items[0].question, ["base_rag"], run.cost.settings)["base_rag"]
    price = bench.price_book().get("gpt-4o-mini")
    tokens = answer.usage.prompt_tokens * 0.15 + answer.usage.completion_tokens * 0.60
    assert price.input_per_1m == 0.15 and answer.cost_usd == pytest.approx(
        tokens / 1_000_000 + 0.01 / 3600 * 0.10
    )


@pytest.mark.slow
def test_an_unreachable_base_endpoint_fails_only_the_sides_it_writes(bench: Workbench) -> None:
    dead = Workbench(
        bench.settings.with_overrides(tuning_base_endpoint=f"http://127.0.0.1:{free_port()}/v1")
    )
    answers = dead.ask("How much storage does the Free plan include?", dead.answerer_names)
    for side in ("base", "base_rag"):
        assert "cannot connect" in (answers[side].error or ""), side
    assert all(answers[side].ok for side in ("rag", "tuned", "tuned_rag"))


@pytest.mark.slow
def test_evaluation_scores_prices_advises_and_caches(bench: Workbench, tmp_path: Path) -> None:
    items = load_eval(DEMO_EVAL)[::20]  # 5 questions spread over old, new and changed facts
    first = bench.compare(items)
    assert first.run.answerers == ["rag", "base_rag", "tuned", "tuned_rag"]
    for side in first.summary.sides:
        assert side.errors == 0 and side.answered == len(items), side.first_error
    tuned = first.summary.quality_of("tuned")
    assert tuned is not None and tuned.known is not None and tuned.unknown is not None
    manifest = TuningManifest.load(ADAPTER)
    known = {s.item_id: s.known for s in first.run.for_answerer("tuned")}
    for item in items:
        if item.record_id:  # known exactly when the question's record is in the manifest
            record = next(r for r in bench.records() if r.id == item.record_id)
            assert known[item.id] == (record.content_hash in manifest.known_hashes())
    costs = {c.model.side: c.monthly for c in first.cost.sides}
    assert costs["tuned"].per_query_usd > 0 and costs["rag"].per_query_usd > 0
    # 5 questions are too few for any verdict: the advice says so and how many more it needs
    assert first.advice.verdict == "not_enough_evidence"
    needed = first.advice.settings.min_questions - len(items)
    assert first.advice.further_questions is not None and first.advice.further_questions >= needed
    tuned_view = next(f for f in first.freshness if f.side == "tuned")
    assert first.advice.inputs.new_records == tuned_view.new_since_cutoff
    later = sum(1 for r in bench.records() if r.as_of and r.as_of > CUTOFF)
    assert tuned_view.new_since_cutoff == later  # dated after the cutoff, not merely untrained

    second = bench.compare(items)
    assert all(s.cached for s in second.run.scored), "a re-run only asks what changed"
    assert [r.run_id for r in bench.history()][-2:] == [first.run.run_id, second.run.run_id]

    cheaper = bench.reassess(
        second,
        second.cost.settings.model_copy(update={"queries_per_month": 1}),
        second.advice.settings,
    )
    assert cheaper.cost.settings.queries_per_month == 1
    assert cheaper.summary == second.summary, "repricing asks nobody again"


@pytest.mark.parametrize(
    "change",
    [
        {"hybrid": "off"},
        {"k": 3},
        {"abstain_below": 0.5},
        {"same_fact": 0.95},
        {"dense_weight": 0.5},
        {"name_penalty": 0.2},
    ],
)
def test_a_retrieval_setting_change_is_not_answered_from_the_cache(
    tmp_path: Path, change: dict[str, object]
) -> None:
    wb = workbench(tmp_path, "http://127.0.0.1:9/v1")
    names = ["rag", "base_rag", "base", "tuned", "tuned_rag"]
    before = wb.cache_keys(names)
    changed = wb.settings.model_copy(update={"rag": wb.settings.rag.model_copy(update=change)})
    after = Workbench(changed).cache_keys(names)
    for side in ("rag", "base_rag", "tuned_rag"):
        assert after[side] != before[side], side
    assert after["tuned"] == before["tuned"] and after["base"] == before["base"]


def test_a_writer_change_is_not_answered_from_the_cache(tmp_path: Path) -> None:
    wb = workbench(tmp_path, "http://127.0.0.1:9/v1")
    names = ["rag", "base_rag", "base", "tuned", "tuned_rag"]
    before = wb.cache_keys(names)
    after = Workbench(wb.settings.with_overrides(tuning_base_endpoint_model="gpt-4o-mini"))
    keys = after.cache_keys(names)
    assert keys["base"] != before["base"] and keys["base_rag"] != before["base_rag"]
    assert all(keys[n] == before[n] for n in ("rag", "tuned", "tuned_rag"))
    assert len(set(before.values())) == len(names)  # no two sides share answers
