"""Re-write the fact fields of stored index entries in place, without embedding them again.

A later batch ends a version (`valid_until`, `superseded_by`) or re-confirms one
(`last_confirmed`, `record_ids`): the vectors stay, only the metadata changes.
"""

from __future__ import annotations

import json
from typing import Any

from rag.manifest import IndexedRecord
from rag.nodes import node_id
from rag.plan import stored_id
from rag.versions import FactVersions

RESTAMP_BATCH = 2_000  # nodes per metadata update call


def restamp(
    collection: Any,
    versions: FactVersions,
    held: dict[str, IndexedRecord],
    *,
    everything: bool = False,
) -> int:
    """Re-write in place the fact fields of held entries whose metadata changed (a later batch
    ended a version or re-confirmed it), without re-embedding them; returns the nodes updated.
    `everything` re-writes them all (after an interrupted rebuild nothing is known for sure).

    The fields are written into the flat metadata chroma filters on and into the node JSON
    llama-index reads back, so both readers see the same version dates.
    """
    ids: list[str] = []
    fields: list[dict[str, str | int]] = []
    for key, entry in held.items():
        if everything or entry.meta != versions.meta_hash(key):
            facts = versions.entries[key].metadata()
            for i in range(entry.nodes):
                ids.append(stored_id(node_id(key, i), entry.hash))
                fields.append(facts)
    for start in range(0, len(ids), RESTAMP_BATCH):
        chunk = ids[start : start + RESTAMP_BATCH]
        got = collection.get(ids=chunk, include=["metadatas"])
        stored = dict(zip(got["ids"], got["metadatas"], strict=True))
        metadatas = [
            _with(stored.get(i) or {}, f)
            for i, f in zip(chunk, fields[start : start + RESTAMP_BATCH], strict=True)
        ]
        collection.update(ids=chunk, metadatas=metadatas)
    return len(ids)


def _with(meta: dict[str, Any], facts: dict[str, str | int]) -> dict[str, Any]:
    """A node's stored metadata with new fact fields, in the flat keys and in the node JSON."""
    out = {**meta, **facts}
    if isinstance(meta.get("_node_content"), str):
        node = json.loads(meta["_node_content"])
        node["metadata"] = {**node.get("metadata", {}), **facts}
        out["_node_content"] = json.dumps(node, ensure_ascii=False)
    return out
