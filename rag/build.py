"""Bring the index in line with a corpus: embed new and changed records, delete removed ones.

Order of a rebuild: lock -> marker -> collection updated -> manifest replaced -> marker removed.
A run killed anywhere leaves the marker; the next run then trusts only what the collection
actually holds (record ids, hashes, chunks) and repairs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from corpus import Record, current_records
from rag.embedding import Embedder, load_embedder, model_name
from rag.errors import IndexBusyError
from rag.manifest import (
    LOCK,
    IndexedRecord,
    IndexManifest,
    RebuildSummary,
    clear_marker,
    fingerprint,
    read_manifest,
    read_marker,
    write_manifest,
    write_marker,
)
from rag.nodes import NodeSpec, node_id, record_nodes
from rag.settings import RagSettings
from rag.store import drop_collection, held_records, location, open_client, open_collection

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (nodes embedded so far, nodes to embed)
ADD_BATCH = 512  # nodes encoded and written together: big enough for the encoder, small for memory
DELETE_BATCH = 2_000


def batched(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """Lists of `size` items (the last may be shorter); itertools.batched needs Python 3.12."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def rebuild_index(
    records: Iterable[Record],
    settings: RagSettings,
    *,
    full: bool = False,
    rejected: int = 0,
    progress: Progress | None = None,
) -> RebuildSummary:
    """Sync the index with `records` (newest per id); raises IndexBusyError if another rebuild runs."""
    start = time.perf_counter()
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.work_dir / LOCK))
    try:
        lock.acquire(timeout=settings.lock_timeout_s)
    except Timeout as err:
        raise IndexBusyError(
            f"another rebuild of {settings.work_dir} is running (waited "
            f"{settings.lock_timeout_s:.0f} s for {lock.lock_file}); try again when it ends"
        ) from err
    try:
        return _rebuild_locked(current_records(records), settings, full, progress, rejected, start)
    finally:
        lock.release()


def _rebuild_locked(
    records: list[Record],
    settings: RagSettings,
    full: bool,
    progress: Progress | None,
    rejected: int,
    start: float,
) -> RebuildSummary:
    client = open_client(settings)
    manifest = read_manifest(settings.work_dir)
    interrupted = read_marker(settings.work_dir) is not None
    # the model loads only when something needs embedding: a no-op rebuild stays quick
    embedder = _LazyEmbedder(settings)
    if manifest is not None and not _same_index(manifest, settings):
        full = True  # another model, store or collection: the manifest says nothing about this one
    write_marker(settings.work_dir, full)  # before the first change to the collection
    if full:
        drop_collection(client, settings.collection)
    collection = open_collection(client, settings.collection)
    before, stale_ids, repaired = _current_state(manifest, collection, full, interrupted)

    wanted = {r.id: r for r in records}
    removed = [rid for rid in before if rid not in wanted]
    changed = [
        rid for rid, r in wanted.items() if rid in before and before[rid].hash != r.content_hash
    ]
    new = [rid for rid in wanted if rid not in before]
    doomed = stale_ids + [
        node_id(rid, i) for rid in removed + changed for i in range(before[rid].nodes)
    ]
    for chunk in batched(doomed, DELETE_BATCH):
        collection.delete(ids=chunk)

    entries = {rid: before[rid] for rid in wanted if rid in before and rid not in changed}
    todo = [wanted[rid] for rid in changed + new]
    embedded = _embed_and_add(todo, settings, embedder, collection, entries, progress)

    summary = RebuildSummary(
        added=len(new),
        updated=len(changed),
        deleted=len(removed),
        unchanged=len(wanted) - len(new) - len(changed),
        rejected=rejected,
        repaired=repaired,
        full=full,
        embedded_nodes=embedded,
    )
    summary.seconds = time.perf_counter() - start
    _write(settings, embedder, manifest if not full else None, wanted, entries, summary)
    clear_marker(settings.work_dir)
    return summary


class _LazyEmbedder:
    """The embedder, loaded on first use; its name and dimension come from the manifest until then."""

    def __init__(self, settings: RagSettings) -> None:
        self.settings = settings
        self.name = model_name(settings.embed_model)
        self._model: Embedder | None = None

    def get(self) -> Embedder:
        if self._model is None:
            s = self.settings
            self._model = load_embedder(s.embed_model, s.device, s.embed_batch_size)
        return self._model


def _same_index(manifest: IndexManifest, settings: RagSettings) -> bool:
    return (
        manifest.embed_model == model_name(settings.embed_model)
        and manifest.store == location(settings)
        and manifest.collection == settings.collection
    )


def _current_state(
    manifest: IndexManifest | None, collection: Any, full: bool, interrupted: bool
) -> tuple[dict[str, IndexedRecord], list[str], bool]:
    """(what the index holds per record, node ids to delete first, whether this is a repair)."""
    if full:
        return {}, [], interrupted
    count = collection.count()
    if manifest is not None and not interrupted and count == manifest.nodes:
        return dict(manifest.records), [], False
    if manifest is None and count == 0:
        return {}, [], interrupted
    # killed mid-run, or the collection disagrees with the manifest: trust the collection
    known = manifest.records if manifest else {}
    state: dict[str, IndexedRecord] = {}
    stale: list[str] = []
    for rid, held in held_records(collection).items():
        if not held.complete():
            stale.extend(held.ids)  # half-written: remove, then embed again if still wanted
            continue
        (content,) = held.hashes
        old = known.get(rid)
        state[rid] = (
            old
            if old is not None and old.hash == content
            else IndexedRecord(hash=content, nodes=held.expected)
        )
    return state, stale, True


def _embed_and_add(
    records: Sequence[Record],
    settings: RagSettings,
    lazy: _LazyEmbedder,
    collection: Any,
    entries: dict[str, IndexedRecord],
    progress: Progress | None,
) -> int:
    """Embed the records' nodes in batches and add them; fills `entries` as records complete."""
    from llama_index.core.schema import BaseNode, TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = ChromaVectorStore(chroma_collection=collection)
    specs: list[tuple[Record, NodeSpec]] = [
        (r, spec)
        for r in records
        for spec in record_nodes(r, settings.chunk_size, settings.chunk_overlap)
    ]
    total, done = len(specs), 0
    embedder = lazy.get() if specs else None
    if progress:
        progress(0, total)
    tokens: dict[str, int] = {}
    for batch in batched(specs, ADD_BATCH):
        assert embedder is not None
        texts = [spec.text for _, spec in batch]
        vectors = embedder.encode(texts)
        for (record, _), count in zip(batch, embedder.count_tokens(texts), strict=True):
            tokens[record.id] = tokens.get(record.id, 0) + count
        nodes: list[BaseNode] = [
            TextNode(id_=spec.id, text=spec.text, metadata=spec.metadata, embedding=vector.tolist())
            for (_, spec), vector in zip(batch, vectors, strict=True)
        ]
        store.add(nodes)
        for record, spec in batch:
            entries[record.id] = IndexedRecord(
                hash=record.content_hash,
                as_of=record.as_of,
                nodes=int(spec.metadata["chunks"]),
                tokens=tokens[record.id],
            )
        done += len(batch)
        if progress:
            progress(done, total)
    return total


def _write(
    settings: RagSettings,
    lazy: _LazyEmbedder,
    previous: IndexManifest | None,
    wanted: dict[str, Record],
    entries: dict[str, IndexedRecord],
    summary: RebuildSummary,
) -> None:
    # a repaired entry may lack a date: the corpus record has it
    entries = {
        rid: e
        if e.as_of == wanted[rid].as_of
        else e.model_copy(update={"as_of": wanted[rid].as_of})
        for rid, e in entries.items()
    }
    formats: dict[str, int] = {}
    for record in wanted.values():
        formats[str(record.format)] = formats.get(str(record.format), 0) + 1
    dates = [e.as_of for e in entries.values() if e.as_of]
    manifest = IndexManifest(
        built_at=datetime.now(UTC),
        corpus_fingerprint=fingerprint((rid, e.hash) for rid, e in entries.items()),
        embed_model=lazy.name,
        dimension=_dimension(lazy, previous),
        store=location(settings),
        collection=settings.collection,
        records=entries,
        nodes=sum(e.nodes for e in entries.values()),
        formats=formats,
        newest_as_of=max(dates) if dates else None,
        embedding_tokens=sum(e.tokens for e in entries.values()),
        last_rebuild=summary,
    )
    write_manifest(settings.work_dir, manifest)


def _dimension(lazy: _LazyEmbedder, previous: IndexManifest | None) -> int:
    """The vector size: from the loaded model, else from the manifest of the same model."""
    if previous is not None and lazy._model is None:
        return previous.dimension
    return lazy.get().dimension
