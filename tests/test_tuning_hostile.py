"""A hostile client on 127.0.0.1 against the real model server (SmolLM2 through `build_app`):
each attack is refused or bounded before work starts, a client that leaves frees the model on
every route, slow clients are timed out — and a normal question is answered after each."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.tuning_servers import ROOT, CountingTokenizer, Recorder, idle
from tuning.api import build_app
from tuning.listen import serve_in_thread
from tuning.settings import ServeSettings, TuningSettings

pytestmark = pytest.mark.slow
SHORT = [{"role": "user", "content": "What is 2 + 2?"}]
COUNT = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
TIMEOUT_S = 1.5  # read timeout and keep-alive of the server under test


@pytest.fixture(scope="module")
def generator() -> Recorder:
    from tuning.model import load_for_inference

    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    model, tokenizer = load_for_inference(settings.base_model, settings.cache_dir, None, "cpu")
    return Recorder(model, CountingTokenizer(tokenizer))


@pytest.fixture(scope="module")
def url(generator: Recorder) -> Iterator[str]:
    limits = ServeSettings(_env_file=None, queue_wait_s=120, read_timeout_s=TIMEOUT_S,
                           keep_alive_s=TIMEOUT_S)  # fmt: skip
    with serve_in_thread(build_app(generator, "base", limits)) as base:
        yield base


def post(url: str, route: str, body: Any, timeout: float = 300) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    return httpx.post(f"{url}/v1/{route}", content=raw, headers=headers, timeout=timeout)


def answers_normally(url: str) -> None:
    idle(url)
    got = post(url, "chat/completions", {"messages": SHORT, "max_tokens": 4})
    assert got.status_code == 200 and got.json()["usage"]["completion_tokens"] > 0


LONG_TEXT = "The harbour pilot wrote the tide tables by hand. " * 600  # 29,400 characters


@pytest.mark.parametrize(
    ("route", "body", "code", "words"),
    [
        ("chat/completions", {"messages": SHORT, "stop": ["a" * 20_000] * 4}, "stop_too_long",
         "stop string of 20000 characters is over this server's limit of 256"),
        ("chat/completions", {"messages": SHORT, "stop": ["a"] * 5}, "too_many_items",
         "5 stop strings are over"),
        ("chat/completions", {"messages": [{"role": "user", "content": "w" * 31_500}],
                              "stop": ["x" * 200] * 4}, "input_too_long", "32300 characters"),
        ("completions", {"prompt": ["Q: 1 + 1?\nA:"] * 5000, "max_tokens": 1}, "too_many_items",
         "5000 prompts are over this server's limit of 64"),
        ("completions", {"prompt": ["Q: 1 + 1?\nA:"] * 64, "max_tokens": 100},
         "max_tokens_too_large", "64 prompts x max_tokens 100 = 6400 tokens"),
        ("completions", {"prompt": "x", "logprobs": 6, "echo": True, "max_tokens": 0},
         "logprobs_too_large", "logprobs 6 is over"),
        ("completions", {"prompt": "x", "max_tokens": 1, "stop": "y" * 300}, "stop_too_long",
         "300 characters"),
        ("chat/completions", {"messages": SHORT * 300}, "too_many_items", "300 messages"),
        ("chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}] * 300}]},
         "too_many_items", "300 content parts"),
        ("chat/completions", {"messages": SHORT, "model": "m" * 300}, None, "model"),
    ],
)  # fmt: skip
def test_costly_inputs_are_refused_before_tokenizing(
    url: str, generator: Recorder, route: str, body: dict[str, Any], code: str | None, words: str
) -> None:
    before = generator.tokenizer.calls
    got = post(url, route, body)
    assert got.status_code == 400, got.text
    assert got.json()["error"]["code"] == code and words in got.json()["error"]["message"]
    assert generator.tokenizer.calls == before
    answers_normally(url)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"messages": [{"role": "user", "content": "a\\ud800b"}]}',
         "messages.0.content: a lone surrogate (U+D800) at character 1"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "stop": ["\\udfff"]}', "stop.0: a lone surrogate"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "top_p": NaN}', "top_p: nan is not a finite number"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}', "temperature: inf is not a finite"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "presence_penalty": -Infinity}', "presence_penalty: -inf"),
        (b'{"prompt": "hi", "max_tokens": 1, "logit_bias": {"5": NaN}}', "logit_bias.5: nan"),
        (b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', "send one JSON object in UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "send one JSON object in UTF-8"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "seed": 1' + b"0" * 5000 + b"}", "JSON"),
    ],
)  # fmt: skip
def test_bad_text_and_numbers_get_a_400_naming_the_field(
    url: str, generator: Recorder, raw: bytes, words: str
) -> None:
    before = generator.tokenizer.calls
    route = "completions" if b'"prompt"' in raw else "chat/completions"
    got = post(url, route, raw)
    assert got.status_code == 400, got.text
    assert got.headers["content-type"] == "application/json"
    assert words in got.json()["error"]["message"]
    assert generator.tokenizer.calls == before
    answers_normally(url)


def test_stop_strings_cut_the_reply_where_they_first_appear(url: str) -> None:
    whole = post(url, "chat/completions", {"messages": COUNT, "max_tokens": 40}).json()
    text = whole["choices"][0]["message"]["content"]
    stop = "5"
    assert stop in text, text  # the model counts past five: the cut below is a real one
    cut = post(url, "chat/completions", {"messages": COUNT, "max_tokens": 40, "stop": [stop]})
    choice = cut.json()["choices"][0]
    assert choice["message"]["content"] == text[: text.index(stop)]
    assert choice["finish_reason"] == "stop"
    assert cut.json()["usage"]["completion_tokens"] < whole["usage"]["completion_tokens"]


def test_stop_strings_at_the_limit_are_served(url: str) -> None:
    body = {"messages": SHORT, "max_tokens": 8, "stop": ["\u2603" * 256] * 4}
    got = post(url, "chat/completions", body)
    assert got.status_code == 200 and got.json()["usage"]["completion_tokens"] > 0


def test_a_client_leaving_a_batch_of_prompts_frees_the_model(url: str, generator: Recorder) -> None:
    ran = len(generator.finished)
    body = {"prompt": [f"Story number {i}: once upon a time" for i in range(64)], "max_tokens": 64}
    with pytest.raises(httpx.ReadTimeout):
        post(url, "completions", body, timeout=3)
    idle(url)
    # at main the whole batch ran after the client left; here it stops within the prompt it was on
    assert len(generator.finished) - ran < 64
    assert generator.finished[-1].cancelled
    answers_normally(url)


def test_a_client_leaving_a_long_prompt_being_scored_frees_the_model(
    url: str, generator: Recorder
) -> None:
    passes: list[int] = []
    hook = generator.model.register_forward_hook(lambda *_: passes.append(1))
    try:
        body = {"prompt": LONG_TEXT, "echo": True, "logprobs": 1, "max_tokens": 0}
        with pytest.raises(httpx.ReadTimeout):
            post(url, "completions", body, timeout=2)
        idle(url)
    finally:
        hook.remove()
    tokens = len(generator.tokenizer.inner(LONG_TEXT, add_special_tokens=False)["input_ids"])
    assert len(passes) < tokens // 256  # it stopped before scoring every chunk of 256 tokens
    answers_normally(url)


def _closed_by_server(sock: socket.socket, seconds: float = 20) -> bytes:
    """Everything the server sends until it closes the connection (fails after `seconds`)."""
    sock.settimeout(seconds)
    got = b""
    while chunk := sock.recv(65_536):
        got += chunk
    return got


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_connection_that_sends_nothing_is_closed(url: str) -> None:
    with _connect(url) as sock:
        assert _closed_by_server(sock) == b""
    answers_normally(url)


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(url: str) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 400
    closed = threading.Event()
    with _connect(url) as sock:

        def trickle() -> None:
            for byte in head:
                if closed.is_set():
                    return
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.02)  # 400+ bytes: ~9 s, six timeouts' worth

        sender = threading.Thread(target=trickle)
        sender.start()
        started = time.monotonic()
        got = _closed_by_server(sock)
        took = time.monotonic() - started
        closed.set()
        sender.join()
    assert got == b"" and took < len(head) * 0.02  # closed before the head was complete
    answers_normally(url)


def test_a_body_that_does_not_arrive_gets_408(url: str, generator: Recorder) -> None:
    before = generator.tokenizer.calls
    with _connect(url) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"messages": ['
        )
        got = _closed_by_server(sock)
    assert got.startswith(b"HTTP/1.1 408") and b"read_timeout" in got
    assert generator.tokenizer.calls == before
    answers_normally(url)


def test_an_idle_kept_alive_connection_is_closed(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        got = _closed_by_server(sock)
    assert got.startswith(b"HTTP/1.1 200")  # answered, then closed once idle
    answers_normally(url)


def test_a_long_prompt_read_in_chunks_answers_as_in_one_pass(generator: Recorder) -> None:
    import torch

    from tuning.generate import Generator, Sampling

    story = "The harbour pilot checked the tide, the wind and the buoys. " * 60
    messages = [{"role": "user", "content": f"{story}\nWho checked the tide?"}]
    plain = Generator(generator.model, generator.tokenizer.inner)
    prompt = plain.prompt_ids(messages)
    assert len(prompt) > 2 * 256  # three passes of 256 tokens or fewer
    with torch.inference_mode():  # the library's own generate, the whole prompt in one pass
        whole = generator.model.generate(
            input_ids=torch.tensor([prompt]), attention_mask=torch.ones((1, len(prompt)), dtype=torch.long),
            max_new_tokens=16, do_sample=False, pad_token_id=plain.tokenizer.eos_token_id,
            eos_token_id=sorted(plain.stop_ids),
        )  # fmt: skip
    expected = plain.tokenizer.decode(whole[0, len(prompt) :], skip_special_tokens=True)
    assert plain.run(prompt, Sampling(16)).text == expected


def test_a_long_text_scored_in_chunks_matches_one_forward_pass(generator: Recorder) -> None:
    import torch

    from tuning.loglik import score_text

    text = "The harbour pilot checked the tide, the wind and the buoys. " * 50
    model, tokenizer = generator.model, generator.tokenizer.inner
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 2 * 256
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    expected = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    scored = score_text(model, tokenizer, text)
    assert scored.token_logprobs[1:] == pytest.approx(expected.tolist(), abs=1e-4)
