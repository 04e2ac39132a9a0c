"""The eval run: every side asked once per question, cached on re-runs, scored, reported."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers import Answer, Question, SourceHit, Usage
from answers.prices import PriceBook
from compare.advice import AdviceSettings
from compare.comparison import Context, compare
from compare.cost import CostSettings
from compare.evalset import EvalItem, EvalLoadError, load_eval
from compare.freshness import batch_timeline
from compare.knowledge import Knowledge, SidesKnowledge
from compare.report import write_report
from compare.runs_db import RunsDatabase
from corpus import load_corpus
from tests.conftest import FORMATS_DIR, ROOT


class TableAnswerer:
    """Answers from a fixed table and counts how often it was asked (to see the cache work)."""

    def __init__(
        self, name: str, table: dict[str, str], sources: dict[str, list[str]] | None = None
    ) -> None:
        self.name, self.table, self.sources, self.calls = name, table, sources or {}, 0

    def answer(self, question: Question) -> Answer:
        self.calls += 1
        hits = [
            SourceHit(record_id=r, score=1.0 - i / 10)
            for i, r in enumerate(self.sources.get(question.text, []))
        ]
        return Answer(
            answerer=self.name,
            text=self.table.get(question.text, ""),
            sources=hits,
            latency_s=0.01,
            usage=Usage(prompt_tokens=100, completion_tokens=10),
        )


class BrokenAnswerer:
    name = "tuned"

    def answer(self, question: Question) -> Answer:
        raise ConnectionError("endpoint down")


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    lines = [
        {
            "id": "q1",
            "question": "What is the capital of Italy?",
            "reference": "Rome",
            "record_id": "ir-1",
        },
        {"id": "q2", "question": "Biggest planet?", "reference": "Jupiter", "record_id": "gm-1"},
        {"prompt": "Sum 1..10?", "completion": "55", "id": "iot-1"},
        {
            "id": "q4",
            "question": "Sentiment: 'great food'",
            "reference": "положительный",
            "labels": ["положительный", "отрицательный"],
        },
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8"
    )
    return path


def test_eval_file_in_eval_or_corpus_shape(eval_file: Path) -> None:
    items = load_eval(eval_file)
    assert [i.id for i in items] == ["q1", "q2", "iot-1", "q4"]
    assert (
        items[2].question == "Sum 1..10?"
        and items[2].reference == "55"
        and items[2].record_id == "iot-1"
    )
    assert items[3].is_classification


def test_bad_eval_lines_are_all_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"question": "q"}\n[1]\n{"prompt": "p", "completion": "c"}\n', encoding="utf-8"
    )
    with pytest.raises(EvalLoadError) as caught:
        load_eval(path)
    assert "bad.jsonl:1:" in str(caught.value) and "bad.jsonl:2:" in str(caught.value)


def test_run_scores_caches_and_reports(eval_file: Path, tmp_path: Path) -> None:
    items = load_eval(eval_file)
    records = load_corpus(FORMATS_DIR).records
    by_q = {i.question: i.reference for i in items}
    rag = TableAnswerer("base_rag", by_q, {i.question: ["zz", i.record_id or ""] for i in items})
    known = frozenset(r.content_hash for r in records)
    facts = SidesKnowledge(
        index=Knowledge(side="index", content_hashes=known),
        tuned=Knowledge(side="tuned", cutoff=date(2026, 1, 1)),
        training_records=10,
    )
    store = RunsDatabase(tmp_path / "runs.sqlite")
    context = Context(
        records=records,
        knowledge=facts,
        book=PriceBook.load(ROOT / "data" / "prices.json"),
        cost=CostSettings(base_model="gpt-4o-mini"),
        advice=AdviceSettings(min_questions=1),
    )
    seen: list[tuple[int, int]] = []
    first = compare(
        items,
        [rag, BrokenAnswerer()],
        context,
        db=store,
        progress=lambda d, t, _: seen.append((d, t)),
    )
    assert seen[0] == (0, 8) and seen[-1] == (8, 8)
    rag_rows = first.run.for_answerer("base_rag")
    assert [r.metrics["token_f1"] for r in rag_rows] == [1.0, 1.0, 1.0, 1.0]
    assert rag_rows[0].metrics["hit@1"] == 0.0 and rag_rows[0].metrics["mrr"] == 0.5
    broken = first.run.for_answerer("tuned")
    assert all(r.answer.error == "ConnectionError: endpoint down" for r in broken)
    side = {s.answerer: s for s in first.summary.sides}
    assert side["base_rag"].label_accuracy == 1.0 and side["tuned"].errors == 4
    gap = first.summary.gap("base_rag", "tuned")
    assert gap is not None and gap.diff.mean == pytest.approx(1.0)
    assert first.advice.verdict == "incomplete"  # no verdict about a side that always failed
    # per query: 100 in × $0.15/1M + 10 out × $0.60/1M = $0.000021, plus machine time for the embedder
    rag_cost = next(s for s in first.cost.sides if s.model.side == "base_rag")
    assert rag_cost.monthly.per_query_usd == pytest.approx(0.000021 + 0.01 / 3600 * 0.10)

    second = compare(items, [rag, BrokenAnswerer()], context, db=store)
    assert rag.calls == 4  # every base + RAG answer came from the cache
    assert all(r.cached for r in second.run.for_answerer("base_rag"))
    assert not any(r.cached for r in second.run.for_answerer("tuned"))  # failures are asked again
    assert [r.run_id for r in store.runs()] == [first.run.run_id, second.run.run_id]

    json_path, md_path = write_report(second, tmp_path / "report")
    text = md_path.read_text(encoding="utf-8")
    for heading in ("## Advice", "## Quality", "## Freshness", "## Cost", "break-even"):
        assert heading in text
    assert json.loads(json_path.read_text(encoding="utf-8"))["advice"]["verdict"] == "incomplete"


def test_batches_for_the_timeline() -> None:
    records = load_corpus(FORMATS_DIR).records
    rows = batch_timeline(records)
    assert sum(b.records for b in rows) == len(records)


def test_demo_batches_sit_at_their_file_dates() -> None:
    """Lines may carry older dates of their own; the batch still sits at its file's date."""
    rows = batch_timeline(load_corpus(ROOT / "data" / "corpus").records)
    assert [(b.name, b.day) for b in rows] == [
        ("2026-03-01", date(2026, 3, 1)),
        ("2026-07-01", date(2026, 7, 1)),
        ("2026-10-01", date(2026, 10, 1)),
        ("2026-11-01", date(2026, 11, 1)),
    ]


def test_stale_figures_on_unseen_facts_trip_the_staleness_criterion(tmp_path: Path) -> None:
    """The tuned side restates old figures in the right words: token F1 hardly drops, the
    numbers do, and the advice measures staleness on the numbers."""
    facts_now = {
        "r1": ("How long is the trial?", "The trial lasts 30 days."),
        "r2": ("How many devices?", "Up to 10 devices can be linked."),
        "r3": ("What is the refund window?", "Refunds are possible within 30 days."),
        "r4": ("How long is trash kept?", "Deleted files stay in the trash for 45 days."),
    }
    corpus = tmp_path / "2026-10-01-faq.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": rid, "prompt": q, "completion": a}) + "\n"
            for rid, (q, a) in facts_now.items()
        ),
        encoding="utf-8",
    )
    records = load_corpus(corpus).records
    items = load_eval(corpus)
    old = {
        "r3": "Refunds are possible within 14 days.",
        "r4": "Deleted files stay in the trash for 30 days.",
    }
    tuned = TableAnswerer("tuned", {q: old.get(rid, a) for rid, (q, a) in facts_now.items()})
    seen_by_tuned = frozenset(r.content_hash for r in records if r.id in {"r1", "r2"})
    comparison = compare(
        items,
        [tuned],
        Context(
            records=records,
            knowledge=SidesKnowledge(
                index=Knowledge(side="index", content_hashes=frozenset()),
                tuned=Knowledge(side="tuned", content_hashes=seen_by_tuned),
                training_records=2,
            ),
            book=PriceBook.load(ROOT / "data" / "prices.json"),
        ),
    )
    f1 = comparison.summary.quality_of("tuned", "token_f1")
    assert f1 is not None and f1.known and f1.unknown
    assert f1.known.mean - f1.unknown.mean < AdviceSettings().max_new_fact_drop  # F1 misses it
    inputs = comparison.advice.inputs
    assert inputs.fact_metric == "numbers"
    assert (inputs.tuned_known, inputs.tuned_unknown) == (1.0, 0.0)
    stale = next(c for c in comparison.advice.criteria if c.name == "stale_on_new_facts")
    assert stale.met and stale.value.startswith("numbers known 1.000 vs unseen 0.000")


def test_quality_is_split_by_kind_of_fact_for_every_side(tmp_path: Path) -> None:
    """stable / changed / new: the same split for every side, whatever each side has seen."""
    lines = [
        ("s1", "stable", "How long is the trial?", "The trial lasts 30 days."),
        ("s2", "stable", "How many devices?", "Up to 10 devices."),
        ("c1", "changed", "What is the refund window?", "Within 30 days."),
        ("n1", "new", "Where is the new region?", "Singapore."),
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "kind": k, "question": q, "reference": a}) + "\n"
            for i, k, q, a in lines
        ),
        encoding="utf-8",
    )
    items = load_eval(path)
    right = {q: a for _, _, q, a in lines}
    stale = {
        **right,
        "What is the refund window?": "Within 14 days.",
        "Where is the new region?": "",
    }
    comparison = compare(
        items,
        [TableAnswerer("rag", right), TableAnswerer("tuned", stale)],
        Context(
            records=[],
            knowledge=SidesKnowledge(
                index=Knowledge(side="index", content_hashes=frozenset()),
                tuned=Knowledge(side="tuned", cutoff=date(2026, 1, 1)),
                training_records=2,
            ),
            book=PriceBook.load(ROOT / "data" / "prices.json"),
        ),
    )
    rag = comparison.summary.quality_of("rag", "token_f1")
    tuned = comparison.summary.quality_of("tuned", "token_f1")
    assert rag is not None and tuned is not None
    assert list(rag.by_kind) == ["stable", "changed", "new"]
    assert {k: v.mean for k, v in rag.by_kind.items()} == {
        "stable": 1.0,
        "changed": 1.0,
        "new": 1.0,
    }
    assert tuned.by_kind["stable"].mean == 1.0 and tuned.by_kind["stable"].n == 2
    assert tuned.by_kind["changed"].mean == pytest.approx(2 / 3)  # "within", "days" of 3 words
    assert tuned.by_kind["new"].mean == 0.0
    _, md = write_report(comparison, tmp_path / "report")
    text = md.read_text(encoding="utf-8")
    assert "### By kind of fact" in text and "| changed facts |" in text


def slow_echo_app(delay_s: float) -> FastAPI:
    """A chat endpoint that answers after a fixed delay, with a reply that depends on the question."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(delay_s)
        question = body["messages"][-1]["content"]
        text = "Rome" if "Italy" in question else f"I do not know {len(question)}"
        return JSONResponse(
            {
                "id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            }
        )  # fmt: skip

    return app


def test_a_concurrent_run_scores_exactly_like_a_sequential_one(tmp_path: Path) -> None:
    from tuning.client import TunedAnswerer
    from tuning.serve import serve_in_thread
    from tuning.settings import TuningSettings

    items = [
        EvalItem(id=f"q{i}", question=q, reference="Rome")
        for i, q in enumerate(
            ["Capital of Italy?", "Capital of France?", "Italy's capital city?"] * 4
        )
    ]
    context = Context(
        records=[],
        knowledge=SidesKnowledge(),
        book=PriceBook.load(ROOT / "data" / "prices.json"),
    )
    with serve_in_thread(slow_echo_app(0.2)) as base:
        settings = TuningSettings(_env_file=None, base_url=f"{base}/v1", model="m", max_retries=0)
        runs = {}
        for n in (1, 6):
            seen: list[str] = []
            runs[n] = compare(
                items,
                [TunedAnswerer(settings)],
                context,
                db=RunsDatabase(tmp_path / f"runs-{n}.sqlite"),
                concurrency=n,
                progress=lambda done, total, what, seen=seen: seen.append(what),
            )
            assert seen[-1] == "answered 12 · failed 0 · waiting 0"
    one, six = runs[1].run.scored, runs[6].run.scored
    assert [s.item_id for s in one] == [s.item_id for s in six] == [i.id for i in items]
    assert [s.answer.text for s in one] == [s.answer.text for s in six]
    assert [s.metrics for s in one] == [s.metrics for s in six]
    assert runs[1].summary.quality == runs[6].summary.quality


def counting_app(delay_s: float, peak: list[int]) -> FastAPI:
    """A chat endpoint that records the most requests it held at once."""
    app = FastAPI()
    held = [0]

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        await request.json()
        held[0] += 1
        peak[0] = max(peak[0], held[0])
        await asyncio.sleep(delay_s)
        held[0] -= 1
        return JSONResponse(
            {
                "id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Rome"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
            }
        )  # fmt: skip

    return app


def test_sides_on_one_endpoint_share_its_concurrency(tmp_path: Path) -> None:
    """Three sides on one server are asked `concurrency` questions at once between them (a local
    server's queue is not tripled); a side on another endpoint keeps its own."""
    from compare.asking import ask_all
    from tuning.client import TunedAnswerer
    from tuning.serve import serve_in_thread
    from tuning.settings import TuningSettings

    items = [
        EvalItem(id=f"q{i}", question=f"Capital of Italy, {i}?", reference="Rome")
        for i in range(12)
    ]
    shared, other = [0], [0]
    with (
        serve_in_thread(counting_app(0.1, shared)) as one,
        serve_in_thread(counting_app(0.1, other)) as two,
    ):
        on_one = TuningSettings(_env_file=None, base_url=f"{one}/v1", model="m", max_retries=0)
        on_two = TuningSettings(_env_file=None, base_url=f"{two}/v1", model="m", max_retries=0)
        sides = [TunedAnswerer(on_one, name=n) for n in ("base", "tuned", "tuned_rag")]
        scored = ask_all(items, [*sides, TunedAnswerer(on_two, name="remote")], concurrency=3)
    assert all(s.answer.ok for s in scored) and len(scored) == 4 * len(items)
    assert [s.answerer for s in scored[:12]] == ["base"] * 12, "results stay in (side, item) order"
    assert shared[0] == 3, f"one endpoint held {shared[0]} requests at once"
    assert other[0] == 3, f"the other endpoint held {other[0]} at once"
