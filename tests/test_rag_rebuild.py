"""The rebuild script as a scheduler runs it: exit codes, kill -9 mid-run, two runs at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from rag.build import rebuild_index
from rag.manifest import MARKER, read_manifest
from rag.rebuild import main
from tests.rag_helpers import (
    ENV,
    PYTHON,
    ROOT,
    expected_state,
    index_state,
    load,
    qa,
    settings_for,
    synthetic_lines,
    write_batch,
)

PROGRESS = re.compile(r"(\d+)/(\d+) \[")


def start_rebuild(
    corpus: Path, work: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """`python -m rag.rebuild` in a child process; the list fills with its progress counts."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "rag.rebuild", "--corpus", str(corpus), "--work", str(work), *extra],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: list[int] = []

    def follow() -> None:
        assert proc.stderr is not None
        buffer = b""
        while chunk := os.read(proc.stderr.fileno(), 4096):  # tqdm redraws with \r, not newlines
            buffer = (buffer + chunk)[-400:]
            seen.extend(int(m.group(1)) for m in PROGRESS.finditer(buffer.decode(errors="ignore")))

    threading.Thread(target=follow, daemon=True).start()
    return proc, seen


def wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_cli_exit_codes_and_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    write_batch(corpus, "2026-03-01", [qa("a", "What colour is the logo?", "Blue.")])
    work = str(tmp_path / "index")
    assert main(["--corpus", str(corpus), "--work", work, "--quiet"]) == 0
    assert "added 1 / updated 0 / deleted 0 / unchanged 0 / rejected 0" in capsys.readouterr().out

    (corpus / "2026-04-01-bad.jsonl").write_text('{"prompt": "no answer"}\n', encoding="utf-8")
    assert main(["--corpus", str(corpus), "--work", work, "--quiet", "--strict"]) == 1
    assert "left unchanged" in capsys.readouterr().err
    assert main(["--corpus", str(corpus), "--work", work, "--quiet"]) == 0  # lenient: 1 rejected
    assert "unchanged 1 / rejected 1" in capsys.readouterr().out

    assert main(["--corpus", str(tmp_path / "missing"), "--work", work, "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--corpus", str(corpus), "--work", work, "--collection", "x", "--quiet"]) == 2


@pytest.mark.slow
def test_kill_9_mid_rebuild_then_rerun_repairs_the_index(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work)
    write_batch(corpus, "2026-03-01", synthetic_lines(1200))
    rebuild_index(load(corpus), settings)
    before = read_manifest(work)
    # the next batch deletes 200, changes 200 and adds 2400: the kill lands after the deletes
    write_batch(corpus, "2026-03-01", synthetic_lines(800) + synthetic_lines(200, 800, " (v2)"))
    write_batch(corpus, "2026-04-01", synthetic_lines(2400, 5000), name="more")

    proc, seen = start_rebuild(corpus, work)
    wait_for(lambda: any(n >= 512 for n in seen) or proc.poll() is not None, 240)
    assert proc.poll() is None, "the rebuild ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (work / MARKER).exists()
    assert read_manifest(work) == before  # readers still see the last complete manifest
    done = max(seen)
    assert 0 < done < 2600, f"killed at {done} nodes: not mid-run"

    records = load(corpus)
    summary = rebuild_index(records, settings)
    assert summary.repaired
    assert index_state(settings) == expected_state(records, settings)
    manifest = read_manifest(work)
    assert manifest is not None and not (work / MARKER).exists()
    assert {rid: e.hash for rid, e in manifest.records.items()} == {
        r.id: r.content_hash for r in records
    }
    assert manifest.nodes == len(records)


@pytest.mark.slow
def test_a_second_rebuild_refuses_while_the_first_runs(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2026-03-01", synthetic_lines(1500))
    first, seen = start_rebuild(corpus, work)
    wait_for(lambda: seen or first.poll() is not None, 240)  # it holds the lock once it embeds
    second = subprocess.run(
        [
            PYTHON,
            "-m",
            "rag.rebuild",
            "--corpus",
            str(corpus),
            "--work",
            str(work),
            "--lock-timeout",
            "1",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert first.poll() is None, "the first rebuild ended before the second started"
    assert second.returncode == 2 and "another rebuild" in second.stderr
    assert first.wait(timeout=300) == 0
    settings = settings_for(work)
    assert index_state(settings) == expected_state(load(corpus), settings)
