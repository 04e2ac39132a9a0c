"""Write planned entries into a collection: stream the corpus once more, pick the records the
planned fact versions start with (`rag.versions`), embed their nodes in batches and add them under
ids that carry their content hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from corpus import Record
from rag.bulk import BulkWriter
from rag.child_encoder import SharedEncoder
from rag.layout import stored_metadata
from rag.manifest import IndexedRecord
from rag.plan import Plan, Want, stored_id
from rag.questions import TokenStore, question_tokens
from rag.settings import RagSettings

if TYPE_CHECKING:
    from rag.nodes import NodeSpec
    from rag.versions import FactVersions

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (nodes embedded so far, nodes to embed)
ADD_BATCH = 512  # nodes encoded together: big enough for the encoder, small for memory
CHILD_DEPTH = 8  # batches the child encodes ahead: several seconds of work, a few MB of vectors


def expected_nodes(records: int) -> int:
    """The nodes a rebuild expects to write for this many records: a QA record makes two (its
    question and answer, its question alone); a long text's chunks come on top."""
    return 2 * records


def batched(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """Lists of `size` items (the last may be shorter); itertools.batched needs Python 3.12.

    >>> list(batched(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def embed_and_add(
    source: Callable[[], Iterable[Record]],
    plan: Plan,
    settings: RagSettings,
    encoder: SharedEncoder,
    collection: Any,
    entries: dict[str, IndexedRecord],
    progress: Progress | None,
    serial: int,
    versions: FactVersions,
    write_batch: int = 5_461,
    tokens_kept: TokenStore | None = None,
) -> int:
    """Embed the planned entries' nodes in batches and add them under their versioned ids;
    fills `entries` as entries complete. Streams the corpus once more, picking the records the
    planned versions start with; returns the nodes embedded.

    Nodes are written in llama-index's chroma layout (the node as JSON, the filter keys flat:
    `rag.layout`) by a `BulkWriter` in batches of `write_batch`, so encoding the next nodes
    overlaps the store's add of the last ones where the store runs elsewhere (a chroma server) or
    the encoder does (`rag.child_encoder`: an embedded store's add holds this process's GIL).
    The token counts of question nodes, whose vectors fact identity gave, are read from and
    kept in `tokens_kept` (`rag.questions.question_tokens`)."""
    for rid, (want, count) in plan.adopt.items():
        # written whole by the interrupted run; its embedding tokens were spent then
        first = versions.entries[rid].first.id
        entries[rid] = IndexedRecord(
            hash=want.hash, as_of=want.as_of, nodes=count, record_id=first, format=want.format
        )
    todo = dict(plan.embed)
    total, done = len(todo), 0  # one node per record until chunked texts say otherwise
    if progress:
        progress(0, total)
    if not todo:
        return 0
    picked = _pick(_records_for(source, todo, versions), todo, versions)
    specs = (
        (r, spec)
        for r in picked
        for spec in versions.nodes(r, settings.chunk_size, settings.chunk_overlap)
    )
    tokens: dict[str, int] = {}

    def to_encode(batch: list[tuple[Record, NodeSpec]]) -> list[str]:
        # a question node's vector was computed for fact identity: only the rest is encoded
        return [s.text for _, s in batch if s.vector is None]

    def write(
        writer: BulkWriter,
        batch: list[tuple[Record, NodeSpec]],
        fresh: np.ndarray,
        fresh_counts: list[int],
    ) -> None:
        nonlocal total, done
        texts = [spec.text for _, spec in batch]
        encoded, known = iter(fresh), iter(fresh_counts)
        asked = [s.text for _, s in batch if s.vector is not None]
        reused = iter(question_tokens(asked, encoder.count_tokens, tokens_kept))
        vectors = np.stack(
            [
                next(encoded) if s.vector is None else np.asarray(s.vector, np.float32)
                for _, s in batch
            ]
        )
        counts = [next(known) if s.vector is None else next(reused) for _, s in batch]
        for (_, spec), count in zip(batch, counts, strict=True):
            key = str(spec.metadata["entry"])
            tokens[key] = tokens.get(key, 0) + count
        ids = [stored_id(spec.id, record.content_hash) for record, spec in batch]
        metadatas = [stored_metadata(i, s, serial) for i, (_, s) in zip(ids, batch, strict=True)]
        writer.add(ids, vectors, metadatas, texts)
        for record, spec in batch:
            chunks = int(spec.metadata["chunks"])
            if spec.metadata["chunk"] == 0 and not listed:
                total += chunks - 1
            key = str(spec.metadata["entry"])
            entries[key] = IndexedRecord(
                hash=record.content_hash,
                as_of=record.as_of,
                nodes=chunks,
                tokens=tokens[key],  # complete once the entry's last node is written
                record_id=record.id,
                format=str(record.format),
                meta=versions.meta_hash(key),  # written with its fact fields: no restamp
            )
        done += len(batch)
        if progress:  # counts nodes stored: a killed rebuild keeps what this reported
            progress(writer.written, total)

    listed = expected_nodes(total) <= write_batch  # a change for one add: its nodes are listed
    with BulkWriter(collection, write_batch) as writer:
        if listed:
            nodes = list(specs)
            total = len(nodes)
            _write_small(writer, nodes, encoder, to_encode, write)
        else:  # adds as batches come: the child encodes ahead
            for batch, fresh, counts in encoder.ahead(
                batched(specs, ADD_BATCH), to_encode, CHILD_DEPTH
            ):
                write(writer, batch, fresh, counts)
    if progress:
        progress(done, total)
    return done


def _write_small(
    writer: BulkWriter,
    nodes: list[tuple[Record, NodeSpec]],
    encoder: SharedEncoder,
    to_encode: Callable[[list[tuple[Record, NodeSpec]]], list[str]],
    write: Callable[[BulkWriter, list[tuple[Record, NodeSpec]], np.ndarray, list[int]], None],
) -> None:
    """A change small enough for one add. Its question nodes, whose vectors fact identity
    computed, are added while the child encodes the other texts, then those are added: the add
    holds this process for ~1.1 ms a node (4,000 nodes ~4.5 s), the child's encoding goes on
    beside it. Without a loaded child, or with nothing to add first, both processes encode
    everything (`SharedEncoder.together`) and it goes in one add."""
    first = [node for node in nodes if node[1].vector is not None]
    rest = [node for node in nodes if node[1].vector is None]
    later = encoder.behind(to_encode(rest)) if first and rest else None
    if later is None:
        for batch, fresh, counts in encoder.together(batched(nodes, ADD_BATCH), to_encode):
            write(writer, batch, fresh, counts)
        return
    for batch in batched(first, ADD_BATCH):
        write(writer, batch, np.zeros((0, 0), np.float32), [])
    writer.push()
    vectors, counts = later()
    start = 0
    for batch in batched(rest, ADD_BATCH):
        write(
            writer, batch, vectors[start : start + len(batch)], counts[start : start + len(batch)]
        )
        start += len(batch)


def _records_for(
    source: Callable[[], Iterable[Record]], todo: dict[str, Want], versions: FactVersions
) -> Iterable[Record]:
    """The records fact identity read again, when they start every planned version, else the
    whole corpus read once more (from JSONL at 200k records, 1.9 s of a 1% rebuild)."""
    if versions.read and todo.keys() <= {versions.key_of(r) for r in versions.read}:
        return versions.read
    return source()


def _pick(
    records: Iterable[Record], todo: dict[str, Want], versions: FactVersions
) -> Iterator[Record]:
    """The first record of each planned version, once, as the corpus is read again."""
    for record in records:
        key = versions.key_of(record)
        if key is not None and todo.pop(key, None) is not None:
            yield record
