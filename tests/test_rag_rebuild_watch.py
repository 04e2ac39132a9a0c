"""`python -m rag.rebuild --watch`: one process that rebuilds whenever the corpus files change,
says what went wrong without ending, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from rag.manifest import read_manifest
from rag.rebuild import corpus_signature, main
from tests.rag_helpers import ENV, PYTHON, ROOT, qa, write_batch

LOGO = "What colour is the logo?"


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines as they come (a thread reads them)."""
    lines: queue.Queue[str] = queue.Queue()

    def follow() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=follow, daemon=True).start()
    return lines


def next_line(lines: queue.Queue[str], timeout: float) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no line within {timeout} s")


def line_with(lines: queue.Queue[str], text: str, timeout: float) -> str:
    """The first line that holds `text` (libraries may say other things on stderr first)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if text in line:
            return line
    pytest.fail(f"no line with {text!r} within {timeout} s")


def dropped(folder: Path, day: str, rows: list[dict[str, str]]) -> None:
    """A batch file put in place whole, as a team's upload would (never seen half-written)."""
    staged = write_batch(folder.parent / "staging", day, rows)
    os.replace(staged, folder / staged.name)


def test_a_watching_rebuild_follows_the_corpus_in_one_process(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2026-03-01", [qa("logo", LOGO, "Blue.")])
    command = ["-m", "rag.rebuild", "--corpus", str(corpus), "--work", str(work), "--quiet"]
    proc = subprocess.Popen(
        [PYTHON, *command, "--watch", "--every", "0.1"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = lines_of(proc.stdout), lines_of(proc.stderr)
        assert "added 1 / updated 0 / deleted 0 / unchanged 0" in next_line(out, 120)
        with pytest.raises(queue.Empty):  # nothing changed: nothing rebuilt
            out.get(timeout=1.0)

        dropped(
            corpus, "2026-04-01", [qa("logo", LOGO, "Green."), qa("font", "Which font?", "Inter.")]
        )
        assert "added 2 / updated 0 / deleted 0 / unchanged 1" in next_line(out, 60)
        manifest = read_manifest(work)
        assert manifest is not None and manifest.nodes > 0
        assert {e.record_id for e in manifest.records.values()} == {"logo", "font"}

        # the corpus folder gone for a while: said, and the watch goes on
        corpus.rename(tmp_path / "away")
        line_with(err, "no such file or directory", 30)
        (tmp_path / "away").rename(corpus)
        dropped(corpus, "2026-05-01", [qa("logo", LOGO, "Red.")])
        assert "added 1 / updated 0 / deleted 0 / unchanged 3" in next_line(out, 60)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        line_with(err, "stopping after the rebuild under way", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_change_is_seen_by_name_size_or_modification_time(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    path = write_batch(corpus, "2026-03-01", [qa("logo", LOGO, "Blue.")])
    before = corpus_signature([corpus])
    assert corpus_signature([corpus]) == before
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))  # touched, same bytes
    touched = corpus_signature([corpus])
    assert touched != before
    write_batch(corpus, "2026-03-02", [qa("font", "Which font?", "Inter.")])
    assert corpus_signature([corpus]) not in (before, touched)
    missing = corpus_signature([tmp_path / "nowhere"])
    assert isinstance(missing, str) and "no such file" in missing


def test_the_watch_asks_for_a_positive_interval(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "-1", "nan"):
        with pytest.raises(SystemExit) as exit_:
            main(["--watch", "--every", bad])
        assert exit_.value.code == 2
        assert "above 0" in capsys.readouterr().err
