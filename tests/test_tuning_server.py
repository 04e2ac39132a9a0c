"""The local model server under faults: clients that leave, a full queue, oversized or
out-of-range requests, a required API key. The real base model, served in this process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from tests.tuning_servers import ROOT, CountingTokenizer, Recorder, idle
from tuning.api import build_app
from tuning.serve import serve_in_thread
from tuning.settings import ServeSettings, TuningSettings

pytestmark = pytest.mark.slow
LONG = [
    {"role": "user", "content": "Write a very long story about a lighthouse keeper named Oswin."}
]
SHORT = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def loaded() -> tuple[Any, Any]:
    from tuning.model import load_for_inference

    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    return load_for_inference(settings.base_model, settings.cache_dir, None, "cpu")


@pytest.fixture(scope="module")
def generator(loaded: tuple[Any, Any]) -> Recorder:
    return Recorder(loaded[0], CountingTokenizer(loaded[1]))


@pytest.fixture(scope="module")
def url(generator: Recorder) -> Iterator[str]:
    limits = ServeSettings(_env_file=None, queue_max=8, queue_wait_s=120, max_tokens_limit=200, default_max_tokens=64,
                           max_body_bytes=200_000, max_input_chars=20_000)  # fmt: skip
    with serve_in_thread(build_app(generator, "base", limits)) as base:
        yield base


def chat(url: str, messages: list[dict[str, str]], max_tokens: int, **extra: Any) -> httpx.Response:
    body = {"messages": messages, "max_tokens": max_tokens, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)


def until(condition: Any, seconds: float = 60) -> None:
    """Wait for `condition()` to hold; fail the test if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_a_stream_the_client_leaves_stops_and_frees_the_model(
    url: str, generator: Recorder
) -> None:
    body = {"messages": LONG, "max_tokens": 200, "stream": True}
    pieces = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", f"{url}/v1/chat/completions", json=body) as reply,
    ):
        for line in reply.iter_lines():
            if line.startswith("data: ") and '"content": "' in line and '"content": ""' not in line:
                pieces += 1
            if pieces == 3:
                break  # leaving the block closes the connection mid-stream
    idle(url)
    left = generator.finished[-1]
    assert left.cancelled and 3 <= left.completion_tokens < 200
    got = chat(url, SHORT, 8)
    assert got.status_code == 200 and got.json()["usage"]["completion_tokens"] > 0


def test_a_plain_request_the_client_gives_up_stops_generating(
    url: str, generator: Recorder
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}/v1/chat/completions", json={"messages": LONG, "max_tokens": 200}, timeout=1.5
        )
    idle(url)
    assert generator.finished[-1].cancelled and generator.finished[-1].completion_tokens < 200
    assert chat(url, SHORT, 8).status_code == 200


def test_fifty_at_once_with_a_queue_of_eight(url: str, generator: Recorder) -> None:
    generator.hold.clear()  # the first request holds the model until every other one has arrived
    try:
        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(chat, url, SHORT, 4) for _ in range(50)]
            for _ in range(600):
                state = httpx.get(f"{url}/health").json()["gates"]["chat"]
                if state["waiting"] == 8 and sum(f.done() for f in futures) == 41:
                    break
                time.sleep(0.05)
            early = [f.result() for f in futures if f.done()]
            generator.hold.set()
            replies = [f.result() for f in futures]
    finally:
        generator.hold.set()
    assert len(early) == 41 and all(r.status_code == 503 for r in early)
    codes = [r.status_code for r in replies]
    assert codes.count(200) == 9 and codes.count(503) == 41
    for refused in (r for r in replies if r.status_code == 503):
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "server_busy"
    assert idle(url)["waiting"] == 0
    assert chat(url, SHORT, 4).status_code == 200  # healthy afterwards


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"messages": SHORT, "max_tokens": 8000}, 400, "over this server's limit of 200"),
        ({"messages": SHORT, "max_tokens": 9000}, 400, "exceeds the context"),
        ({"messages": SHORT, "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "word " * 5000}]}, 400, "25000 characters"),
        ({"messages": SHORT, "seed": 2**70}, 400, "seed"),
        ({"messages": SHORT, "seed": -(2**70)}, 400, "seed"),
        ({"messages": SHORT, "temperature": 5}, 400, "temperature"),
        ({"messages": SHORT, "n": 3}, 400, "n"),
        ({"messages": SHORT, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 300_000}]}, 413, "over 200000 bytes"),
    ],
)
def test_refused_before_tokenizing(
    url: str, generator: Recorder, body: dict[str, Any], status: int, words: str
) -> None:
    before = generator.tokenizer.calls
    got = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    assert got.status_code == status, got.text
    assert words in got.json()["error"]["message"]
    assert generator.tokenizer.calls == before


def test_a_body_without_content_length_is_cut_at_the_limit(url: str, generator: Recorder) -> None:
    before = generator.tokenizer.calls
    payload = json.dumps({"messages": [{"role": "user", "content": "y" * 400_000}]}).encode()

    def chunks() -> Iterator[bytes]:  # a streamed upload: no Content-Length header
        for i in range(0, len(payload), 65_536):
            yield payload[i : i + 65_536]

    got = httpx.post(f"{url}/v1/chat/completions", content=chunks(), timeout=60)
    assert got.status_code == 413 and generator.tokenizer.calls == before


def test_edge_seeds_are_accepted(url: str) -> None:
    for seed in (2**63 - 1, -(2**63)):
        assert chat(url, SHORT, 3, seed=seed, temperature=0.7).status_code == 200


@pytest.fixture(scope="module")
def keyed(generator: Recorder) -> Iterator[str]:
    limits = ServeSettings(_env_file=None, api_key="k-local-7f3e")
    with serve_in_thread(build_app(generator, "base", limits)) as base:
        yield base


@pytest.mark.parametrize("header", [None, "Bearer wrong", "k-local-7f3e", "Basic k-local-7f3e"])
def test_an_api_key_is_required_when_set(keyed: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    got = httpx.post(f"{keyed}/v1/chat/completions", json={"messages": SHORT}, headers=headers)
    assert got.status_code == 401
    assert got.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{keyed}/v1/models", headers=headers).status_code == 401


def test_the_right_key_is_accepted(keyed: str) -> None:
    client = openai.OpenAI(base_url=f"{keyed}/v1", api_key="k-local-7f3e", max_retries=0)
    reply = client.chat.completions.create(model="base", messages=SHORT, max_tokens=4)  # type: ignore[arg-type]
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert httpx.get(f"{keyed}/health").status_code == 200  # liveness stays open


def test_a_public_address_without_a_key_refuses_to_start() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = subprocess.run(
        [sys.executable, "-m", "tuning.serve", "--adapter", "none", "--host", "0.0.0.0", "--port", str(port)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("TUNING_SERVE_")},
    )  # fmt: skip
    assert run.returncode == 2
    assert "set an API key" in run.stderr


def test_prompt_logprobs_match_a_forward_pass(url: str, loaded: tuple[Any, Any]) -> None:
    import torch

    model, tokenizer = loaded
    text = "Question: Which city is the capital of France?\nAnswer: Paris"
    body = {"model": "base", "prompt": text, "echo": True, "logprobs": 1, "max_tokens": 0}
    got = httpx.post(f"{url}/v1/completions", json=body, timeout=60).json()["choices"][0]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    expected = [float(torch.log_softmax(logits[i - 1], -1)[ids[i]]) for i in range(1, len(ids))]
    assert got["text"] == text and "".join(got["logprobs"]["tokens"]) == text
    assert got["logprobs"]["token_logprobs"][0] is None
    assert got["logprobs"]["token_logprobs"][1:] == pytest.approx(expected, abs=1e-4)
    assert len(got["logprobs"]["text_offset"]) == len(ids)


def test_the_local_model_answers_multiple_choice_by_loglik(url: str) -> None:
    from answers import Question
    from tuning.client import TunedAnswerer

    settings = TuningSettings(_env_file=None, base_url=f"{url}/v1", model="base")
    tuned = TunedAnswerer(settings)
    got = tuned.answer(
        Question(text="Which city is the capital of France?", choices=("Berlin", "Paris", "Madrid"))
    )
    assert tuned.choice_method() == "loglik"
    assert got.choice == 1 and got.text.startswith("B (log-likelihood")


def test_the_projects_client_waits_out_a_full_queue(generator: Recorder) -> None:
    from answers import Question
    from tuning.client import TunedAnswerer

    limits = ServeSettings(_env_file=None, queue_max=0)  # one at a time, nobody waits
    with serve_in_thread(build_app(generator, "base", limits)) as base:
        settings = TuningSettings(_env_file=None, base_url=f"{base}/v1", model="base", max_tokens=4)
        tuned = TunedAnswerer(settings)
        generator.hold.clear()  # the first question holds the model until the second is refused
        try:
            with ThreadPoolExecutor(2) as pool:
                first = pool.submit(tuned.answer, Question(text="What is 2 + 2?"))
                until(lambda: httpx.get(f"{base}/health").json()["gates"]["chat"]["running"])
                second = pool.submit(tuned.answer, Question(text="What is 3 + 3?"))
                until(lambda: tuned.client.retry.waits > 0)
                generator.hold.set()
                answers = [first.result(), second.result()]
        finally:
            generator.hold.set()
    assert [a.error for a in answers] == [None, None]
    assert tuned.client.retry.waits >= 1  # the second was told 503 + Retry-After, and waited


def test_a_reply_says_how_long_it_waited_for_the_model(url: str) -> None:
    """A request sent while the model writes another waits for it, says so as `queue_s`, and the
    project's client counts that wait apart from the time answering."""
    from answers import Answer
    from tuning.client import ChatClient

    settings = TuningSettings(_env_file=None, base_url=f"{url}/v1", model="base", max_tokens=8)
    client = ChatClient(settings)

    def running() -> bool:
        return bool(httpx.get(f"{url}/health", timeout=10).json()["gates"]["chat"]["running"])

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(chat, url, LONG, 48)
        until(running)
        started = time.monotonic()
        _, usage = client.complete(SHORT)
        took = time.monotonic() - started
        assert first.result().status_code == 200
    assert 0.1 < usage.queued_s < took, (usage.queued_s, took)
    answer = Answer(answerer="tuned", latency_s=took, usage=usage)
    assert answer.answering_s == pytest.approx(took - usage.queued_s)
    alone = chat(url, SHORT, 4).json()
    assert isinstance(alone["queue_s"], float) and 0 <= alone["queue_s"] < usage.queued_s


def test_the_prompt_runs_on_every_thread_and_the_decode_on_one(
    loaded: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each forward pass sees every thread for the prompt, one for each new token; the count is
    given back after; OMP_NUM_THREADS set, the user's count holds throughout."""
    import torch

    from tuning.generate import Generator, Sampling

    model, tokenizer = loaded
    gen = Generator(model, tokenizer)
    seen: list[tuple[int, int]] = []  # (tokens in the pass, threads)
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kwargs: seen.append((kwargs["input_ids"].shape[1], torch.get_num_threads())),
        with_kwargs=True,
    )
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        gen.run(gen.prompt_ids(SHORT), Sampling(max_tokens=6))
        assert seen[0][0] > 1 and seen[0][1] == 2, "the prompt's pass on every thread"
        assert len(seen) > 2 and all(t == 1 for _n, t in seen[1:]), seen
        assert torch.get_num_threads() == 2, "given back"
        seen.clear()
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        gen.run(gen.prompt_ids(SHORT), Sampling(max_tokens=6))
        assert {t for _n, t in seen} == {2}, seen
    finally:
        hook.remove()
        torch.set_num_threads(before)


def test_the_thread_criterion_answers_on_the_ids_device_and_leaves_other_devices_alone() -> None:
    """Its answer is or-ed with a flag on the ids' device: a CPU answer to a GPU's ids failed
    every reply there. Off a CPU it never touches the thread count."""
    import torch

    from tuning.generate import _OneThreadToDecode

    ids = torch.zeros((1, 3), dtype=torch.long, device="meta")  # a device that is not the CPU
    criterion = _OneThreadToDecode(torch.device("meta"))
    before = torch.get_num_threads()
    assert criterion(ids, None).device == ids.device
    assert not criterion.active and torch.get_num_threads() == before
