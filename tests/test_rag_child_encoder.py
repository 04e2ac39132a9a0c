"""Encoding in a child process (`rag.child_encoder`): the same vectors and token counts as this
process's embedder, in order, whatever the child does — load, die mid-way, fail to start — and a
rebuild that uses one writes the index a rebuild without one writes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import rag.build as build
import rag.child_encoder as child_encoder
from rag.build import rebuild_index
from rag.child_encoder import ChildEncoder, ChildFailed, SharedEncoder, start_child
from rag.embedding import embedder_name, load_embedder
from rag.layout import node_fields
from rag.manifest import read_manifest
from rag.settings import RagSettings
from rag.store import iter_pages, open_client, open_collection
from tests.rag_helpers import ROOT, load, settings_for

FORMATS = ROOT / "tests" / "data" / "formats"
MODEL = embedder_name(RagSettings(_env_file=None))  # the packaged default
TEXTS = [
    f"Сколько стоит тариф {i} в Риге?"
    if i % 3 == 0
    else f"What does plan {i} cost in Oslo, {i} GB?"
    for i in range(700)
]


def started(settings: RagSettings | None = None) -> ChildEncoder:
    child = start_child(MODEL, settings or RagSettings(_env_file=None, encode_child_min=1), 1)
    assert child is not None
    deadline = time.monotonic() + 60
    while not child.ready():
        assert time.monotonic() < deadline, "the encoder process did not load its model"
        time.sleep(0.05)
    return child


def gone(pid: int, within_s: float) -> bool:
    """Whether a process ended (a zombie left for init counts as ended)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(MODEL, "cpu")


def test_shared_encode_gives_this_process_vectors_and_counts(embedder) -> None:
    shared = SharedEncoder(lambda: embedder, started())
    try:
        vectors = shared.encode(TEXTS)
        assert shared.counted, "the child encoded none of the chunks"
        np.testing.assert_allclose(vectors, embedder.encode(TEXTS), atol=1e-5)
        assert shared.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
    finally:
        shared.close()


@pytest.mark.parametrize("way", ["ahead", "together"])
def test_batches_come_back_in_order_with_their_counts(embedder, way: str) -> None:
    # ahead: the child encodes while this process adds; together: both encode a small change
    batches = [TEXTS[:5], [], TEXTS[5:300], TEXTS[300:301], TEXTS[301:]]
    shared = SharedEncoder(lambda: embedder, started())
    try:
        if way == "ahead":
            out = list(shared.ahead(iter(batches), list, depth=2))
        else:
            out = list(shared.together(iter(batches), list))
            assert shared.counted, "the child encoded none of the texts"
    finally:
        shared.close()
    assert [b for b, _, _ in out] == batches
    for batch, vectors, counts in out:
        assert len(vectors) == len(counts) == len(batch)
        if batch:
            np.testing.assert_allclose(vectors, embedder.encode(batch), atol=1e-5)
            assert counts == embedder.count_tokens(batch)


def test_texts_handed_behind_an_add_come_back_whole_even_if_the_child_dies(embedder) -> None:
    # a small change: the child encodes these while this process adds the question nodes
    expected, expected_counts = embedder.encode(TEXTS), embedder.count_tokens(TEXTS)
    shared = SharedEncoder(lambda: embedder, started())
    later = shared.behind(TEXTS)
    assert later is not None, "a loaded child was not handed the texts"
    vectors, counts = later()
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert counts == expected_counts
    shared.child = child = started()
    later = shared.behind(TEXTS)
    assert later is not None
    os.kill(child.pid, signal.SIGKILL)
    vectors, counts = later()
    assert shared.child is None, "the dead child was kept"
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert counts == expected_counts
    assert shared.behind(TEXTS) is None, "texts were handed to no child"


class Submitted:
    """What a child was handed, by lane (wraps its `submit`)."""

    def __init__(self, child: ChildEncoder) -> None:
        self.lanes: dict[str, list[str]] = {child_encoder.NOW: [], child_encoder.EARLY: []}
        real = child.submit

        def submit(texts: list[str], lane: str = child_encoder.NOW) -> None:
            self.lanes[lane] += texts
            real(texts, lane)

        child.submit = submit  # type: ignore[method-assign]


@pytest.mark.parametrize("way", ["behind", "together"])
def test_texts_handed_early_come_back_in_place_and_are_not_encoded_again(
    embedder, way: str
) -> None:
    # a rebuild hands the texts new to the index over while fact identity runs; once the plan
    # is known, those it writes come from the child's early answers, the rest as before
    early, later = TEXTS[:400], TEXTS[200:] + TEXTS[:50]
    child = started()
    handed = Submitted(child)
    shared = SharedEncoder(lambda: embedder, child, lambda: False)
    try:
        assert shared.early(early)
        if way == "behind":
            result = shared.behind(later)
            assert result is not None
            vectors, counts = result()
        else:
            out = list(shared.together(iter([later[:30], later[30:]]), list))
            vectors = np.concatenate([v for _, v, _ in out])
            counts = [c for _, _, cs in out for c in cs]
        np.testing.assert_allclose(vectors, embedder.encode(later), atol=1e-5)
        assert counts == embedder.count_tokens(later)
        assert handed.lanes[child_encoder.EARLY] == early
        now = handed.lanes[child_encoder.NOW]
        assert not set(now) & set(early), "a text handed early was handed again"
        if way == "behind":  # `together` shares the rest with this process
            assert now == [t for t in later if t not in set(early)]
    finally:
        shared.close()


def test_a_text_asked_for_now_is_encoded_before_those_handed_early() -> None:
    # fact identity's new questions must not wait behind a change's texts handed early
    child = started()
    try:
        for start in range(0, len(TEXTS), 50):
            child.submit(TEXTS[start : start + 50] * 4, child_encoder.EARLY)  # 14 x 200 texts
        child.submit(TEXTS[:3])
        vectors, counts = child.take()
        assert len(vectors) == len(counts) == 3
        # answers come in the order encoded: at most the early request under way when the
        # text came, and one the child took before it read the text, came first
        assert len(child._got[child_encoder.EARLY]) <= 2
        assert len(child.take_early()[0]) == 200  # and the early ones still come, in order
        assert not child.answered()
    finally:
        child.close()


def test_texts_handed_early_to_a_child_that_dies_are_encoded_here(embedder) -> None:
    child = started()
    shared = SharedEncoder(lambda: embedder, child)
    assert shared.early(TEXTS)
    os.kill(child.pid, signal.SIGKILL)
    out = list(shared.together(iter([TEXTS[::2], TEXTS[1::2]]), list))
    assert shared.child is None, "the dead child was kept"
    np.testing.assert_allclose(out[0][1], embedder.encode(TEXTS[::2]), atol=1e-5)
    np.testing.assert_allclose(out[1][1], embedder.encode(TEXTS[1::2]), atol=1e-5)
    assert not shared.early(TEXTS), "texts were handed to no child"


def test_a_child_handed_a_message_it_cannot_read_ends_instead_of_hanging() -> None:
    child = started()
    write = child_encoder.write_message
    write(child._to, ["a list of texts without its lane"])
    with pytest.raises(ChildFailed):
        child.take()
    assert gone(child.pid, 5)


class Counting:
    """An embedder that counts the texts it encodes here."""

    def __init__(self, embedder) -> None:
        self.embedder, self.encoded = embedder, 0

    def encode(self, texts):
        self.encoded += len(texts)
        return self.embedder.encode(texts)

    def count_tokens(self, texts):
        return self.embedder.count_tokens(texts)


@pytest.mark.parametrize("loaded", [True, False])
def test_a_wait_behind_an_add_encodes_here_what_the_child_has_not_reached(
    embedder, loaded: bool
) -> None:
    # asked at once, the child has answered nothing: with the model loaded here, this process
    # encodes chunks from the back while the child works from the front; the child's answers
    # for those are passed over, so what it encodes next still comes back right
    here = Counting(embedder)
    shared = SharedEncoder(lambda: here, started(), lambda: loaded)
    try:
        later = shared.behind(TEXTS)
        assert later is not None
        vectors, counts = later()
        np.testing.assert_allclose(vectors, embedder.encode(TEXTS), atol=1e-5)
        assert counts == embedder.count_tokens(TEXTS)
        if loaded:
            assert 0 < here.encoded < len(TEXTS), "the wait did not share the texts"
        else:
            assert here.encoded == 0, "a model not loaded here was loaded to share a wait"
        again = shared.behind(TEXTS[::-1])
        assert again is not None and shared.child is not None
        np.testing.assert_allclose(again()[0], embedder.encode(TEXTS[::-1]), atol=1e-5)
        np.testing.assert_allclose(shared.encode(TEXTS), embedder.encode(TEXTS), atol=1e-5)
    finally:
        shared.close()


def test_a_child_killed_mid_way_loses_no_batch(embedder) -> None:
    child = started()
    shared = SharedEncoder(lambda: embedder, child)
    batches = [TEXTS[i : i + 50] for i in range(0, len(TEXTS), 50)]
    out = []
    for n, item in enumerate(shared.ahead(iter(batches), list, depth=3)):
        out.append(item)
        if n == 1:
            os.kill(child.pid, signal.SIGKILL)
    assert shared.child is None, "the dead child was kept"
    assert [b for b, _, _ in out] == batches
    np.testing.assert_allclose(
        np.concatenate([v for _, v, _ in out]), embedder.encode(TEXTS), atol=1e-5
    )
    # and a list shared with a child that dies is encoded here whole
    shared.child = child = started()
    os.kill(child.pid, signal.SIGKILL)
    np.testing.assert_allclose(shared.encode(TEXTS), embedder.encode(TEXTS), atol=1e-5)
    assert shared.child is None


def test_ctrl_c_is_the_rebuild_s_to_handle_not_the_child_s(embedder) -> None:
    child = started()
    os.kill(child.pid, signal.SIGINT)  # what a terminal sends the whole process group
    shared = SharedEncoder(lambda: embedder, child)
    try:
        out = list(shared.ahead(iter([TEXTS[:50], TEXTS[50:100]]), list, depth=1))
        assert shared.child is child, "the child died of the interrupt"
        np.testing.assert_allclose(out[1][1], embedder.encode(TEXTS[50:100]), atol=1e-5)
    finally:
        shared.close()
    assert gone(child.pid, 5)


def test_a_child_that_cannot_load_its_model_leaves_the_work_here(embedder) -> None:
    child = ChildEncoder("packaged:no-such-model", "cpu", None, None)
    deadline = time.monotonic() + 60
    with pytest.raises(ChildFailed, match="unknown packaged embedder"):
        while time.monotonic() < deadline:
            child.ready()
            time.sleep(0.05)
    child.close()
    failing = ChildEncoder("packaged:no-such-model", "cpu", None, None)
    failing._proc.wait()
    shared = SharedEncoder(lambda: embedder, failing)
    np.testing.assert_allclose(shared.encode(TEXTS), embedder.encode(TEXTS), atol=1e-5)
    out = list(shared.ahead(iter([TEXTS[:10]]), list, depth=2))
    np.testing.assert_allclose(out[0][1], embedder.encode(TEXTS[:10]), atol=1e-5)
    shared.close()


def test_only_a_local_model_with_enough_records_gets_a_child() -> None:
    settings = RagSettings(_env_file=None, encode_child_min=1_500)
    assert start_child(MODEL, settings, 1_499) is None
    assert start_child(MODEL, settings, None) is None  # a stream of unknown length: not yet
    assert start_child("http://127.0.0.1:9/v1#some-model", settings, 10**6) is None
    never = RagSettings(_env_file=None, encode_child_min=0)
    assert start_child(MODEL, never, 10**6) is None
    child = start_child(MODEL, settings, 1_500)
    assert child is not None
    child.close()
    assert gone(child.pid, 5)


def test_a_child_not_needed_is_not_waited_for() -> None:
    child = ChildEncoder(MODEL, "cpu", None, None)  # closed while it loads its model
    start = time.monotonic()
    child.close()
    assert time.monotonic() - start < 1.0
    assert gone(child.pid, 5)


def test_the_child_ends_when_the_rebuild_process_dies() -> None:
    script = (
        "import sys, time\n"
        "from rag.child_encoder import ChildEncoder\n"
        f"child = ChildEncoder({MODEL!r}, 'cpu', None, None)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not gone(pid, 1)
    finally:
        parent.kill()
        parent.wait()
    assert gone(pid, 15), "the encoder process outlived the process that started it"


def fields(meta: dict) -> dict:
    """A stored node's fields, less the serial of the rebuild that wrote it."""
    every = node_fields(meta)
    return {k: v for k, v in every.items() if k not in ("rev", "_node_content")}


def stored(settings: RagSettings) -> dict[str, tuple[str, dict, np.ndarray]]:
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None
    collection = open_collection(open_client(settings), manifest.collection)
    return {
        node: (text, dict(meta), np.asarray(vector))
        for page in iter_pages(collection, ["documents", "metadatas", "embeddings"])
        for node, text, meta, vector in zip(
            page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True
        )
    }


@pytest.mark.parametrize("adds", ["one add", "adds in batches"])
def test_a_rebuild_with_a_child_writes_the_index_one_without_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adds: str
) -> None:
    # one add: the child encodes while the question nodes are added (`behind`); in batches: the
    # child encodes ahead of the adds (`ahead`)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(FORMATS.glob("*.jsonl")):  # every trainer format, Russian and English
        shutil.copy(path, corpus / path.name)
    records = load(corpus)
    taken = []
    real_take = ChildEncoder.take
    monkeypatch.setattr(ChildEncoder, "take", lambda self: taken.append(1) or real_take(self))
    behind: list[object] = []
    real_behind = SharedEncoder.behind
    monkeypatch.setattr(
        SharedEncoder, "behind", lambda self, texts: behind.append(1) or real_behind(self, texts)
    )
    monkeypatch.setattr(child_encoder, "CHUNK", 8)  # fact identity's questions shared too
    # a corpus this small is encoded before a child loads its model: give the rebuild a loaded one
    monkeypatch.setattr(build, "start_child", lambda model, settings, texts: started(settings))
    batch = None if adds == "one add" else 4
    with_child = settings_for(tmp_path / "with", encode_child_min=1, bulk_batch=batch)
    without = settings_for(tmp_path / "without", encode_child_min=0)
    rebuild_index(records, with_child)
    assert taken, "no text was encoded in the child"
    assert bool(behind) == (adds == "one add"), "the change was not encoded behind its first add"
    monkeypatch.undo()
    rebuild_index(records, without)
    a, b = stored(with_child), stored(without)
    assert a.keys() == b.keys()
    for node, (text, meta, vector) in a.items():
        assert (text, meta) == b[node][:2], node
        np.testing.assert_allclose(vector, b[node][2], atol=1e-5, err_msg=node)
    ma, mb = read_manifest(with_child.work_dir), read_manifest(without.work_dir)
    assert ma is not None and mb is not None
    assert {k: e.tokens for k, e in ma.records.items()} == {
        k: e.tokens for k, e in mb.records.items()
    }


def test_the_rebuild_command_says_how_many_records_it_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command streams the corpus (read twice, never held): it counts the records when it
    looks for rejects, so a large first build starts its encoder process at once."""
    from rag.rebuild import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(FORMATS.glob("*.jsonl")):
        shutil.copy(path, corpus / path.name)
    asked: list[int | None] = []
    monkeypatch.setattr(build, "start_child", lambda model, settings, texts: asked.append(texts))
    assert main(["--corpus", str(corpus), "--work", str(tmp_path / "w"), "--quiet"]) == 0
    assert asked[0] == len(load(corpus)) > 0


def test_a_rebuild_of_changed_answers_loads_no_model_in_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers changed, questions kept: the encoder process encodes the new texts, and the
    question nodes are written with the vectors and token counts the last rebuild kept, so this
    process loads no model (at 200k records, in a new process, 2.4 s before the first add). The
    counts are the ones a build from scratch takes."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(FORMATS.glob("*.jsonl")):
        shutil.copy(path, corpus / path.name)
    monkeypatch.setattr(build, "start_child", lambda model, settings, texts: started(settings))
    settings = settings_for(tmp_path / "index", encode_child_min=1)
    rebuild_index(load(corpus), settings)
    changed = corpus / "prompt_completion.jsonl"
    lines = [json.loads(line) for line in changed.read_text(encoding="utf-8").splitlines()]
    changed.write_text(
        "".join(
            json.dumps({**line, "completion": f"{line['completion']} (revised)"}) + "\n"
            for line in lines
        ),
        encoding="utf-8",
    )
    loads: list[int] = []
    real_get = build._LazyEmbedder.get
    monkeypatch.setattr(build._LazyEmbedder, "get", lambda self: loads.append(1) or real_get(self))
    handed: list[Submitted] = []

    def child_seen(model: str, settings: RagSettings, texts: int | None) -> ChildEncoder:
        child = started(settings)
        handed.append(Submitted(child))
        return child

    monkeypatch.setattr(build, "start_child", child_seen)
    summary = rebuild_index(load(corpus), settings)
    assert summary.updated + summary.added == len(lines) and summary.embedded_nodes > 0
    assert not loads, "the rebuild loaded the model in its own process"
    # the new answers went to the child while fact identity ran, and nothing went twice
    early, now = handed[0].lanes[child_encoder.EARLY], handed[0].lanes[child_encoder.NOW]
    assert len(early) == len(lines) and not now
    assert all(text.endswith("(revised)") for text in early)
    monkeypatch.undo()
    scratch = settings_for(tmp_path / "scratch", encode_child_min=0)
    rebuild_index(load(corpus), scratch)
    kept, fresh = read_manifest(settings.work_dir), read_manifest(scratch.work_dir)
    assert kept is not None and fresh is not None
    assert {k: e.tokens for k, e in kept.records.items()} == {
        k: e.tokens for k, e in fresh.records.items()
    }
    # and the index holds what a build from scratch writes
    a, b = stored(settings), stored(scratch)
    assert a.keys() == b.keys()
    for node, (text, meta, vector) in a.items():
        assert text == b[node][0], node
        assert fields(meta) == fields(b[node][1]), node
        np.testing.assert_allclose(vector, b[node][2], atol=1e-5, err_msg=node)
