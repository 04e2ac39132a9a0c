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
NODE_TYPE = "TextNode"
# the fields of llama-index's TextNode after its metadata, as its `node_to_metadata_dict` stores
# a node with the text removed (llama-index 0.14; `tests/test_rag_layout.py` checks every format's
# nodes against llama-index's own output). Written here, a rebuild needs no llama-index import:
# 1.0-1.2 s of a rebuild in a new process, before its first add.
NODE_TAIL: dict[str, Any] = {
    "excluded_embed_metadata_keys": [],
    "excluded_llm_metadata_keys": [],
    "relationships": {},
    "metadata_template": "{key}: {value}",
    "metadata_separator": "\n",
    "text": "",
    "mimetype": "text/plain",
    "start_char_idx": None,
    "end_char_idx": None,
    "text_template": "{metadata_str}\n\n{content}",
    "class_name": NODE_TYPE,
}


def stored_metadata(node_id: str, spec: NodeSpec, serial: int) -> dict[str, Any]:
    """A node's metadata as stored: the node JSON llama-index reads back (every field, with the
    serial of the rebuild that wrote it: readers leave out newer serials) and the flat keys."""
    metadata = {**spec.metadata, "rev": serial}  # str and int values: flat, as chroma needs
    node = {"id_": node_id, "embedding": None, "metadata": metadata, **NODE_TAIL}
    stored: dict[str, Any] = {key: value for key, value in metadata.items() if key in FLAT_KEYS}
    stored["_node_content"] = json.dumps(node, ensure_ascii=False)
    stored["_node_type"] = NODE_TYPE
    return stored


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
