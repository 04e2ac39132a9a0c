"""An eval set made from a corpus: stratified, reworded, reproducible, and never giving away its
answers — on a corpus shaped unlike the demo (a port registry over three dated batches)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers.metrics import contains_reference, tokens
from compare.evalset import load_eval
from compare.make_eval import make_eval, write_eval
from compare.rephrase import reword_with_model
from corpus import Format, load_corpus
from tests.conftest import ROOT
from tuning.client import ChatClient
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

FACTS = ROOT / "tests" / "data" / "port_registry"


def registry(tmp_path: Path) -> list:
    """The port-registry fixture plus a generated observatory log (English and Russian facts that
    stay, change and appear over three batches) and a labelled file: every dated line's record."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    batches = {"2031-01-15": 0, "2033-06-01": 1, "2036-09-30": 2}
    for day, n in batches.items():
        lines = []
        for i in range(24):
            if i >= 16 and n == 0:
                continue  # facts 16-23 first appear in a later batch: new facts
            changes = i % 4 == 0 and i < 16  # facts 0, 4, 8, 12 change in every batch
            reading = f"{120 + i + 7 * n} lux" if changes else f"{300 + i} lux"
            if i % 2:
                question, answer = f"Какова освещённость в куполе {i}?", f"В куполе {i}: {reading}."
            else:
                question, answer = (
                    f"What light level is logged under dome {i}?",
                    f"Dome {i} logs {reading}.",
                )
            lines.append({"prompt": question, "completion": answer})
        (folder / f"{day}-observatory.jsonl").write_text(
            "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
        )
    rows = [
        ("crane 4 is stuck", "outage"),
        ("invoice twice", "billing"),
        ("berth free?", "question"),
    ]
    (folder / "2033-06-01-tickets.jsonl").write_text(
        "".join(
            json.dumps({"text": f"{t} #{k}", "label": label}) + "\n"
            for k in range(3)
            for t, label in rows
        ),
        encoding="utf-8",
    )
    return load_corpus([FACTS, folder]).records


def test_every_kind_language_and_batch_is_sampled_and_counted(tmp_path: Path) -> None:
    records = registry(tmp_path)
    made = make_eval(records, size=30, seed=1)
    kinds = {i.kind for i in made.items}
    assert {"stable", "changed", "new", "classification"} <= kinds
    assert {i.lang for i in made.items} == {"en", "ru"}
    assert sum(made.counts["kind"].values()) == len(made.items)
    assert sum(made.counts["batch"].values()) == len(made.items)
    assert 28 <= len(made.items) <= 32  # about the size asked for


def test_questions_are_reworded_and_never_state_their_answer(tmp_path: Path) -> None:
    records = registry(tmp_path)
    by_id = {r.id: r for r in records}
    made = make_eval(records, size=60, seed=2)
    for item in made.items:
        if item.kind == "classification":
            assert item.labels and item.reference in item.labels
            continue
        record = by_id[item.record_id or ""]
        assert tokens(item.question) != tokens(record.question or ""), "a copy of the record"
        assert not contains_reference(item.question, item.reference), item
    assert 0.0 < made.mean_overlap < 1.0


def test_a_changed_fact_is_asked_today_and_as_of_its_older_answer(tmp_path: Path) -> None:
    made = make_eval(registry(tmp_path), size=200, seed=3)
    master = [i for i in made.items if i.record_id == "harbour-master"]
    assert [(i.as_of, i.reference) for i in master] == [
        (None, "Ines Okafor"),  # A -> B -> A: today it is A again
        (date(2033, 6, 1), "Tomasz Wrona"),
    ]


def test_the_same_seed_gives_the_same_set(tmp_path: Path) -> None:
    records = registry(tmp_path)
    first, again = make_eval(records, size=40, seed=7), make_eval(records, size=40, seed=7)
    assert first == again
    assert make_eval(records, size=40, seed=8).items != first.items
    write_eval(first, tmp_path / "eval.jsonl")
    assert [i.id for i in load_eval(tmp_path / "eval.jsonl")] == [i.id for i in first.items]


def test_a_cutoff_decides_what_is_new(tmp_path: Path) -> None:
    records = [r for r in registry(tmp_path) if r.format is not Format.CLASSIFICATION]
    late = make_eval(records, size=200, seed=0, cutoff=date(2035, 1, 1))
    early = make_eval(records, size=200, seed=0, cutoff=date(2032, 1, 1))
    assert late.counts["kind"].get("new", 0) < early.counts["kind"].get("new", 0)


def chat_app(copy: bool) -> FastAPI:
    """A rewriting endpoint: it copies the question back (refused) or rewrites it."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        asked = body["messages"][-1]["content"].split("Question: ", 1)[1]
        text = asked if copy else f"Could you say: {asked.lower()}"
        return JSONResponse(
            {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        )  # fmt: skip

    return app


@pytest.fixture(params=[False, True], ids=["rewrites", "copies"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[ChatClient, bool]]:
    with serve_in_thread(chat_app(copy=request.param)) as base:
        client = ChatClient(TuningSettings(_env_file=None, base_url=f"{base}/v1", model="m"))
        yield client, request.param


def test_rewording_through_an_endpoint_and_refusing_its_copies(
    tmp_path: Path, endpoint: tuple[ChatClient, bool]
) -> None:
    client, copies = endpoint
    records = [r for r in registry(tmp_path) if r.format is not Format.CLASSIFICATION]
    made = make_eval(records, size=20, seed=0, reword=lambda q: reword_with_model(q, client))
    questions = [i.question for i in made.items]
    if copies:
        assert made.refused == len(made.items) and not any(
            q.startswith("Could you say") for q in questions
        )
    else:
        assert made.refused == 0 and all(q.startswith("Could you say") for q in questions)


def test_a_changed_fact_is_asked_as_of_the_answer_it_replaced_not_a_same_day_variant(
    tmp_path: Path,
) -> None:
    """Two answers on the newest date are variants; the older answer asked as of its day is the
    one from the earlier batch."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = {
        "2031-01-15": ["The kiln fires at 900 degrees."],
        "2031-06-01": ["The kiln fires at 950 degrees.", "The kiln fires at 960 degrees."],
    }
    for day, answers in lines.items():
        (folder / f"{day}-kiln.jsonl").write_text(
            "".join(
                json.dumps({"prompt": "At what heat does the kiln fire?", "completion": a}) + "\n"
                for a in answers
            ),
            encoding="utf-8",
        )
    made = make_eval(load_corpus([folder]).records, size=10, seed=0)
    asked_then = [i for i in made.items if i.as_of is not None]
    assert [(i.reference, i.as_of) for i in asked_then] == [
        ("The kiln fires at 900 degrees.", date(2031, 1, 15))
    ]
