"""One server, one copy of the weights: the base model beside two adapters, each under its own id,
picked by a request's `model` — in chat, streaming and prompt log-probabilities alike."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tuning_servers import ROOT, model_server
from tuning.settings import TuningSettings

pytestmark = pytest.mark.slow
SHIPPED = ROOT / "data" / "adapters" / "smollm2-demo-2026-03"
BASE_ID = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "What is the warranty on the Kestrel desk lamp?"}]
SCORED = "Question: Which city is the capital of France?\nAnswer: Paris"
ENV = {"TUNING_WORK_DIR": str(ROOT / "work")}


def settings() -> TuningSettings:
    return TuningSettings(_env_file=None, work_dir=ROOT / "work")


@pytest.fixture(scope="module")
def other_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second adapter of the same base: LoRA weights drawn at random (B not zero), so it
    answers differently from both the base model and the shipped adapter."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tuning.model import load_base

    model, _ = load_base(settings().base_model, settings().cache_dir, "cpu")
    torch.manual_seed(7)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")  # fmt: skip
    out = tmp_path_factory.mktemp("adapters") / "other"
    get_peft_model(model, config).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def expected(other_adapter: Path) -> dict[str, tuple[str, list[float]]]:
    """Each model alone, loaded on its own in this process: (greedy reply, prompt log-probs)."""
    from tuning.generate import Generator
    from tuning.loglik import score_text
    from tuning.model import load_for_inference

    out = {}
    for label, adapter in ((BASE_ID, None), ("demo", SHIPPED), ("other", other_adapter)):
        model, tokenizer = load_for_inference(
            settings().base_model, settings().cache_dir, adapter, "cpu"
        )
        reply = Generator(model, tokenizer).complete(QUESTION, 24).text
        scored = score_text(model, tokenizer, SCORED)
        out[label] = (reply, [float(x) for x in scored.token_logprobs[1:] if x is not None])
        del model
        gc.collect()
    return out


@pytest.fixture(scope="module")
def url(other_adapter: Path) -> Iterator[str]:
    extra = ["--adapter", f"other={other_adapter}"]
    with model_server(f"demo={SHIPPED}", ENV, extra) as base:
        yield base


def chat(url: str, model: str | None, stream: bool = False) -> str:
    body: dict[str, Any] = {"messages": QUESTION, "max_tokens": 24, "stream": stream}
    if model:
        body["model"] = model
    if not stream:
        got = httpx.post(f"{url}/chat/completions", json=body, timeout=300)
        assert got.status_code == 200, got.text
        assert got.json()["model"] == (model or "demo")
        return str(got.json()["choices"][0]["message"]["content"])
    text = ""
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=300) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                assert chunk["model"] == model
                text += "".join(c["delta"].get("content", "") for c in chunk["choices"])
    return text


def logprobs(url: str, model: str) -> list[float]:
    body = {"model": model, "prompt": SCORED, "echo": True, "logprobs": 1, "max_tokens": 0}
    got = httpx.post(f"{url}/completions", json=body, timeout=300).json()
    assert got["model"] == model
    return [float(x) for x in got["choices"][0]["logprobs"]["token_logprobs"][1:]]


def test_every_served_id_is_listed(url: str) -> None:
    ids = [m["id"] for m in httpx.get(f"{url}/models").json()["data"]]
    assert ids == ["demo", "other", BASE_ID]
    health = httpx.get(url.removesuffix("/v1") + "/health").json()
    assert health["chat_models"] == ids and health["chat_model"] == "demo"


def test_the_base_id_answers_as_the_base_model_alone(
    url: str, expected: dict[str, tuple[str, list[float]]]
) -> None:
    reply, scores = expected[BASE_ID]
    assert chat(url, BASE_ID) == reply
    assert chat(url, BASE_ID, stream=True) == reply
    assert logprobs(url, BASE_ID) == pytest.approx(scores, abs=1e-4)


@pytest.mark.parametrize("label", ["demo", "other"])
def test_each_adapter_answers_as_itself(
    url: str, expected: dict[str, tuple[str, list[float]]], label: str
) -> None:
    reply, scores = expected[label]
    # unmerged here, merged in the reference: the same weights up to float rounding
    assert logprobs(url, label) == pytest.approx(scores, abs=2e-3)
    assert max(abs(a - b) for a, b in zip(scores, expected[BASE_ID][1], strict=True)) > 0.1
    assert chat(url, label) == reply
    assert chat(url, label, stream=True) == reply


def test_switching_back_and_forth_leaves_no_trace(
    url: str, expected: dict[str, tuple[str, list[float]]]
) -> None:
    replies = {label: expected[label][0] for label in ("demo", "other", BASE_ID)}
    assert len(set(replies.values())) == 3, replies  # three models, three different answers
    for label in ("other", BASE_ID, "demo", "other"):
        assert chat(url, label) == replies[label]
    assert chat(url, None) == replies["demo"]  # no model: the first adapter


def test_an_unknown_model_is_404_naming_the_served_ones(url: str) -> None:
    got = httpx.post(f"{url}/chat/completions", json={"model": "gpt-4o", "messages": QUESTION})
    assert got.status_code == 404
    message = got.json()["error"]["message"]
    assert all(repr(i) in message for i in ("demo", "other", BASE_ID))


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--adapter", "none", "--no-base"], "no chat model to serve"),
        (["--adapter", f"a={SHIPPED}", "--adapter", f"a={SHIPPED}"], "a twice"),
        (["--adapter", f"{SHIPPED}", "--base-name", "smollm2-demo-2026-03"], "twice"),
        (["--adapter", f"a={SHIPPED}", "--adapter", f"b={SHIPPED}", "--name", "x"], "--name renames one"),
        (["--adapter", str(ROOT / "data")], "no adapter_config.json"),
    ],
)  # fmt: skip
def test_bad_model_flags_refuse_to_start(flags: list[str], words: str) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "tuning.serve", *flags, "--port", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 2 and words in run.stderr, run.stderr
