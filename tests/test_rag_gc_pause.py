"""The cyclic collector paused around a rebuild (`rag.gc_pause`): restored after, counted across
nested and threaded pauses, and safe because a rebuild makes no reference cycles."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from pathlib import Path

from rag.build import rebuild_index
from rag.gc_pause import paused_gc
from tests.rag_helpers import ROOT, load, settings_for

FORMATS = ROOT / "tests" / "data" / "formats"


def test_a_pause_restores_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_pauses_in_two_threads_end_when_the_last_ends() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    with paused_gc():
        pass
    assert not gc.isenabled()  # the other thread's pause goes on
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_rebuild_runs_paused_and_leaves_the_collector_on(tmp_path: Path) -> None:
    seen: list[bool] = []
    records = load(FORMATS)
    rebuild_index(
        records, settings_for(tmp_path / "w"), progress=lambda *_: seen.append(gc.isenabled())
    )
    assert seen and not any(seen)
    assert gc.isenabled()


SCRIPT = """
import gc, json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from corpus.offline import use_offline_defaults
use_offline_defaults()
from rag.build import rebuild_index
from tests.rag_helpers import load, settings_for
records = load(Path({formats!r}))
settings = settings_for(Path({work!r}))
rebuild_index(records[:3], settings)  # one-off imports and caches, before counting
gc.collect()
gc.disable()
found = []
for rows, full in ((records, True), (records[::2], False), (records, False)):
    rebuild_index(rows, settings, full=full)  # a full build, records gone, records back
    found.append(gc.collect())
print(json.dumps(found))
"""


def test_a_rebuild_makes_no_reference_cycles(tmp_path: Path) -> None:
    # what the pause rests on: with the collector off through full and incremental rebuilds,
    # a collection afterwards finds nothing to free (a fresh process: no other thread's garbage)
    code = SCRIPT.format(root=str(ROOT), formats=str(FORMATS), work=str(tmp_path / "w"))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == [0, 0, 0]
