"""A rebuild waits for readers of the old manifest only while some are open (`rag.readers`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from rag.build import rebuild_index
from rag.readers import may_be_read, readers, register
from tests.rag_helpers import ENV, PYTHON, ROOT, load, qa, settings_for, write_batch

# a reader in its own process: opens the index, says so, then holds it until stdin closes
READER = """
import sys
from corpus.offline import use_offline_defaults
use_offline_defaults()
from rag.index import RagIndex
from rag.settings import RagSettings
index = RagIndex.open(RagSettings(_env_file=None, work_dir=sys.argv[1]))
print("open", flush=True)
sys.stdin.read()
"""


def open_reader(work: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [PYTHON, "-c", READER, str(work)],
        cwd=ROOT,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "open\n"
    return proc


def change(corpus: Path, answer: str) -> None:
    write_batch(corpus, "2031-01-01", [qa("gate", "Which gate does the ferry use?", answer)])


@pytest.mark.slow
def test_the_grace_is_waited_only_while_a_reader_is_open(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work, retire_after_s=0.3)
    change(corpus, "Gate 4.")
    rebuild_index(load(corpus), settings)
    change(corpus, "Gate 5.")
    alone = rebuild_index(load(corpus), settings)
    assert alone.updated == 1 and alone.grace_s == 0  # nobody reads: old versions go at once

    first, second = open_reader(work), open_reader(work)
    try:
        host = socket.gethostname()
        assert readers(work) == sorted(f"{host}:{p.pid}" for p in (first, second))
        change(corpus, "Gate 6.")
        waited = rebuild_index(load(corpus), settings)
        assert waited.grace_s == 0.3 and "then 0.3 s for open readers" in waited.line()

        first.communicate("", timeout=60)  # ends normally: its entry goes with it
        os.kill(second.pid, signal.SIGKILL)  # killed: its entry stays until the next look
        second.wait(timeout=60)
        assert (work / "readers" / f"{host}:{second.pid}").exists()
        assert readers(work) == []
        assert list((work / "readers").iterdir()) == []
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    change(corpus, "Gate 7.")
    assert rebuild_index(load(corpus), settings).grace_s == 0


def test_a_process_that_reads_and_rebuilds_waits_for_itself(tmp_path: Path) -> None:
    # the app answers questions while its Data tab rebuilds the same index
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work, retire_after_s=0.2)
    change(corpus, "Gate 1.")
    rebuild_index(load(corpus), settings)
    register(work)
    register(work)  # once per folder
    assert readers(work) == [f"{socket.gethostname()}:{os.getpid()}"]
    change(corpus, "Gate 2.")
    assert rebuild_index(load(corpus), settings).grace_s == 0.2


def test_a_folder_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    register(blocked)  # its `readers/` cannot be made: nothing raised
    assert readers(blocked) == [] and not may_be_read(blocked)


def test_a_registry_that_cannot_be_listed_means_someone_may_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "readers").mkdir()

    def refused(_folder: Path) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refused)
    assert may_be_read(tmp_path)
