"""Bulk writes into a chroma collection: rows gathered into the store's largest batch, one batch
in flight while the caller prepares the next.

chroma's `add` costs about the same per call whatever its size up to the client's limit (the
HNSW inserts dominate), so a rebuild that added every 512 nodes paid that cost ten times more
often than needed. Through a chroma server the add runs in another process: a background thread
waits for it (without the GIL) while this one encodes the next batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import numpy as np

from rag.settings import RagSettings

Metadata = dict[str, Any]


def max_batch(client: Any) -> int:
    """The most rows one `add` may carry on this client (chroma says; 5,461 in 1.5.9)."""
    try:
        return int(client.get_max_batch_size())
    except Exception:  # an older client or a server that does not say: chroma's old limit
        return 5_461


CHILD_BATCH = 1_000


def write_size(
    client: Any, settings: RagSettings, child: object | None, nodes: int | None = None
) -> int:
    """Rows per `add` for a rebuild: the store's largest batch, but 1,000 into an embedded store
    while a child process encodes (`rag.child_encoder`). Each add holds this process's GIL, not
    the child's, so adds overlap the encoding; smaller ones leave less to add once the last text
    is encoded (measured, 10k records: 1,000 rows 22.4 / 22.9 s, 2,000 23.6 / 24.2 s, 5,461
    24.8 / 25.0 s), at ~5% more per row added alone (4,000 rows: 3.17 / 3.51 s vs 2.96 / 3.37 s).
    A change of at most the largest batch (`nodes`, when known) is added at once: into a large
    graph the per-add cost grows (4,000 nodes into 400k: 5.8 s as four adds, 4.6 s as one).
    """
    largest = max_batch(client)
    if child is None or settings.chroma_url or (nodes is not None and nodes <= largest):
        return largest
    return min(CHILD_BATCH, largest)


class BulkWriter:
    """Add rows to a collection in batches of `size`; the last `add` runs while new rows come.

    Use as a context manager, or call `flush` at the end: it writes what is left and raises
    the error of any add that failed. Rows are written in the order they were given.

    >>> class Store:
    ...     calls: list[int] = []
    ...     def add(self, ids, embeddings, metadatas, documents): self.calls.append(len(ids))
    >>> store = Store()
    >>> with BulkWriter(store, size=3) as writer:
    ...     writer.add(["a", "b"], np.zeros((2, 4)), [{}, {}], ["", ""])
    ...     writer.add(["c", "d"], np.zeros((2, 4)), [{}, {}], ["", ""])
    >>> store.calls, writer.written
    ([3, 1], 4)
    """

    def __init__(self, collection: Any, size: int) -> None:
        if size < 1:
            raise ValueError(f"a bulk batch needs at least one row, got {size}")
        self.collection = collection
        self.size = size
        self.written = 0  # rows whose add returned
        self._ids: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._metadatas: list[Metadata] = []
        self._documents: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-add")
        self._pending: Future[int] | None = None

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Metadata],
        documents: Sequence[str],
    ) -> None:
        """Queue rows; a full batch goes to the store (after the previous one is written)."""
        if not len(ids) == len(vectors) == len(metadatas) == len(documents):
            raise ValueError(
                f"ids, vectors, metadatas and documents differ in length: {len(ids)}, "
                f"{len(vectors)}, {len(metadatas)}, {len(documents)}"
            )
        self._ids += ids
        self._vectors.append(np.asarray(vectors, dtype=np.float32))
        self._metadatas += metadatas
        self._documents += documents
        while len(self._ids) >= self.size:
            self._send(self.size)

    def push(self) -> None:
        """Send what is queued now, without waiting for it: its add runs while the caller goes
        on (with an embedded store, while another process works: `rag.child_encoder`)."""
        if self._ids:
            self._send(len(self._ids))

    def flush(self) -> int:
        """Write what is queued and wait for every add; the rows written in all."""
        if self._ids:
            self._send(len(self._ids))
        self._wait()
        return self.written

    def close(self) -> None:
        """Stop the background thread (after `flush`, or to give up on what is queued)."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.flush()
            else:
                self._wait(quiet=True)  # the caller's error wins; let the add in flight end
        finally:
            self.close()

    def _send(self, count: int) -> None:
        vectors = np.concatenate(self._vectors) if len(self._vectors) > 1 else self._vectors[0]
        batch = (
            self._ids[:count],
            vectors[:count],
            self._metadatas[:count],
            self._documents[:count],
        )
        self._ids, self._metadatas = self._ids[count:], self._metadatas[count:]
        self._documents = self._documents[count:]
        self._vectors = [vectors[count:]] if count < len(vectors) else []
        self._wait()  # one add at a time: chroma applies them in order
        self._pending = self._pool.submit(self._write, *batch)

    def _write(
        self, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata], documents: list[str]
    ) -> int:
        self.collection.add(ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)
        return len(ids)

    def _wait(self, quiet: bool = False) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            self.written += pending.result()
        except Exception:
            if not quiet:
                raise
