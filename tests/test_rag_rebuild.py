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

from bench.chaos_reader import Readers, mismatch, total, unexplained
from rag.build import rebuild_index
from rag.embedding import minilm_path
from rag.index import RagIndex
from rag.manifest import MANIFEST, MARKER, IndexManifest, read_manifest
from rag.packaged import MINILM
from rag.rebuild import main
from rag.store import generations, open_client
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
        # a killed rebuild keeps what it stored, losing at most one bulk batch: small batches,
        # so that a kill lands between writes of these small corpora; and no encoder process,
        # which would make a 1,500-record rebuild too quick for a second one to meet it running
        env={**ENV, "RAG_BULK_BATCH": "256", "RAG_ENCODE_CHILD_MIN": "0"},
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


def test_a_rebuild_of_an_index_reads_the_corpus_twice_and_counts_rejects_on_the_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a scheduled rebuild read the whole corpus four times (1.9 s each at 200k records): to
    # count its rejects, to compare it, to read the changed records again and to pick them
    import corpus as corpus_package

    corpus, work = tmp_path / "corpus", str(tmp_path / "index")
    write_batch(corpus, "2026-03-01", [qa("a", "What colour is the logo?", "Blue.")])
    (corpus / "2026-03-02-bad.jsonl").write_text('{"prompt": "no answer"}\n', encoding="utf-8")
    assert main(["--corpus", str(corpus), "--work", work, "--quiet"]) == 0  # a first build
    assert "added 1 / updated 0 / deleted 0 / unchanged 0 / rejected 1" in capsys.readouterr().out
    reads: list[str] = []
    for name in ("iter_load", "iter_records"):
        real = getattr(corpus_package, name)
        monkeypatch.setattr(
            corpus_package, name, lambda paths, n=name, f=real: reads.append(n) or f(paths)
        )
    write_batch(corpus, "2026-03-03", [qa("b", "Which font is used?", "Inter.")])
    assert main(["--corpus", str(corpus), "--work", work, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "added 1 / updated 0 / deleted 0 / unchanged 1 / rejected 1" in out
    assert "2026-03-02-bad.jsonl:1" in err
    # compared, then the new record read again to decide its fact and, the same record, to
    # embed it: no read only to count, none only to pick what to embed
    assert reads == ["iter_load", "iter_records"], reads
    reads.clear()
    assert main(["--corpus", str(corpus), "--work", work, "--quiet", "--strict"]) == 1
    assert reads == ["iter_load"], "strict mode no longer counts before it writes"


@pytest.mark.slow
def test_kill_9_mid_rebuild_then_rerun_repairs_the_index(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work)
    write_batch(corpus, "2026-03-01", synthetic_lines(600))
    rebuild_index(load(corpus), settings)
    before = read_manifest(work)
    # the next batch deletes 100, changes 100 and adds 1200: the kill lands after the deletes
    write_batch(corpus, "2026-03-01", synthetic_lines(400) + synthetic_lines(100, 400, " (v2)"))
    write_batch(corpus, "2026-04-01", synthetic_lines(1200, 5000), name="more")

    proc, seen = start_rebuild(corpus, work)
    wait_for(lambda: any(n >= 512 for n in seen) or proc.poll() is not None, 900)
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
    # what the killed run wrote whole is kept, not embedded again (two nodes a record: its
    # question and answer, and its question alone)
    assert summary.reused_nodes >= 512 and summary.embedded_nodes + summary.reused_nodes == 2600
    assert index_state(settings) == expected_state(records, settings)
    assert mismatch(records, settings) == ""
    manifest = read_manifest(work)
    assert manifest is not None and not (work / MARKER).exists()
    assert {e.record_id: e.hash for e in manifest.records.values()} == {
        r.id: r.content_hash for r in records
    }
    assert manifest.nodes == 2 * len(records)


@pytest.mark.slow
def test_a_second_rebuild_refuses_while_the_first_runs(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2026-03-01", synthetic_lines(1500))
    first, seen = start_rebuild(corpus, work)
    wait_for(lambda: seen or first.poll() is not None, 900)  # it holds the lock once it embeds
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
    assert mismatch(load(corpus), settings) == ""


STATIONS = ["Kestrel Halt", "Marrow Junction", "Ostby Quay", "Pellam Cross", "Quillon Road"]


def timetable(revision: str, count: int = 30) -> list[dict[str, str]]:
    """Instruction lines about train departures; a revision changes every platform together."""
    return [
        {
            "id": f"dep-{i:03d}",
            "instruction": f"From which platform does the {6 + i % 12}:{i % 6}5 service to "
            f"{STATIONS[i % 5]} leave?",
            "output": f"It leaves from platform {(i * 3 + len(revision)) % 9 + 1}{revision}.",
        }
        for i in range(count)
    ]


QUERIES = [f"Which platform for the train to {s}?" for s in STATIONS]


@pytest.mark.slow
def test_readers_in_other_processes_never_fail_go_empty_or_mix_versions(
    tmp_path: Path, store_url: str | None
) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work, chroma_url=store_url, retire_after_s=0.5)
    write_batch(corpus, "2025-11-17", timetable(""), name="timetable")
    rebuild_index(load(corpus), settings)
    states = [manifest_versions(work)]
    readers = Readers(2, work, store_url, tmp_path / "readers", QUERIES)
    readers.wait_ready()

    full = rebuild_index(load(corpus), settings, full=True)
    states.append(manifest_versions(work))
    write_batch(corpus, "2025-11-17", timetable(" (east side)")[:25], name="timetable")
    relief = [
        {
            "id": f"relief-{i}",
            "instruction": f"Which platform for relief train {i} to {STATIONS[i % 5]}?",
            "output": f"Relief train {i} leaves from platform {i % 9 + 1}.",
        }
        for i in range(1100)
    ]
    write_batch(corpus, "2025-12-01", relief, name="relief")
    # changes every platform at once, removes five departures, adds 1,100 relief departures
    # (closer to the readers' questions than anything indexed): the kill lands after the first
    # batch of vectors is written, and those must not crowd out what the manifest holds
    proc, seen = start_rebuild(corpus, work, *(["--chroma-url", store_url] if store_url else []))
    wait_for(lambda: any(n >= 512 for n in seen) or proc.poll() is not None, 900)
    assert proc.poll() is None, "the rebuild ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(1.0)  # readers keep reading next to the half-written versions
    records = load(corpus)
    repaired = rebuild_index(records, settings)
    states.append(manifest_versions(work))
    time.sleep(1.5)  # and on the new state, without a restart
    reports = readers.stop()

    assert full.full and full.generation == 2
    assert repaired.repaired and repaired.reused_nodes >= 512  # kept, not embedded again
    assert total(reports, "failed") == 0, [r["errors"] for r in reports]
    assert total(reports, "empty") == 0
    assert all(r["queries"] > 20 for r in reports)
    assert unexplained(reports, states) == 0  # every answer is one manifest's versions
    revised = {
        f"{rid}\x1f{h}" for rid, h in states[-1].items() if states[0].get(rid) != h
    }  # the relief trains and the departures whose platform changed, at their new version
    for report in reports:  # each reader moved to the new timetable without a restart
        assert any(revised & set(versions) for versions, _ in report["results"])
    assert mismatch(records, settings) == ""


def manifest_versions(work: Path) -> dict[str, str]:
    """Entry (a version's key) -> content hash of the manifest readers open now, as the
    readers report each hit (`bench/chaos.py` compares the same way)."""
    manifest = read_manifest(work)
    assert manifest is not None
    return {key: e.hash for key, e in manifest.records.items()}


OBSERVATORY = [
    qa("dome-hours", "When is the Vireo Ridge dome open to visitors?", "Thursdays after dusk."),
    qa("lens", "How wide is the main telescope's lens?", "Sixty-one centimetres."),
]


@pytest.mark.slow
def test_an_open_index_follows_rebuilds_made_by_another_process(tmp_path: Path) -> None:
    # an embedded chroma client keeps the vectors it loaded: before generations and reader
    # views of their own, an app kept answering from them after a scheduled rebuild
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    settings = settings_for(work)
    write_batch(corpus, "2030-01-06", OBSERVATORY)
    rebuild_index(load(corpus), settings)
    index = RagIndex.open(settings)
    assert index.retrieve("When can visitors enter the dome?", k=1)[0].answer == (
        "Thursdays after dusk."
    )
    write_batch(
        corpus,
        "2030-02-03",
        [
            qa("dome-hours", "When is the Vireo Ridge dome open to visitors?", "Saturdays only."),
            qa("cafe", "Does the observatory have a café?", "A kiosk by the car park."),
        ],
        name="winter",
    )
    for extra in ([], ["--full"]):  # in place, then a new generation
        done = subprocess.run(
            [PYTHON, "-m", "rag.rebuild", "--corpus", str(corpus), "--work", str(work), *extra],
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        for reader in (index, RagIndex.open(settings)):  # the open one, and one opened anew
            hit = reader.retrieve("When can visitors enter the dome?", k=1)[0]
            assert (hit.record_id, hit.answer) == ("dome-hours", "Saturdays only.")
            cafe = reader.retrieve("Is there somewhere to buy a coffee?", k=1)[0]
            assert cafe.record_id == "cafe" and cafe.text
    manifest = read_manifest(work)
    assert manifest is not None and manifest.generation == 2
    assert set(generations(open_client(settings), settings.collection)) == {manifest.collection}


def test_the_manifest_kept_in_memory_is_the_one_on_its_file(tmp_path: Path) -> None:
    # a process keeps the manifest it last wrote or read (`rag.manifest.read_manifest`): what
    # it hands out must be what the file says, and a file another process wrote replaces it
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2030-01-06", OBSERVATORY)
    rebuild_index(load(corpus), settings_for(work, retire_after_s=0.01))
    kept = read_manifest(work)
    on_file = IndexManifest.model_validate_json((work / MANIFEST).read_bytes())
    assert kept == on_file and kept.model_dump_json() == on_file.model_dump_json()
    assert read_manifest(work) is kept, "an unchanged file was parsed again"
    other = on_file.model_copy(update={"revision": on_file.revision + 1, "nodes": 1})
    (work / "other.json").write_text(other.model_dump_json(), encoding="utf-8")
    os.replace(work / "other.json", work / MANIFEST)  # as another process's rebuild does
    latest = read_manifest(work)
    assert latest is not None and (latest.revision, latest.nodes) == (other.revision, 1)


@pytest.mark.slow
def test_a_full_rebuild_that_waited_for_another_one_embeds_nothing_again(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2030-03-02", synthetic_lines(1500))
    first, seen = start_rebuild(corpus, work, "--full")
    wait_for(lambda: seen or first.poll() is not None, 900)  # it holds the lock once it embeds
    assert first.poll() is None, "the first rebuild ended before the second started"
    second = rebuild_index(load(corpus), settings_for(work, lock_timeout_s=300), full=True)
    assert first.wait(timeout=300) == 0
    assert (second.embedded_nodes, second.unchanged, second.full) == (0, 1500, False)
    assert "finished while this one waited" in second.line()


@pytest.mark.slow
def test_another_embedder_means_a_full_rebuild_said_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2030-01-06", OBSERVATORY)
    first = ["--corpus", str(corpus), "--work", str(work), "--quiet", "--embed-model", MINILM]
    assert main(first) == 0
    capsys.readouterr()
    # the same weights under another path count as another embedder: the index cannot know
    alias = tmp_path / "minilm-copy"
    alias.symlink_to(minilm_path(), target_is_directory=True)
    args = ["--corpus", str(corpus), "--work", str(work), "--quiet", "--embed-model", str(alias)]
    assert main(args) == 0
    line = capsys.readouterr().out
    assert line.startswith("full rebuild into generation 2: added 2 ")
    assert f"the embedder changed from {minilm_path()} to {alias}" in line
    manifest = read_manifest(work)
    assert manifest is not None and manifest.embed_model == str(alias)
