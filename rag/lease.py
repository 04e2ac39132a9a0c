"""One writer per index on a chroma server, whichever machine it runs on: a lease kept in the
server itself.

The rebuild's file lock is a lock on a file in the work folder: it keeps two rebuilds on one
machine apart, and nothing else. When the index lives in a chroma server that rebuild jobs on
other machines reach too, the lease is what keeps them apart: a collection named
`{base}.writer-lease` that a rebuild creates before it writes (chroma refuses a name that
exists, so exactly one creator wins) and drops when it is done. Its metadata says who holds it
and until when; the holder extends it as it writes, so a lease past its time belongs to a writer
that died (a lost machine) and the next rebuild takes it over; one held by a process of this
machine that no longer runs (kill -9) is taken over at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rag.errors import IndexBusyError
from rag.processes import died_here, this_process
from rag.store import drop_collection, is_missing

SUFFIX = ".writer-lease"


def lease_name(base: str) -> str:
    """The lease's collection name for an index.

    >>> lease_name("rag-or-tune")
    'rag-or-tune.writer-lease'
    """
    return f"{base}{SUFFIX}"


class Lease:
    """A held lease: `extend` it while writing, it is dropped when the rebuild ends."""

    def __init__(self, client: Any, name: str, term_s: float) -> None:
        self.client, self.name, self.term_s = client, name, term_s
        self.holder = this_process()
        self._extended = 0.0

    def metadata(self) -> dict[str, str | float]:
        """Who holds the lease and until when (seconds since the epoch)."""
        return {"holder": self.holder, "expires": time.time() + self.term_s}

    def extend(self) -> None:
        """Push the expiry out again (at most every few seconds: it is a request)."""
        if time.monotonic() - self._extended < min(5.0, self.term_s / 4):
            return
        collection = self.client.get_collection(self.name, embedding_function=None)
        collection.modify(metadata=self.metadata())
        self._extended = time.monotonic()


@contextmanager
def writer_lease(client: Any, base: str, wait_s: float, term_s: float) -> Iterator[Lease]:
    """Hold the server's writer lease for `base`, waiting up to `wait_s` for another holder;
    IndexBusyError names the holder when it does not end in time."""
    lease = Lease(client, lease_name(base), term_s)
    deadline = time.monotonic() + wait_s
    while not _try_create(lease):
        holder, expires = _current(client, lease.name)
        if expires is None:
            continue  # released between our two requests: try again at once
        if expires < time.time() or died_here(holder):
            drop_collection(client, lease.name)  # its writer is gone: the lease is free
            continue
        if time.monotonic() >= deadline:
            raise IndexBusyError(
                f"another rebuild ({holder}) holds the writer lease {lease.name!r} on the chroma "
                f"server; waited {wait_s:.0f} s — one writer per index: try again when it ends "
                f"(a lease whose writer died expires by itself within {term_s:.0f} s)"
            )
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    try:
        yield lease
    finally:
        drop_collection(client, lease.name)


def _try_create(lease: Lease) -> bool:
    try:
        lease.client.create_collection(
            lease.name, metadata=lease.metadata(), embedding_function=None
        )
        lease._extended = time.monotonic()
        return True
    except Exception as err:  # chroma: "already exists" (the type differs across versions)
        if "exist" not in str(err).lower():
            raise
        return False


def _current(client: Any, name: str) -> tuple[str, float | None]:
    """(holder, expiry) of the lease as the server has it; expiry None when it just vanished."""
    try:
        meta = client.get_collection(name, embedding_function=None).metadata or {}
    except Exception as err:
        if is_missing(err):
            return "nobody", None
        raise
    return str(meta.get("holder", "unknown")), float(meta.get("expires", 0.0))
