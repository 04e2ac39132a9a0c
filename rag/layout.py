"""How a node's metadata is stored in chroma: llama-index's layout (the node as JSON in
`_node_content`, with every field in it), and flat beside it only the fields a query filters or a
reader checks on every row.

chroma keeps one row per flat key per node, and those rows are most of what its `add` costs
beyond the vector: 20,000 nodes with the 25 flat keys llama-index writes took 24.4–27.9 s to
add, with 2 keys 18.2 s (the rows the index stores for `bench/index.py`'s records, 512-d
vectors, one embedded client). The node JSON holds every field, so llama-index's chroma store
reads a node back whole from it, and `node_fields` gives this project's readers the same.
"""

from __future__ import annotations

import json
from typing import Any

from rag.nodes import NodeSpec

# what a chroma `where` asks (`rag.view`, `rag.current`) and what `View.admits` reads for every
# row of a keyword scan; each costs a metadata row per node
FLAT_KEYS = frozenset({"entry", "content_hash", "fact_id", "valid_from", "chunk", "rev"})
NODE_KEYS = ("_node_content", "_node_type")  # llama-index's: the node itself and its class


def stored_metadata(node_id: str, spec: NodeSpec, serial: int) -> dict[str, Any]:
    """A node's metadata as stored: the node JSON llama-index reads back (every field, with the
    serial of the rebuild that wrote it: readers leave out newer serials) and the flat keys."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    node = TextNode(id_=node_id, text=spec.text, metadata={**spec.metadata, "rev": serial})
    meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    return {
        key: "" if value is None else value
        for key, value in meta.items()
        if key in FLAT_KEYS or key in NODE_KEYS
    }


def node_fields(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Every field of a stored node: the node JSON's over the flat keys (an index written before
    the flat keys were trimmed has them all flat; the JSON is kept current by `with_facts`)."""
    meta = meta or {}
    content = meta.get("_node_content")
    fields: dict[str, Any] = {}
    if isinstance(content, str):
        try:
            fields = json.loads(content).get("metadata") or {}
        except (ValueError, AttributeError):  # not llama-index's JSON: the flat keys alone
            fields = {}
    return {**meta, **fields}


def with_facts(meta: dict[str, Any], facts: dict[str, str | int]) -> dict[str, Any]:
    """A stored node's metadata with new fact fields: in the node JSON, and flat where the key
    is flat (a filter key, or any key an older index stored flat)."""
    out = {**meta, **{k: v for k, v in facts.items() if k in FLAT_KEYS or k in meta}}
    if isinstance(meta.get("_node_content"), str):
        node = json.loads(meta["_node_content"])
        node["metadata"] = {**node.get("metadata", {}), **facts}
        out["_node_content"] = json.dumps(node, ensure_ascii=False)
    return out
