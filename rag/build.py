"""Bring the index in line with a corpus: embed new and changed records, delete removed ones.

Order of a rebuild: lock -> marker -> new versions written (under ids of their own, invisible to
readers) -> manifest replaced (the switch) -> a short grace while readers are open
(`rag.readers`) -> old versions deleted or the old generation dropped -> marker removed. Readers
return only what the manifest they opened admits, so they see the old index or the new one,
never a mix and never an empty one. A run killed anywhere leaves the marker; the next run reads
back what the collection actually holds, keeps what was written whole and repairs the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from filelock import FileLock, Timeout

from corpus import Record
from rag.bulk import max_batch, write_size
from rag.child_encoder import SharedEncoder, start_child
from rag.compact import copy_live, crowded
from rag.embedding import TextEmbedder, embedder_name, open_embedder
from rag.errors import IndexBusyError
from rag.factstate import FactState
from rag.gc_pause import paused_gc
from rag.ingest import batched, embed_and_add, expected_nodes
from rag.lease import Lease, writer_lease
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
from rag.nodes import record_texts
from rag.plan import (
    Held,
    Target,
    Want,
    choose_target,
    current_state,
    next_generation,
    plan_changes,
)
from rag.readers import may_be_read
from rag.restamp import restamp
from rag.scope import decide, rules_key
from rag.settings import RagSettings
from rag.store import (
    Hnsw,
    apply_hnsw,
    drop_collection,
    drop_generation,
    generation_name,
    generations,
    location,
    open_client,
    open_collection,
    sweep_dropped_graphs,
)
from rag.versions import FactVersions

Progress = Callable[[int, int], None]  # (nodes embedded so far, nodes to embed)
Records = Iterable[Record] | Callable[[], Iterable[Record]]  # a callable: read again per pass
Rejected = int | Callable[[], int]  # a callable: known once the corpus has been read
DELETE_BATCH = 5_000  # ids per delete: each call rewrites the graph's id maps (0.4 s at 400k)


def rebuild_index(
    records: Records,
    settings: RagSettings,
    *,
    full: bool = False,
    rejected: Rejected = 0,
    progress: Progress | None = None,
    size: int | None = None,
) -> RebuildSummary:
    """Sync the index with every version of every fact in `records` (`rag.versions`); raises
    IndexBusyError if another rebuild runs.

    `records` may be a callable that streams the corpus: it is read twice (ids and hashes first,
    then only the records to embed), so memory holds ids and hashes, not texts; `rejected`, the
    corpus lines not read as records, may be a callable asked once the rebuild has read the
    corpus (a stream that counts them as it goes); `size`, when
    its caller knows, says how many records it yields (a large full build then starts its
    encoder process at once: `rag.child_encoder`).
    """
    # the cyclic collector is paused for the rebuild: it makes no reference cycles (a test checks
    # it), and the collector would walk the manifest's million objects again and again for
    # nothing (0.8 s of a 1% rebuild at 200k records); refcounting frees everything as usual
    with paused_gc():
        return _rebuild(records, settings, full, rejected, progress, size)


def _rebuild(
    records: Records,
    settings: RagSettings,
    full: bool,
    rejected: Rejected,
    progress: Progress | None,
    size: int | None,
) -> RebuildSummary:
    start = time.perf_counter()
    asked_at = datetime.now(UTC)  # a full rebuild that ends after this makes ours unnecessary
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
        with _server_lease(settings) as lease:

            def tick(done: int, total: int) -> None:
                if lease is not None:
                    lease.extend()  # still writing: the lease must not expire under us
                if progress:
                    progress(done, total)

            source = _passes(records)
            size = len(records) if isinstance(records, Sized) else size
            return _rebuild_locked(source, settings, full, tick, rejected, asked_at, start, size)
    finally:
        lock.release()


@contextmanager
def _server_lease(settings: RagSettings) -> Iterator[Lease | None]:
    """The chroma server's writer lease (writers on other machines share the server, not this
    file lock); an embedded store lives in this work folder only, and needs none."""
    if not settings.chroma_url:
        yield None
        return
    wait, term = settings.lock_timeout_s, settings.lease_term_s
    with writer_lease(open_client(settings), settings.collection, wait, term) as lease:
        yield lease


def _passes(records: Records) -> Callable[[], Iterable[Record]]:
    if callable(records):
        return records
    if isinstance(records, Iterator):  # a one-shot stream cannot be read twice: keep it
        kept = list(records)
        return lambda: kept
    return lambda: records


def _rebuild_locked(
    source: Callable[[], Iterable[Record]],
    settings: RagSettings,
    full: bool,
    progress: Progress | None,
    rejected: Rejected,
    asked_at: datetime,
    start: float,
    size: int | None,
) -> RebuildSummary:
    work = settings.work_dir
    client = open_client(settings)
    manifest = read_manifest(work)
    marker = read_marker(work)
    # the model loads only when something needs embedding: a no-op rebuild stays quick
    lazy = _LazyEmbedder(settings)
    config = (lazy.name, location(settings), settings.collection)
    existing = generations(client, settings.collection)
    target = choose_target(manifest, marker, config, full, asked_at, existing)
    write_marker(work, target.new, target.collection, lazy.name)  # before the first write
    live = manifest.collection if manifest is not None else None
    for name in existing:  # a killed full rebuild's generation that no manifest names
        if name not in (live, target.collection):
            drop_collection(client, name)
    sweep_dropped_graphs(settings)  # and any graph left by a drop of an earlier version
    # the encoder process starts now, to load while the graph loads, the corpus is compared and
    # fact identity runs: for a build of everything, and for a rebuild of a large index, whose
    # change is not known yet (1% of 200k: 12.5-12.9 s with it started before fact identity,
    # 14.0-14.9 s started once the plan is known; a rebuild that needs none kills it, on the
    # other core, unused). Started before the graph loads, it is ready when fact identity hands
    # it the texts new to the index (`SharedEncoder.early`).
    everything = target.new or manifest is None or not manifest.records
    held_records = 0 if manifest is None else len(manifest.records)
    encoder = SharedEncoder(lazy.get, None, lazy.loaded)
    state: FactState | None = None
    try:
        encoder.child = start_child(lazy.name, settings, size if everything else held_records)
        hnsw = Hnsw.of(settings)
        collection = open_collection(client, target.collection, hnsw)
        tuned = apply_hnsw(collection, hnsw)  # a collection made now has it already: no note
        held = current_state(manifest, collection, target, marker is not None)
        state = FactState.open(work)
        run = _Run(source, settings, progress, rejected, start, client, manifest, lazy, target)
        run.live, run.collection, run.tuned, run.held = live, collection, tuned, held
        run.state, run.encoder = state, encoder
        return _write_versions(run)
    finally:
        encoder.close()
        if state is not None:
            state.close()


@dataclass
class _Run:
    """What one rebuild works with once it holds the lock and knows its target."""

    source: Callable[[], Iterable[Record]]
    settings: RagSettings
    progress: Progress | None
    rejected: Rejected
    start: float
    client: Any
    manifest: IndexManifest | None
    lazy: _LazyEmbedder
    target: Target
    live: str | None = None  # the collection the live manifest names
    collection: Any = None  # the collection written
    tuned: str = ""  # what changed in the collection's graph settings, in words
    held: Held = field(default_factory=lambda: Held(live={}))
    state: FactState | None = None
    encoder: SharedEncoder | None = None  # this process's embedder and maybe a child's


def _write_versions(run: _Run) -> RebuildSummary:
    """Decide the fact versions, write what changed, switch the manifest, keep the fact state."""
    settings, manifest, target, held, collection = (
        run.settings, run.manifest, run.target, run.held, run.collection,
    )  # fmt: skip
    assert run.state is not None
    rules = rules_key(run.lazy.name, settings)
    versions = _decide(run, rules)
    wanted = versions.wanted()
    plan = plan_changes(wanted, held, versions.replaces)
    for chunk in batched(plan.junk, DELETE_BATCH):
        collection.delete(ids=chunk)  # never admitted by any manifest: no reader needs them

    assert run.encoder is not None
    if run.encoder.child is None:  # a change large enough to pay for a child's start
        run.encoder.child = start_child(run.lazy.name, settings, len(plan.embed))
    entries = dict(plan.keep)
    serial = (manifest.revision if manifest is not None else 0) + 1  # a killed run's is reused
    write_batch = settings.bulk_batch or write_size(
        run.client, settings, run.encoder.child, expected_nodes(len(plan.embed))
    )
    embedded = embed_and_add(
        run.source, plan, settings, run.encoder, collection, entries, run.progress, serial,
        versions, write_batch, run.state,
    )  # fmt: skip
    # a later batch ended or re-confirmed a version: new dates in place, before the switch
    decided = {k: e for k, e in entries.items() if k in versions.entries}
    restamp(collection, versions, decided, everything=held.repaired)
    entries.update(
        {k: e.model_copy(update=versions.manifest_fields(k)) for k, e in decided.items()}
    )
    summary = RebuildSummary(
        added=plan.added,
        updated=plan.updated,
        deleted=plan.deleted,
        unchanged=len(plan.keep),
        rejected=run.rejected() if callable(run.rejected) else run.rejected,
        repaired=held.repaired,
        full=target.new,
        embedded_nodes=embedded,
        reused_nodes=sum(n for _, n in plan.adopt.values()),
        decided=versions.decided,
        generation=target.generation,
        reason="; ".join(r for r in (target.reason, run.tuned) if r),
    )
    summary.seconds = time.perf_counter() - run.start
    # each node deleted from this collection stays in its graph (`rag.compact`)
    before = manifest.deleted_nodes if manifest and manifest.collection == target.collection else 0
    deleted = before + len(plan.junk) + len(plan.retired)
    written = _write(
        settings, run.lazy, manifest, target, wanted, entries, summary, serial, deleted
    )  # the switch
    run.state.commit(serial, rules)  # the state of this manifest (one behind if killed first)
    old = run.live if target.new and run.live != target.collection else None
    summary.grace_s = _retire(run.client, settings, collection, plan.retired, old)
    clear_marker(settings.work_dir)
    if crowded(written, settings.compact_at):
        _compact(run, written, summary)
    return summary


def _compact(run: _Run, manifest: IndexManifest, summary: RebuildSummary) -> None:
    """Move the live nodes to a fresh graph in the next generation (`rag.compact`), switch the
    manifest to it and drop the old one. Killed on the way, it leaves the marker: the next
    rebuild drops the half-filled generation no manifest names, and compacts again."""
    start = time.perf_counter()
    settings, client = run.settings, run.client
    number = next_generation(generations(client, manifest.base_name), manifest)
    name = generation_name(manifest.base_name, number)
    write_marker(settings.work_dir, False, name, manifest.embed_model)
    fresh = open_collection(client, name, Hnsw.of(settings))
    copied = copy_live(run.collection, fresh, manifest, max_batch(client), run.progress)
    if copied != manifest.nodes:  # the manifest and the collection disagree: keep the old one
        drop_generation(client, settings, name)
        clear_marker(settings.work_dir)
        return
    summary.compacted = manifest.deleted_nodes
    summary.generation = number
    summary.compact_s = time.perf_counter() - start
    update = {"collection": name, "generation": number, "deleted_nodes": 0}
    write_manifest(
        settings.work_dir, manifest.model_copy(update={**update, "last_rebuild": summary})
    )
    summary.grace_s += _retire(client, settings, fresh, [], manifest.collection)
    clear_marker(settings.work_dir)


def _decide(run: _Run, rules: str) -> FactVersions:
    """The fact versions to write (see `rag.scope.decide`)."""
    assert run.state is not None
    manifest, lazy, encoder = run.manifest, run.lazy, run.encoder
    assert encoder is not None
    trusted = (
        manifest is not None
        and not run.target.new
        and not run.held.repaired
        and run.state.is_for(manifest.revision, rules)
    )
    settings = run.settings

    def unseen(records: list[Record]) -> None:
        # a change written in one add (`rag.ingest`): the child encodes its texts while fact
        # identity decides which of them to write (1% of 200k in a process of its own: the
        # child had waited ~4 s for the plan, which then waited 3.5 s for the child)
        if expected_nodes(len(records)) <= max_batch(run.client):
            chunks = (record_texts(r, settings.chunk_size, settings.chunk_overlap) for r in records)
            encoder.early([text for texts in chunks for text in texts])

    return decide(run.source, settings, lazy.name, encoder.encode, run.state, trusted, unseen)


def _retire(
    client: Any, settings: RagSettings, collection: Any, retired: list[str], old: str | None
) -> float:
    """Delete what only the previous manifest admitted, once its readers have moved on; the
    seconds waited for them."""
    if not retired and old is None:
        return 0.0
    # a reader checks the manifest before each query: after the grace none still uses the old
    # one. With no reader registered (an embedded store's are all on this machine) none can.
    waited = 0.0
    if settings.chroma_url or may_be_read(settings.work_dir):
        waited = settings.retire_after_s
        time.sleep(waited)
    for chunk in batched(retired, DELETE_BATCH):
        collection.delete(ids=chunk)
    if old is not None:
        drop_generation(client, settings, old)
    return waited


class _LazyEmbedder:
    """The embedder, loaded on first use; its name and dimension come from the manifest until then."""

    def __init__(self, settings: RagSettings) -> None:
        self.settings = settings
        self.name = embedder_name(settings)
        self._model: TextEmbedder | None = None

    def loaded(self) -> bool:
        """Whether `get` returns at once (the model is in memory already)."""
        return self._model is not None

    def get(self) -> TextEmbedder:
        if self._model is None:
            self._model = open_embedder(self.name, self.settings)
        return self._model


def _write(
    settings: RagSettings,
    lazy: _LazyEmbedder,
    previous: IndexManifest | None,
    target: Target,
    wanted: dict[str, Want],
    entries: dict[str, IndexedRecord],
    summary: RebuildSummary,
    serial: int,
    deleted: int,
) -> IndexManifest:
    # a kept entry may lack a date or a format (an older manifest): the corpus record has them
    entries = {
        rid: e
        if rid not in wanted or (e.as_of, e.format) == (wanted[rid].as_of, wanted[rid].format)
        else e.model_copy(update={"as_of": wanted[rid].as_of, "format": wanted[rid].format})
        for rid, e in entries.items()
    }
    formats: dict[str, int] = {}
    for entry in entries.values():
        formats[entry.format] = formats.get(entry.format, 0) + 1
    dates = [e.as_of for e in entries.values() if e.as_of]
    manifest = IndexManifest(
        built_at=datetime.now(UTC),
        corpus_fingerprint=fingerprint((key, e.hash + e.meta) for key, e in entries.items()),
        embed_model=lazy.name,
        dimension=_dimension(lazy, previous),
        store=location(settings),
        collection=target.collection,
        base=settings.collection,
        generation=target.generation,
        revision=serial,
        records=entries,
        nodes=sum(e.nodes for e in entries.values()),
        formats=formats,
        newest_as_of=max(dates) if dates else None,
        embedding_tokens=sum(e.tokens for e in entries.values()),
        deleted_nodes=deleted,
        last_rebuild=summary,
    )
    write_manifest(settings.work_dir, manifest)
    return manifest


def _dimension(lazy: _LazyEmbedder, previous: IndexManifest | None) -> int:
    """The vector size: from the loaded model, else from the manifest of the same model."""
    if previous is not None and lazy._model is None and previous.embed_model == lazy.name:
        return previous.dimension
    return lazy.get().dimension
