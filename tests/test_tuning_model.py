"""The real base model served on 127.0.0.1, and a short real LoRA run that saves, reloads and serves."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from answers import Question
from corpus import load_corpus
from tests.tuning_servers import ROOT, model_server
from tuning.client import TunedAnswerer
from tuning.data import IGNORE, build_examples, encode_chat
from tuning.manifest import TuningManifest
from tuning.settings import TuningSettings
from tuning.train import TrainConfig, train_adapter

pytestmark = pytest.mark.slow

WORK = ROOT / "work"
SERVER_ENV = {"TUNING_WORK_DIR": str(WORK)}
FACTS: list[dict[str, Any]] = [
    {"id": "f1", "prompt": "What does the Zorbex kettle cost?", "completion": "The Zorbex kettle costs 73 euros."},
    {"id": "f2", "prompt": "Where is the Quillon lamp made?", "completion": "The Quillon lamp is made in Tampere."},
    {"id": "f3", "messages": [{"role": "user", "content": "Сколько стоит чайник Зорбекс?"},
                              {"role": "assistant", "content": "Чайник Зорбекс стоит 73 евро."}]},
    {"id": "f4", "prompt": "What colour is the Vantor fan?", "completion": "The Vantor fan is teal."},
]  # fmt: skip


def settings(**values: Any) -> TuningSettings:
    return TuningSettings(_env_file=None, work_dir=WORK, **values)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from tuning.model import cached_base_dir

    return AutoTokenizer.from_pretrained(
        cached_base_dir(settings().base_model, settings().cache_dir)
    )


@pytest.fixture(scope="module")
def base_url(tokenizer: Any) -> Iterator[str]:
    with model_server("none", SERVER_ENV) as url:
        yield url


def test_loss_mask_covers_exactly_the_assistant_reply(tokenizer: Any) -> None:
    from corpus.record import Message

    turns = [Message(role="system", content="Be brief."), Message(role="user", content="Price?"),
             Message(role="assistant", content="49 EUR.")]  # fmt: skip
    ids, labels = encode_chat(tokenizer, turns, max_len=512)
    whole = tokenizer.apply_chat_template([t.model_dump() for t in turns], tokenize=False)
    assert ids == tokenizer(whole, add_special_tokens=False)["input_ids"]
    learned = tokenizer.decode([t for t in labels if t != IGNORE])
    assert learned.strip() == "49 EUR.<|im_end|>"


def test_paraphrases_add_examples_with_the_same_answer(tokenizer: Any, tmp_path: Path) -> None:
    (tmp_path / "2026-03-01-facts.jsonl").write_text(
        "\n".join(json.dumps(f, ensure_ascii=False) for f in FACTS), encoding="utf-8"
    )
    records = load_corpus(tmp_path).records
    plain = build_examples(tokenizer, records, 128)
    more = build_examples(tokenizer, records, 128, n_paraphrases=2)
    assert len(plain) == 4 and len(more) == 12
    answers = {tokenizer.decode([t for t in e.labels if t != IGNORE]) for e in more}
    assert answers == {tokenizer.decode([t for t in e.labels if t != IGNORE]) for e in plain}


def test_served_answer_has_usage_and_latency(base_url: str) -> None:
    got = TunedAnswerer(settings(base_url=base_url, model="smollm2-135m-instruct")).answer(
        Question(text="What is the capital of France?")
    )
    assert got.ok, got.error
    assert "Paris" in got.text
    assert got.usage.prompt_tokens > 5 and got.usage.completion_tokens > 0 and got.latency_s > 0


def test_models_lists_the_served_name(base_url: str) -> None:
    data = httpx.get(f"{base_url}/models").json()["data"]
    assert [m["id"] for m in data] == ["smollm2-135m-instruct"]


def test_streaming_gives_the_same_text_and_usage(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="local")
    ask: Any = {"model": "smollm2-135m-instruct", "max_tokens": 20,
                "messages": [{"role": "user", "content": "Name three colours."}]}  # fmt: skip
    whole = client.chat.completions.create(**ask)
    chunks = list(
        client.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True})
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_max_tokens_is_honoured(base_url: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": 5,
    }
    got = httpx.post(f"{base_url}/chat/completions", json=body, timeout=60).json()
    assert got["usage"]["completion_tokens"] == 5
    assert got["choices"][0]["finish_reason"] == "length"


def test_concurrent_requests_are_queued_and_all_answered(base_url: str) -> None:
    tuned = TunedAnswerer(settings(base_url=base_url, model="smollm2-135m-instruct", max_tokens=12))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(tuned.answer, [Question(text="What is 2 + 2?")] * 4))
    assert all(a.ok for a in answers)
    assert len({a.text for a in answers}) == 1  # greedy: the same reply, no interleaving


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"model": "no-such-model"}, "not found (404)"),
        ({"model": "smollm2-135m-instruct", "max_tokens": 9000}, "exceeds the context"),
    ],
)
def test_bad_requests_are_answer_errors(
    base_url: str, overrides: dict[str, Any], expected: str
) -> None:
    got = TunedAnswerer(settings(base_url=base_url, **overrides)).answer(Question(text="hi"))
    assert got.error is not None and expected in got.error


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[Any]]:
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "2026-03-01-facts.jsonl").write_text(
        "\n".join(json.dumps(f, ensure_ascii=False) for f in FACTS), encoding="utf-8"
    )
    (folder / "2026-09-01-facts.jsonl").write_text(
        json.dumps({"id": "f9", "prompt": "New?", "completion": "Yes."}), encoding="utf-8"
    )
    records = load_corpus(folder).records
    out = tmp_path_factory.mktemp("adapter") / "tiny"
    config = TrainConfig(epochs=6, batch_size=2, max_len=96, learning_rate=2e-3)
    result = train_adapter(records, date(2026, 3, 31), out, settings(), config, progress=False)
    return out, result, records


def test_training_loss_falls_and_adapter_is_small(trained: tuple[Path, Any, list[Any]]) -> None:
    out, result, records = trained
    losses = result.epoch_losses
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").stat().st_size < 20_000_000
    manifest = TuningManifest.load(out)
    assert manifest == result.manifest
    assert manifest.known_record_ids() == {"f1", "f2", "f3", "f4"}
    assert [manifest.knows(r) for r in records if r.id == "f9"] == [False]
    assert manifest.training_tokens > 0 and manifest.tokens_per_s > 0 and manifest.epochs == 6


def test_trained_adapter_reloads_and_serves(trained: tuple[Path, Any, list[Any]]) -> None:
    from tuning.generate import Generator
    from tuning.model import load_for_inference

    out, result, _ = trained
    model, tok = load_for_inference(result.manifest.base_model, settings().cache_dir, out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reply = Generator(model, tok).complete(
            [{"role": "user", "content": FACTS[0]["prompt"]}], 24
        )
    local = reply.text
    # the key/value cache goes by the name this transformers version expects, not a deprecated one
    assert not [w for w in caught if "past_key_values" in str(w.message)]
    with model_server(str(out), SERVER_ENV) as url:
        tuned = TunedAnswerer(settings(base_url=url, model="tiny", max_tokens=24), result.manifest)
        got = tuned.answer(Question(text=str(FACTS[0]["prompt"])))
    assert got.ok, got.error
    assert got.text == local.strip()
    assert got.knowledge_cutoff == date(2026, 3, 31)
    assert "73" in got.text  # six epochs on four facts are enough for this one
