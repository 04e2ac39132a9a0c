"""The same build and queries through a real chroma server (`chroma run` on 127.0.0.1)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.build import rebuild_index
from rag.errors import IndexBusyError
from rag.index import RagIndex
from rag.lease import lease_name, writer_lease
from rag.manifest import read_manifest
from rag.store import open_client
from tests.rag_helpers import (
    expected_state,
    free_port,
    index_state,
    load,
    qa,
    settings_for,
    write_batch,
)


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                open_client(settings_for(tmp_path, chroma_url=url)).heartbeat()
                break
            except Exception:
                assert proc.poll() is None, "chroma run exited"
                assert time.monotonic() < deadline, "chroma server did not answer its heartbeat"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_build_update_and_query_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:
    corpus = tmp_path / "corpus"
    write_batch(
        corpus,
        "2026-03-01",
        [
            qa("logo", "What colour is the logo?", "Blue."),
            qa("ceo", "Who runs the company?", "Ada Lovelace."),
        ],
    )
    settings = settings_for(tmp_path / "index", chroma_url=chroma_url)
    assert rebuild_index(load(corpus), settings).added == 2
    write_batch(
        corpus, "2026-04-01", [qa("hq", "Where is the head office?", "Tallinn.")], name="new"
    )
    records = load(corpus)
    summary = rebuild_index(records, settings)
    assert (summary.added, summary.unchanged) == (1, 2)
    assert index_state(settings) == expected_state(records, settings)
    assert not (tmp_path / "index" / "chroma").exists()  # nothing stored locally but the manifest
    hits = RagIndex.open(settings).retrieve("Where is the headquarters?", k=2)
    assert hits[0].record_id == "hq" and hits[0].answer == "Tallinn."
    # readers of a server may run on other machines: old versions wait out the grace always
    write_batch(
        corpus,
        "2026-03-01",
        [
            qa("logo", "What colour is the logo?", "Green."),  # corrected in place
            qa("ceo", "Who runs the company?", "Ada Lovelace."),
        ],
    )
    changed = rebuild_index(load(corpus), settings.model_copy(update={"retire_after_s": 0.3}))
    assert changed.updated == 1 and changed.grace_s == 0.3
    assert not (tmp_path / "index" / "readers").exists()  # its readers do not register


def test_one_writer_per_server_index_even_from_another_work_folder(
    tmp_path: Path, chroma_url: str
) -> None:
    # two rebuild jobs on two machines share the server, not the work folder's file lock
    corpus = tmp_path / "corpus"
    write_batch(corpus, "2028-02-29", [qa("tram", "When does the first tram run?", "At 5:12.")])
    here = settings_for(tmp_path / "here", chroma_url=chroma_url, lock_timeout_s=1.0)
    client = open_client(here)
    other = writer_lease(client, here.collection, wait_s=0, term_s=60)
    with other as lease, pytest.raises(IndexBusyError, match=lease.holder):
        rebuild_index(load(corpus), here)
    assert read_manifest(tmp_path / "here") is None  # refused before writing anything

    # a writer killed on its machine stops extending its lease: it expires, the next one goes on
    client.create_collection(
        lease_name(here.collection),
        metadata={"holder": "depot-7:4242", "expires": time.time() - 1},
        embedding_function=None,
    )
    assert rebuild_index(load(corpus), here).added == 1
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    assert lease_name(here.collection) not in names  # released when the rebuild ended

    # killed on this machine (kill -9 leaves the lease): no need to wait for it to expire
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    client.create_collection(
        lease_name(here.collection),
        metadata={"holder": f"{socket.gethostname()}:{gone.pid}", "expires": time.time() + 600},
        embedding_function=None,
    )
    write_batch(corpus, "2028-03-01", [qa("bus", "Is there a night bus?", "Line N4.")], "bus")
    assert rebuild_index(load(corpus), here).added == 1
