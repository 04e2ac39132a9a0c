"""Re-write the fact fields of stored index entries in place, without embedding them again.

A later batch ends a version (`valid_until`, `superseded_by`) or re-confirms one
(`last_confirmed`, `record_ids`): the vectors stay, only the metadata changes.
"""

from __future__ import annotations

from typing import Any

from rag.layout import with_facts
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

    The fields are written into the node JSON (read back by `rag.layout.node_fields` and by
    llama-index) and into the flat keys chroma filters on, so every reader sees the same dates.
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
            with_facts(stored.get(i) or {}, f)
            for i, f in zip(chunk, fields[start : start + RESTAMP_BATCH], strict=True)
        ]
        collection.update(ids=chunk, metadatas=metadatas)
    return len(ids)
