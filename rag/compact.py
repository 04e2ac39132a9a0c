"""Move an index's live nodes into a fresh HNSW graph once deleted ones crowd the old one.

chroma deletes a node from its HNSW graph by marking it: its slot, vector and links stay, in
memory and on disk, and a node added later never takes the slot (chromadb 1.5.9, embedded and
server alike; chroma-core/chroma#2594). A rebuild replaces a changed record's nodes (new ids,
then the old ones deleted), so an index kept current by rebuilds that change 1% of it grows by
1% of its size each time with nothing to show for it: after 100 such rebuilds its graph holds as
many deleted nodes as live ones, which every add and query walks past and every process that
opens the index loads.

Once the deleted nodes reach `RagSettings.compact_at` times the live ones, the rebuild copies
the live nodes — vectors, texts and metadata as stored, nothing embedded again and no fact
identity decided again — into the next generation, switches the manifest to it and drops the
old one, as a full rebuild would: readers see the old graph or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rag.bulk import BulkWriter
from rag.manifest import IndexManifest
from rag.store import iter_pages

Progress = Callable[[int, int], None]  # (nodes copied so far, nodes to copy)
# fewer deleted nodes than this never pay for a copy, whatever their share: a graph of a few
# thousand nodes is small, and a copy on every change of a tiny index would switch readers
# to a new generation each time for nothing
MIN_DELETED = 10_000


def crowded(manifest: IndexManifest, compact_at: float) -> bool:
    """Whether the live collection's graph holds enough deleted nodes to move out of it.

    >>> from datetime import UTC, datetime
    >>> m = IndexManifest(built_at=datetime.now(UTC), corpus_fingerprint="", embed_model="m",
    ...                   dimension=4, store="s", collection="c", nodes=20_000, deleted_nodes=20_000)
    >>> crowded(m, 1.0), crowded(m, 1.5), crowded(m, 0.0)
    (True, False, False)
    >>> crowded(m.model_copy(update={"nodes": 100, "deleted_nodes": 100}), 1.0)  # a small graph
    False
    """
    deleted = manifest.deleted_nodes
    return (
        compact_at > 0
        and manifest.nodes > 0
        and deleted >= MIN_DELETED
        and deleted >= compact_at * manifest.nodes
    )


def copy_live(
    source: Any,
    target: Any,
    manifest: IndexManifest,
    batch: int,
    progress: Progress | None = None,
) -> int:
    """Add every node of `source` that `manifest` admits to `target`, as stored; returns the
    nodes copied. Nodes no manifest admits (a killed rebuild's) are left behind."""
    copied = 0
    if progress:
        progress(0, manifest.nodes)
    with BulkWriter(target, batch) as writer:
        for page in iter_pages(source, ["embeddings", "metadatas", "documents"]):
            rows = [i for i, meta in enumerate(page["metadatas"]) if manifest.admits_node(meta)]
            if not rows:
                continue
            writer.add(
                [page["ids"][i] for i in rows],
                np.asarray(page["embeddings"], dtype=np.float32)[rows],
                [page["metadatas"][i] for i in rows],
                [page["documents"][i] for i in rows],
            )
            copied += len(rows)
            if progress:
                progress(writer.written, manifest.nodes)
    if progress:
        progress(copied, manifest.nodes)
    return copied
