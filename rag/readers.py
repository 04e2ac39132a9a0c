"""Which processes read an index: a file per reading process in the work folder's `readers/`.

A rebuild that switched the manifest waits a grace before it deletes what only the old manifest
admitted, so that a reader still in a query on the old one finishes it. With nobody reading
there is nobody to wait for. A reader registers before it first reads the manifest and stays
registered until its process ends; the rebuild looks after the switch. So a reader the rebuild
does not see registered later, and read the new manifest. A file left by a process of this
machine that is gone (kill -9) is removed by the next look.

Only for an embedded store: its files, the work folder with them, are on this machine. Readers
of a chroma server may run elsewhere and see the work folder through a network filesystem whose
listings lag, so a rebuild there always waits.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from rag.processes import died_here, this_process

FOLDER = "readers"

_registered: set[Path] = set()
_lock = threading.Lock()


def register(work_dir: Path) -> None:
    """Say that this process reads the index in `work_dir`, until it ends (once per folder).

    A folder it cannot write to (a read-only mount) is left alone: the embedded store itself
    needs to write there, so such a reader could not open it either."""
    folder = (work_dir / FOLDER).resolve()
    with _lock:
        if folder in _registered:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / this_process()).touch()
        except OSError:
            return
        _registered.add(folder)
        if len(_registered) == 1:
            atexit.register(_unregister_all)


def readers(work_dir: Path) -> list[str]:
    """The processes registered as readers of the index in `work_dir` (`host:pid`), after
    removing those of this machine that are gone. This process counts when it reads too."""
    folder = work_dir / FOLDER
    try:
        names = sorted(p.name for p in folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []  # nobody has registered
    alive = []
    for name in names:
        if died_here(name):
            (folder / name).unlink(missing_ok=True)
        else:
            alive.append(name)
    return alive


def may_be_read(work_dir: Path) -> bool:
    """Whether a reader may be open: one is registered, or the folder cannot be listed (then
    nobody can say there is none)."""
    try:
        return bool(readers(work_dir))
    except OSError:
        return True


def _unregister_all() -> None:
    with _lock:
        for folder in _registered:
            (folder / this_process()).unlink(missing_ok=True)
        _registered.clear()
