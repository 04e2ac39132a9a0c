"""Tuning on documents: offline passage variants, rewrites by an endpoint, and a short real run
with `--doc-paraphrases` whose manifest says how the variants were made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from corpus import load_corpus
from corpus.record import Format, Record, SourceRef
from tests.test_tuning_client import reply
from tests.tuning_servers import ROOT
from tuning.client import ChatClient
from tuning.data import build_examples, offline_document_variants
from tuning.errors import TuningError
from tuning.manifest import TuningManifest
from tuning.paraphrase import document_variants, split_sentences
from tuning.rewrite import rewrite_passages
from tuning.serve import serve_in_thread
from tuning.settings import TuningSettings

# a maintenance log of a fictional harbour, not the demo's product; one Russian passage
PASSAGES = [
    "Dredger Morwen cleared berth 14 on 3 May 2027. The channel depth is now 11.5 metres. "
    "Night pilotage resumes after the buoy survey. The survey crew counted 212 buoys.",
    "Буксир «Сейма» прошёл ремонт винта 9 июня 2027 года. Осадка судна составляет 4,2 метра. "
    "Выход в рейс назначен на пятницу.",
]


def text_record(rid: str, text: str) -> Record:
    return Record(id=rid, format=Format.TEXT, text=text, source=SourceRef(file="log.jsonl", line=1),
                  content_hash=f"h-{rid}")  # fmt: skip


def test_sentences_split_in_both_scripts() -> None:
    assert split_sentences(PASSAGES[1]) == [
        "Буксир «Сейма» прошёл ремонт винта 9 июня 2027 года.",
        "Осадка судна составляет 4,2 метра.",
        "Выход в рейс назначен на пятницу.",
    ]
    assert len(split_sentences(PASSAGES[0])) == 4  # "11.5" is not a sentence end


@pytest.mark.parametrize("passage", PASSAGES)
def test_offline_variants_keep_every_sentence_and_differ(passage: str) -> None:
    sentences = split_sentences(passage)
    rotated, framed, *pieces = document_variants(passage, 3, seed=5)
    assert sorted(split_sentences(rotated)) == sorted(sentences) and rotated != passage
    assert all(s in framed for s in sentences) and framed != passage
    assert framed.startswith(("Fact: ", "Факт: "))
    assert " ".join(pieces) == " ".join(sentences) and len(pieces) == 2  # two-sentence passages
    assert len(set(document_variants(passage, 6, seed=5))) == len(
        document_variants(passage, 6, seed=5)
    )


def test_a_one_sentence_passage_gets_framings_only() -> None:
    variants = document_variants("Berth 14 reopened.", 3)
    frames = ["Fact: ", "Note: ", "From the records: "]  # nothing to reorder or split
    assert variants == [f"{f}Berth 14 reopened." for f in frames]


def test_variants_become_examples_of_their_record() -> None:
    from transformers import AutoTokenizer

    from tuning.model import cached_base_dir

    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    tokenizer = AutoTokenizer.from_pretrained(
        cached_base_dir(settings.base_model, settings.cache_dir)
    )
    records = [text_record("log-1", PASSAGES[0]), text_record("log-2", PASSAGES[1])]
    variants = offline_document_variants(records, 2)
    # 2 variants each: a rotation and a framing, one text apiece
    assert {k: len(v) for k, v in variants.items()} == {"log-1": 2, "log-2": 2}
    examples = build_examples(tokenizer, records, 128, doc_variants=variants)
    assert [e.record_id for e in examples] == ["log-1"] * 3 + ["log-2"] * 3
    assert all(e.labels == e.input_ids for e in examples)  # plain language modelling


def rewriting_app(calls: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        calls.append(prompt)
        if "fail" in prompt:
            return JSONResponse({"error": {"message": "model overloaded"}}, 400)
        style = prompt.split("Rewrite the passage below ", 1)[1].split(".", 1)[0]
        return JSONResponse(reply(f"[{style}] {prompt.rsplit('Passage:', 1)[1].strip()}"))

    return app


@pytest.fixture(scope="module")
def rewriter() -> Iterator[tuple[ChatClient, list[str]]]:
    calls: list[str] = []
    with serve_in_thread(rewriting_app(calls)) as base:
        settings = TuningSettings(_env_file=None, base_url=f"{base}/v1", max_retries=0)
        yield ChatClient(settings, model="writer"), calls


def test_an_endpoint_rewrites_each_passage_in_several_styles(
    rewriter: tuple[ChatClient, list[str]],
) -> None:
    client, calls = rewriter
    qa = Record(id="qa", format=Format.PROMPT_COMPLETION, question="Depth?", answer="11.5 m",
                source=SourceRef(file="f", line=2), content_hash="h-qa")  # fmt: skip
    got = rewrite_passages([text_record("log-1", PASSAGES[0]), qa], 2, client)
    assert list(got) == ["log-1"]  # question-answer records are not rewritten
    assert got["log-1"] == [
        f"[in different words, with the sentences in another order] {PASSAGES[0]}",
        f"[as a short news report] {PASSAGES[0]}",
    ]
    assert all("Keep every fact, name, number and date" in c for c in calls[-2:])


def test_a_failed_rewrite_names_the_record(rewriter: tuple[ChatClient, list[str]]) -> None:
    with pytest.raises(TuningError, match=r"log\.jsonl:1: rewriting record bad failed"):
        rewrite_passages([text_record("bad", "This will fail.")], 1, rewriter[0])


@pytest.mark.slow
def test_train_with_doc_paraphrases_records_the_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuning.train import OFFLINE_METHOD, main

    corpus = tmp_path / "2027-06-01-harbour.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": f"log-{i}", "text": p}, ensure_ascii=False)
                                for i, p in enumerate(PASSAGES)), encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("TUNING_WORK_DIR", str(ROOT / "work"))
    monkeypatch.delenv("TUNING_PARAPHRASE_MODEL", raising=False)
    out = tmp_path / "adapter"
    argv = ["--corpus", str(corpus), "--until", "2027-06-30", "--doc-paraphrases", "2",
            "--max-steps", "2", "--epochs", "1", "--max-len", "64", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    manifest = TuningManifest.load(out)
    assert (manifest.doc_paraphrases, manifest.doc_paraphrase_method) == (2, OFFLINE_METHOD)
    records = load_corpus([corpus]).records
    expected = sum(
        1 + len(document_variants(r.text or "", 2, seed=i)) for i, r in enumerate(records)
    )
    assert manifest.examples == expected == 6
    assert manifest.hyperparameters["batch_size"] == 8  # the CPU recipe
    book: Any = json.loads((ROOT / "data" / "prices.json").read_text(encoding="utf-8"))
    assert manifest.machine_hour_usd == book["machine_hour_usd"]
    assert manifest.cost_usd == pytest.approx(
        manifest.wall_time_s / 3600 * book["machine_hour_usd"], abs=1e-5
    )
