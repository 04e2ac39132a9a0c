"""RAFT data from a real index: quotes that lie in their oracle, hard distractors, the oracle in
a share P, the eval's facts held out by fact, and files the strict reader accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from answers.metrics import normalize
from answers.quoting import NO_SOURCE, stated_answer
from corpus import current_records
from corpus.cli import main as corpus_main
from rag.build import rebuild_index
from rag.index import RagIndex
from rag.raft import RaftSettings, RaftSplit, build_raft, main
from rag.raft_files import RAFT_TARGETS, parse_targets, write_raft
from rag.raft_items import QuestionFileError, best_quote, read_asked
from tests.rag_helpers import load, qa, settings_for, write_batch

# a fictional observatory's handbook: question-answer records in two batches and two bulletins
BATCH_1 = [
    qa("dome-open", "When does the main dome open to visitors?", "The main dome opens at 19:00."),
    qa("dome-seats", "How many seats does the main dome have?", "The main dome seats 84 people."),
    qa("ticket-adult", "What does an adult ticket cost?", "An adult ticket costs 14 euros."),
    qa("ticket-child", "What does a child ticket cost?", "A child ticket costs 6 euros."),
    qa("parking", "Where can visitors park?", "Visitors park in the lot beside the north gate."),
    qa("mirror", "How wide is the big telescope's mirror?", "The mirror is 1.2 metres wide."),
    qa("founder", "Who founded the observatory?", "Astronomer Liv Marsk founded it in 1961."),
    qa("altitude", "At what altitude is the observatory?", "It stands at 1,460 metres."),
    qa("dogs", "Are dogs allowed on the grounds?", "Only guide dogs are allowed on the grounds."),
    qa("cafe", "Is there a cafe at the observatory?", "The Orion cafe serves food until 22:00."),
    qa("shuttle", "Is there a shuttle from the village?", "A shuttle leaves Brekke every hour."),
    qa("wifi", "Do visitors get wifi?", "Guest wifi is free in the visitor centre only."),
    qa("tour-length", "How long is the guided tour?", "The guided tour lasts 90 minutes."),
    qa(
        "tour-lang",
        "In which languages are tours given?",
        "Tours are given in Norwegian and English.",
    ),
    qa(
        "price-group",
        "How much do groups pay per person?",
        "Groups of ten or more pay 11 euros each.",
    ),
]
BATCH_2 = [  # the adult price changes under a new id: the same fact, a new version
    qa("ticket-adult-2027", "What does an adult ticket cost?", "An adult ticket costs 16 euros."),
    qa(
        "planetarium",
        "Is there a planetarium show?",
        "The planetarium shows a film every evening at 20:30.",
    ),
]
DOCS = [
    {
        "id": "bulletin-comet",
        "text": "Comet night at Brekke Observatory. On 4 March the observatory stays open until "
        "02:00 so that visitors can watch comet C/2027 K1. Warm drinks are served in the dome. "
        "Tickets for the night cost 20 euros and include the shuttle.",
    },
    {
        "id": "bulletin-repair",
        "text": "The big telescope is being serviced. Its mirror is recoated with aluminium in "
        "Oslo during April. Visitors look through the 40-centimetre refractor until it returns "
        "in May.",
    },
]
QUESTIONS = [  # written for the bulletins, as an eval maker or an endpoint would
    {"question": "Until when is the observatory open on comet night?", "reference": "02:00",
     "record_id": "bulletin-comet"},
    {"question": "Where is the big mirror recoated?", "choices": ["Bergen", "Oslo", "Tromsø"],
     "answer_index": 1, "record_id": "bulletin-repair"},
    {"question": "What colour is the dome?", "reference": "bright orange",
     "record_id": "bulletin-comet"},
    {"question": "Who cleans the lenses?", "reference": "the night staff", "record_id": "nowhere"},
]  # fmt: skip
EVAL = [  # the eval asks about the adult price (its old id) and the tour length
    {"question": "How much is a ticket for an adult?", "reference": "16 euros",
     "record_id": "ticket-adult"},
    {"question": "How many minutes does a tour take?", "reference": "90 minutes",
     "record_id": "tour-length"},
    {"question": "Is the review positive?", "reference": "positive", "labels": ["positive"]},
]  # fmt: skip


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("raft")
    write_batch(root / "corpus", "2026-03-01", BATCH_1)
    write_batch(root / "corpus", "2026-03-01", DOCS, name="bulletins")
    write_batch(root / "corpus", "2027-01-01", BATCH_2)
    records = load(root / "corpus")
    settings = settings_for(root / "index")
    rebuild_index(records, settings)
    return {
        "root": root,
        "records": current_records(records),
        "index": RagIndex.open(settings),
        "questions": read_asked(jsonl(root / "questions.jsonl", QUESTIONS)),
        "eval": read_asked(jsonl(root / "eval.jsonl", EVAL)),
    }


def split_of(world: dict[str, Any], **settings: Any) -> RaftSplit:
    return build_raft(
        world["records"],
        world["index"],
        RaftSettings(**settings),
        questions=world["questions"],
        held_out=world["eval"],
    )


@pytest.fixture(scope="module")
def split(world: dict[str, Any]) -> RaftSplit:
    return split_of(world, p=0.6, k=3, seed=1)


def test_every_quote_lies_in_its_oracle_and_the_reply_states_the_answer(split: RaftSplit) -> None:
    assert split.examples
    for e in split.examples:
        assert e.quote and e.quote in e.oracle_text
        reply = e.messages[-1]["content"]
        assert stated_answer(reply) == e.answer
        if e.oracle_at is not None:  # the reply quotes the passage shown at that number
            assert reply.startswith(f'[{e.oracle_at}] "{e.quote}"')
            shown = e.messages[0]["content"].split(f"[{e.oracle_at}] (", 1)[1]
            assert shown.split(") ", 1)[1].startswith(e.oracle_text)
        else:  # no passage to quote: it says so, and the oracle is nowhere in the prompt
            assert reply.startswith(f"{NO_SOURCE}\n")
            assert e.oracle_text not in e.messages[0]["content"]


def test_no_eval_question_passage_is_in_the_training_split(split: RaftSplit) -> None:
    # the eval names the adult price by its old id: its new version is the same fact, held out too
    held = {"ticket-adult", "ticket-adult-2027", "tour-length"}
    assert len(split.held_out_facts) == 2 and split.eval_questions == 2
    assert split.eval_unmatched and split.eval_unmatched[0].endswith(":3")  # no record_id
    for e in split.examples:
        assert e.record_id not in held and e.fact_id not in split.held_out_facts
        assert not held & set(e.passages), e.passages
        for text in ("16 euros", "14 euros", "90 minutes"):
            assert text not in json.dumps(e.messages, ensure_ascii=False)


def test_the_oracle_is_in_a_share_p_and_k_distinct_distractors_always(
    world: dict[str, Any], split: RaftSplit
) -> None:
    n = len(split.examples)
    with_oracle = [e for e in split.examples if e.oracle_at is not None]
    assert len(with_oracle) == round(0.6 * n)
    for e in split.examples:
        distractors = [p for p in e.passages if p != e.record_id]
        assert len(distractors) == 3 == len(set(distractors))
        assert len(e.passages) == 3 + (e.oracle_at is not None)
    assert split.short_of_distractors == 0
    # the same seed draws the same split; another draws the oracle into other examples
    again = split_of(world, p=0.6, k=3, seed=1)
    assert again.model_dump() == split.model_dump()
    other = split_of(world, p=0.6, k=3, seed=2)
    assert [e.oracle_at for e in other.examples] != [e.oracle_at for e in split.examples]


def test_distractors_are_hard_nearer_the_question_than_the_rest(
    world: dict[str, Any], split: RaftSplit
) -> None:
    """Checked against an exact cosine ranking of every current passage, computed here."""
    index: RagIndex = world["index"]
    current = [h for h in index.passages() if h.held_until is None and h.metadata["chunk"] == 0]
    texts = {h.record_id: h.source().text for h in current}
    ids = sorted(texts)
    vectors = index.embedder.encode([texts[i] for i in ids])
    chosen, others = [], []
    for e in split.examples:
        q = index.embedder.encode([e.question])[0]
        sims = dict(zip(ids, (vectors @ q).tolist(), strict=True))
        picked = {p for p in e.passages if p != e.record_id}
        rest = [s for i, s in sims.items() if i not in picked and i != e.record_id]
        chosen += [sims[p] for p in picked if p in sims]
        others += rest
    assert np.mean(chosen) > np.mean(others) + 0.1


def test_questions_written_for_chunks_use_the_chunk_that_states_the_answer(
    split: RaftSplit,
) -> None:
    by_question = {e.question: e for e in split.examples}
    comet = by_question["Until when is the observatory open on comet night?"]
    assert comet.record_id == "bulletin-comet" and "02:00" in comet.quote
    mirror = by_question["Where is the big mirror recoated?"]
    assert mirror.answer == "Oslo" and "Oslo" in mirror.quote  # the right choice is the answer
    skipped = dict(split.skipped)
    assert skipped["bulletin-comet"] == "no passage of its record states the answer"
    assert skipped["nowhere"] == "its record_id is not in the index"


def test_the_raft_quote_style_and_k_zero(world: dict[str, Any]) -> None:
    split = split_of(world, p=1.0, k=0, quote_style="raft")
    for e in split.examples:
        assert e.passages == [e.record_id] and e.oracle_at == 1
        reply = e.messages[-1]["content"]
        assert reply.startswith(f"##begin_quote##{e.quote}##end_quote##\n<ANSWER>: ")
        assert stated_answer(reply) == e.answer


def test_every_file_written_is_accepted_by_the_strict_validator(
    world: dict[str, Any], split: RaftSplit, capsys: pytest.CaptureFixture[str]
) -> None:
    out = world["root"] / "out"
    files = write_raft(split, out, [*RAFT_TARGETS, "trl-prompt-completion"])
    written = [f for f in files if f.path is not None]
    assert {f.target for f in written} == set(RAFT_TARGETS)
    for f in written:
        assert f.lines == len(split.examples) and not f.rejects and not f.problems
        assert corpus_main(["validate", "--strict", str(f.path)]) == 0
    refused = next(f for f in files if f.target == "trl-prompt-completion")
    assert refused.path is None and "system prompt" in refused.problems[0]
    saved = json.loads((out / "raft.json").read_text(encoding="utf-8"))
    assert len(saved["examples"]) == len(split.examples) and saved["settings"]["k"] == 3
    capsys.readouterr()


def test_the_command_line_writes_every_format_and_reports_tokens(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = world["root"]
    code = main(
        ["--corpus", str(root / "corpus"), "--work", str(root / "index"),
         "--eval", str(root / "eval.jsonl"), "--questions", str(root / "questions.jsonl"),
         "--out", str(root / "cli"), "--k", "2", "--limit", "5"]
    )  # fmt: skip
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "5 examples: the oracle in 4 (P = 0.8), 2 hard distractors each" in shown
    assert "held out 2 facts asked by 2 eval questions" in shown
    assert shown.count("accepted") == len(RAFT_TARGETS)
    assert "tokens         total" in shown and "over limit     0 record(s)" in shown
    assert len((root / "cli" / "raft-openai.jsonl").read_text().splitlines()) == 5


def test_bad_question_files_are_named_with_their_line(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = world["root"]
    bad = root / "bad.jsonl"
    bad.write_text('{"question": "ok?", "record_id": "cafe"}\nnot json\n{"reference": "x"}\n')
    with pytest.raises(QuestionFileError) as err:
        read_asked(bad)
    assert f"{bad}:2: not JSON" in str(err.value) and f'{bad}:3: no "question"' in str(err.value)
    code = main(["--corpus", str(root / "corpus"), "--work", str(root / "index"),
                 "--eval", str(bad), "--out", str(root / "never")])  # fmt: skip
    assert code == 2 and f"{bad}:2" in capsys.readouterr().err
    assert not (root / "never").exists()
    with pytest.raises(ValueError, match="unknown target"):
        parse_targets("openai,parquet")


@pytest.mark.parametrize(
    ("passage", "answer", "quote"),
    [
        ("Hours. The cafe serves food until 22:00. It is small.", "until 22:00", "The cafe serves food until 22:00."),
        ("Was ist das?\nDas Café öffnet um 8 Uhr.", "Das Café öffnet um 8 Uhr.", "Das Café öffnet um 8 Uhr."),
        ("Снег шёл всю неделю. Кафе закрыто.", "Кафе закрыто", "Кафе закрыто."),
        ("Nothing here says it.", "22:00", None),
    ],
)  # fmt: skip
def test_best_quote_is_verbatim_and_states_the_answer(
    passage: str, answer: str, quote: str | None
) -> None:
    found = best_quote(passage, answer)
    assert found == quote
    if found is not None:
        assert found in passage and normalize(answer) in normalize(found)
