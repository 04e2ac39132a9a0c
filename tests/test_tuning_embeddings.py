"""`/v1/embeddings` of the local server: the packaged all-MiniLM-L6-v2, as an OpenAI client sees it."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from tests.tuning_servers import model_server
from tuning.api import build_app
from tuning.embed import Embedder, packaged_embedder_path
from tuning.serve import serve_in_thread
from tuning.settings import ServeSettings

# not the demo's product: other names, numbers and scripts, one long passage
TEXTS = [
    "Harbour ferry 7 leaves Kessling pier every 40 minutes.",
    "Паром номер 7 отходит от причала Кесслинг каждые сорок минут.",
    " ".join(
        f"Sentence {n} of a long maintenance log about pump station {n * 13}." for n in range(60)
    ),
]


@pytest.fixture(scope="module")
def reference() -> Any:
    """The same weights loaded directly by sentence-transformers, outside the server."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(packaged_embedder_path(), device="cpu")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    limits = ServeSettings(_env_file=None, max_embed_inputs=4, max_input_chars=20_000)
    app = build_app(None, None, limits, Embedder.load("packaged"))
    with serve_in_thread(app) as base:
        yield f"{base}/v1"


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/embeddings", json=body, timeout=60)


def test_float_vectors_match_the_in_process_model(url: str, reference: Any) -> None:
    got = post(url, {"model": "all-minilm-l6-v2", "input": TEXTS}).json()
    vectors = np.array([d["embedding"] for d in got["data"]], dtype=np.float32)
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    assert [d["index"] for d in got["data"]] == [0, 1, 2]
    assert vectors.shape == (3, 384)
    assert np.abs(vectors - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_usage_counts_the_tokens_the_model_reads(url: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(packaged_embedder_path())
    # the long passage is cut at the model's 256 tokens, special tokens included
    expected = sum(min(len(tokenizer(t)["input_ids"]), 256) for t in TEXTS)
    usage = post(url, {"input": TEXTS}).json()["usage"]
    assert usage == {"prompt_tokens": expected, "total_tokens": expected}


def test_a_single_string_and_base64_through_the_openai_client(url: str, reference: Any) -> None:
    client = openai.OpenAI(base_url=url, api_key="unused")
    got = client.embeddings.create(model="all-minilm-l6-v2", input=TEXTS[1])  # base64 on the wire
    expected = reference.encode([TEXTS[1]], normalize_embeddings=True)[0]
    assert np.abs(np.array(got.data[0].embedding) - expected).max() < 1e-5
    raw = post(url, {"input": TEXTS[0], "encoding_format": "base64"}).json()["data"][0]
    decoded = np.frombuffer(base64.b64decode(raw["embedding"]), dtype="<f4")
    assert np.abs(decoded - reference.encode([TEXTS[0]], normalize_embeddings=True)[0]).max() < 1e-5


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"input": ["a", ""]}, 400, "empty strings"),
        ({"input": ["a"] * 5}, 400, "5 inputs are over"),
        ({"input": "x" * 20_001}, 400, "20001 characters"),
        ({"input": "a", "dimensions": 512}, 400, "384-dimensional"),
        ({"input": "a", "model": "text-embedding-3-small"}, 404, "not served here"),
        ({"input": "a", "encoding_format": "int8"}, 400, "encoding_format"),
        ({"input": [1, 2, 3]}, 400, "input"),
    ],
)
def test_bad_requests_get_openai_errors(
    url: str, body: dict[str, Any], status: int, words: str
) -> None:
    got = post(url, body)
    assert got.status_code == status
    assert words in got.json()["error"]["message"]


def test_chat_is_refused_when_only_an_embedder_is_loaded(url: str) -> None:
    got = httpx.post(
        f"{url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert got.status_code == 404 and "--adapter" in got.json()["error"]["message"]
    assert [m["id"] for m in httpx.get(f"{url}/models").json()["data"]] == ["all-minilm-l6-v2"]


@pytest.mark.slow
def test_the_command_serves_embeddings_without_a_chat_model() -> None:
    with model_server(None, extra=["--embed-model", "packaged", "--embed-name", "minilm"]) as url:
        got = post(url, {"model": "minilm", "input": ["one", "two"]})
    assert got.status_code == 200
    assert len(got.json()["data"]) == 2 and got.json()["model"] == "minilm"


class CountingEmbedder(Embedder):
    """The real embedder, counting its encoder calls."""

    calls = 0

    def embed(self, texts: Any, batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        return super().embed(texts, batch_size)


@pytest.mark.slow
def test_a_client_leaving_a_large_batch_frees_the_model() -> None:
    loaded = Embedder.load("packaged")
    embedder = CountingEmbedder(loaded.model, loaded.name)
    limits = ServeSettings(_env_file=None, max_input_chars=2_000_000, max_body_bytes=2_000_000)
    texts = [f"{TEXTS[2][:600]} ({i})" for i in range(2048)]  # 32 encoder calls of 64
    with serve_in_thread(build_app(None, None, limits, embedder)) as base:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v1/embeddings", json={"input": texts}, timeout=1)
        for _ in range(600):
            if not httpx.get(f"{base}/health").json()["gates"]["embed"]["running"]:
                break
            time.sleep(0.05)
        assert embedder.calls < 32  # it stopped between batches, not after all of them
        got = httpx.post(f"{base}/v1/embeddings", json={"input": "one"}, timeout=60)
        assert got.status_code == 200 and len(got.json()["data"]) == 1
