"""Embedders: the ONNX query path, embeddings from a real local server, retries, no stray calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from rag.build import rebuild_index
from rag.embedding import (
    Embedder,
    batch_size_for,
    load_sentence_transformer,
    minilm_path,
    resolve_device,
)
from rag.index import RagIndex
from rag.manifest import read_manifest
from rag.packaged import MINILM
from rag.remote_embedding import RemoteEmbedder
from rag.store import open_client, open_collection
from tests.rag_helpers import ROOT, load, qa, settings_for, write_batch
from tests.tuning_servers import model_server

TOLERANCE = 1e-5  # per vector component, between two paths over the same weights
ONNX_DIR = ROOT / "work" / "models"  # exported once per checkout, like the app does

LIGHTHOUSE = [
    qa("lamp", "What lamp does the Skerrow lighthouse use?", "A third-order Fresnel lens."),
    qa("keeper", "Who kept the light in the winter of 1911?", "Ingrid Vass and her brother."),
    {"id": "log", "text": "Fog signal sounded for nineteen hours; supply boat delayed by swell."},
    {"id": "ru-mayak", "instruction": "Какой высоты маяк?", "output": "Сорок два метра."},
]


@pytest.fixture(scope="module")
def onnx_embedder() -> Embedder:
    return load_sentence_transformer(minilm_path(), "cpu", onnx_dir=ONNX_DIR)


@pytest.mark.parametrize(
    "query",
    [
        "What lamp does the lighthouse use?",
        "Какой высоты маяк?",
        "x",
        "fog " * 500,  # past the 256-token window: truncated the same way
        "  spaced\tout\nquery  ",
    ],
)
def test_onnx_query_vectors_match_the_torch_ones(onnx_embedder: Embedder, query: str) -> None:
    assert onnx_embedder.onnx is not None, "the packaged model exports to ONNX"
    fast = onnx_embedder.encode_query(query)
    torch_vector = onnx_embedder.encode([query])[0]
    assert fast.dtype == np.float32 and fast.shape == torch_vector.shape == (384,)
    assert float(np.abs(fast - torch_vector).max()) <= TOLERANCE


@pytest.fixture(scope="module")
def embed_url() -> Iterator[str]:
    """The project's model server serving only the packaged embedder on 127.0.0.1."""
    with model_server(None, extra=["--embed-model", "packaged"]) as url:
        yield url


@pytest.mark.slow
def test_an_index_built_through_an_embeddings_server_matches_the_local_one(
    tmp_path: Path, embed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2029-08-14", LIGHTHOUSE, name="keepers-log")
    remote = settings_for(work, embed_url=embed_url, embed_batch_size=2, embed_concurrency=3)
    records = load(corpus)
    summary = rebuild_index(records, remote)
    manifest = read_manifest(work)
    assert manifest is not None and summary.embedded_nodes == manifest.nodes
    assert manifest.embed_model == f"{embed_url}#all-minilm-l6-v2"

    # the stored vectors are the ones this process computes for the same node texts
    stored = open_collection(open_client(remote), manifest.collection).get(
        include=["embeddings", "documents"]
    )
    local = load_sentence_transformer(minilm_path(), "cpu").encode(stored["documents"])
    assert float(np.abs(np.asarray(stored["embeddings"]) - local).max()) <= TOLERANCE

    index = RagIndex.open(remote)  # queries go through the server too
    assert isinstance(index.embedder, RemoteEmbedder)
    assert index.retrieve("Which lens lights the Skerrow lamp?", k=1)[0].record_id == "lamp"

    # back to the same model in process: another embedder, so everything is embedded again
    local_settings = settings_for(work, embed_model=MINILM)
    again = rebuild_index(records, local_settings)
    assert again.full and again.embedded_nodes == manifest.nodes
    assert f"the embedder changed from {embed_url}#all-minilm-l6-v2 to " in again.line()
    assert RagIndex.open(local_settings).retrieve("Which lens?", k=1)[0].record_id == "lamp"


class FlakyEmbeddings(BaseHTTPRequestHandler):
    """`/v1/embeddings` that answers 503 twice, then a fixed unit vector per text."""

    failures_left = 2
    requests: ClassVar[list[tuple[int, int, str]]] = []  # (texts, status, model)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        failing = type(self).failures_left > 0
        type(self).requests.append((len(texts), 503 if failing else 200, body["model"]))
        if failing:
            type(self).failures_left -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        data = [
            {"object": "embedding", "index": i, "embedding": [3.0, 4.0, 0.0]}
            for i in range(len(texts))
        ]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky_url() -> Iterator[str]:
    FlakyEmbeddings.failures_left, FlakyEmbeddings.requests = 2, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyEmbeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_the_remote_embedder_retries_batches_and_normalises(flaky_url: str) -> None:
    embedder = RemoteEmbedder(
        flaky_url, "tide-encoder", api_key=None, batch_size=4, concurrency=2, retries=3,
        timeout_s=10,
    )  # fmt: skip
    vectors = embedder.encode([f"tide table {i}" for i in range(10)])
    assert vectors.shape == (10, 3) and embedder.dimension == 3
    assert np.allclose(vectors, [0.6, 0.8, 0.0])  # unit length, whatever the server sends
    answered = sorted(n for n, status, _ in FlakyEmbeddings.requests if status == 200)
    assert answered == [2, 4, 4]  # 10 texts in batches of 4, each answered once
    assert [s for _, s, _ in FlakyEmbeddings.requests].count(503) == 2  # and retried
    assert {m for _, _, m in FlakyEmbeddings.requests} == {"tide-encoder"}


class Recorder(BaseHTTPRequestHandler):
    """Any request at all: recorded and refused."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_no_embeddings_api_is_called_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an OpenAI key in the environment must not turn any default into an OpenAI call
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    Recorder.seen = []
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2029-08-14", LIGHTHOUSE, name="keepers-log")
    settings = settings_for(work)
    rebuild_index(load(corpus), settings)
    assert RagIndex.open(settings).retrieve("Who kept the light?", k=1)[0].record_id == "keeper"
    server.shutdown()
    assert Recorder.seen == []


def test_auto_device_takes_a_gpu_when_torch_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    # no GPU on the machines this runs on: what torch reports is the one thing replaced
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert batch_size_for(resolve_device("auto"), None) == 256
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert (resolve_device("auto"), batch_size_for("cpu", None)) == ("cpu", 64)
    assert resolve_device("cuda:1") == "cuda:1"  # an explicit device is kept as given
