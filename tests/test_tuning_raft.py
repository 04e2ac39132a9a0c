"""Local training on a RAFT split: the split as training reads it, the plain twin at equal
exposure, the loss on the reply only, long examples left out whole, and the recipe in the
manifest."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from answers import SourceHit
from answers.prompts import passages_messages
from answers.quoting import quoted_reply
from corpus import load_corpus
from rag.raft import RaftExample, RaftSettings, RaftSplit
from rag.raft_files import write_raft
from tests.tuning_servers import ROOT
from tuning.data import IGNORE, plain_twin, raft_examples, read_raft
from tuning.errors import TuningError
from tuning.manifest import TuningManifest
from tuning.train import main as train_main

FACTS = [  # (record id, question, answer, passage of another fact)
    ("kettle", "What does the Zorbex kettle cost?", "The Zorbex kettle costs 73 euros.",
     "The Quillon lamp is made in Tampere."),
    ("lamp", "Where is the Quillon lamp made?", "The Quillon lamp is made in Tampere.",
     "The Vantor fan is teal."),
    ("fan", "What colour is the Vantor fan?", "The Vantor fan is teal.",
     "The Zorbex kettle costs 73 euros."),
]  # fmt: skip


def example(rid: str, question: str, answer: str, other: str, oracle: bool) -> RaftExample:
    shown = [SourceHit(record_id="other", score=0.0, text=other)]
    if oracle:
        shown.append(SourceHit(record_id=rid, score=0.0, text=f"{question}\n{answer}"))
    reply = quoted_reply(answer, answer if oracle else None, 2 if oracle else None, "cite")
    return RaftExample(
        record_id=rid, fact_id=rid, question=question, answer=answer, quote=answer,
        oracle_text=f"{question}\n{answer}", oracle_at=2 if oracle else None,
        passages=[s.record_id for s in shown],
        messages=[*passages_messages(question, shown), {"role": "assistant", "content": reply}],
    )  # fmt: skip


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    split = RaftSplit(
        settings=RaftSettings(p=0.67, k=1, seed=3),
        examples=[example(*fact, oracle=i < 2) for i, fact in enumerate(FACTS)],
    )
    write_raft(split, tmp_path / "raft", ["openai"])
    return tmp_path / "raft"


def test_the_split_reads_back_with_its_settings_and_records(split_dir: Path) -> None:
    raft = read_raft(split_dir)
    assert raft.record_ids == {"kettle", "lamp", "fan"}
    assert raft.settings == {"p": 0.67, "k": 1, "quote_style": "cite", "seed": 3}
    turns = raft.examples[0][1]
    assert [t.role for t in turns] == ["system", "user", "assistant"]
    assert "Sources:\n[1] (other) The Quillon lamp" in turns[0].content
    assert read_raft(split_dir / "raft.json") == raft


def test_the_plain_twin_is_the_question_and_the_stated_answer(split_dir: Path) -> None:
    for (_rid, turns), (_, question, answer, _) in zip(
        read_raft(split_dir).examples, FACTS, strict=True
    ):
        twin = plain_twin(turns)
        assert [(t.role, t.content) for t in twin] == [("user", question), ("assistant", answer)]


@pytest.mark.parametrize("broken", ["{}", "not json", '{"settings": {}, "examples": []}'])
def test_a_file_that_is_no_split_is_named_with_the_fix(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "raft.json"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(TuningError, match=r"raft\.json: .*python -m rag\.raft"):
        read_raft(tmp_path)


def test_a_manifest_names_its_recipe_and_older_ones_get_theirs() -> None:
    shipped = TuningManifest.load(ROOT / "data" / "adapters" / "smollm2-demo-2026-03")
    assert shipped.recipe == "paraphrases" and shipped.recipe_text() == "paraphrases (2)"
    raw = json.loads(shipped.model_dump_json(exclude={"recipe", "recipe_settings"}))
    assert TuningManifest.model_validate({**raw, "paraphrases": 0}).recipe == "plain"
    raft = shipped.model_copy(
        update={"recipe": "raft", "recipe_settings": {"p": 0.8, "k": 4, "split": "w/raft.json"}}
    )
    assert raft.recipe_text() == "raft (p=0.8, k=4)"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from tuning.model import cached_base_dir
    from tuning.settings import TuningSettings

    settings = TuningSettings(_env_file=None, work_root=ROOT / "work")
    return AutoTokenizer.from_pretrained(cached_base_dir(settings.base_model, settings.cache_dir))


@pytest.mark.slow
def test_the_loss_is_on_the_reply_only_and_long_examples_are_left_out_whole(
    split_dir: Path, tokenizer: Any
) -> None:
    raft = read_raft(split_dir)
    keep = {"kettle", "lamp", "fan"}
    examples, too_long = raft_examples(tokenizer, raft, keep, 1024)
    assert too_long == 0 and [e.record_id for e in examples] == ["kettle", "lamp", "fan"]
    for e, (_, turns) in zip(examples, raft.examples, strict=True):
        learned = tokenizer.decode([t for t in e.labels if t != IGNORE])
        assert learned.startswith(turns[-1].content) and "Sources" not in learned
    plain, _ = raft_examples(tokenizer, raft, keep, 1024, passages=False)
    assert all(len(p.input_ids) < len(r.input_ids) for p, r in zip(plain, examples, strict=True))
    assert [tokenizer.decode([t for t in p.labels if t != IGNORE]) for p in plain] == [
        tokenizer.decode([t for t in r.labels if t != IGNORE]).split("Answer: ", 1)[1]
        for r in examples
    ]
    shortest = min(len(e.input_ids) for e in examples)
    cut, dropped = raft_examples(tokenizer, raft, keep, shortest)
    assert len(cut) == 1 and dropped == 2 and len(cut[0].input_ids) == shortest
    assert raft_examples(tokenizer, raft, {"lamp"}, 1024)[0][0].record_id == "lamp"


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["raft", "plain"])
def test_train_on_a_split_names_the_recipe_in_the_manifest(
    split_dir: Path, tmp_path: Path, recipe: str, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [{"id": rid, "prompt": q, "completion": a} for rid, q, a, _ in FACTS]
    lines.append({"id": "later", "prompt": "New?", "completion": "Yes.", "as_of": "2026-09-01"})
    (corpus / "2026-03-01-facts.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines), encoding="utf-8"
    )
    out = tmp_path / recipe
    code = train_main(
        ["--corpus", str(corpus), "--until", "2026-03-31", "--raft", str(split_dir),
         "--recipe", recipe, "--epochs", "1", "--batch-size", "3", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = TuningManifest.load(out)
    assert manifest.recipe == recipe and manifest.examples == 3
    assert manifest.known_record_ids() == {"kettle", "lamp", "fan"}  # not "later"
    records = {r.id: r for r in load_corpus([corpus]).records}
    assert manifest.known_hashes() == {records[i].content_hash for i in ("kettle", "lamp", "fan")}
    assert manifest.data_cutoff == date(2026, 3, 31)
    assert manifest.recipe_settings["split"] == str(split_dir / "raft.json")
    if recipe == "raft":
        assert manifest.recipe_settings["p"] == 0.67 and manifest.recipe_settings["k"] == 1
        assert manifest.recipe_settings["over_max_len"] == 0
    assert f"recipe {manifest.recipe_text()}" in capsys.readouterr().out
