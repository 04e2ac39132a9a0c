"""The chroma side: an embedded store in the work folder, or a server when a URL is set.

Collections are generations of one configured name (`rag-or-tune-g000042`): a full rebuild
writes the next one while readers keep the current one, and the manifest switches them.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from rag.layout import node_fields
from rag.settings import RagSettings

PAGE = 5_000  # ids per `get` page when reading a whole collection back
# what chroma's HNSW folder holds (1.5.9): a folder with anything else is never removed
GRAPH_FILES = frozenset(
    {"data_level0.bin", "header.bin", "length.bin", "link_lists.bin", "index_metadata.pickle"}
)
GENERATION = re.compile(r"^(?P<base>.+)-g(?P<n>\d{6,})$")

_slots: set[int] = set()  # path aliases in use by reader clients of this process
_slots_lock = threading.Lock()


def generation_name(base: str, generation: int) -> str:
    """The collection name of one generation of the index.

    >>> generation_name("rag-or-tune", 42)
    'rag-or-tune-g000042'
    """
    return f"{base}-g{generation:06d}"


def generation_of(name: str, base: str) -> int | None:
    """The generation number of a collection name of this base, or None for another name.

    >>> generation_of("rag-or-tune-g000042", "rag-or-tune"), generation_of("other-g000001", "rag-or-tune")
    (42, None)
    """
    match = GENERATION.match(name)
    return int(match["n"]) if match and match["base"] == base else None


def generations(client: Any, base: str) -> dict[str, int]:
    """Every stored generation of `base`: collection name -> generation number."""
    found = {}
    for item in client.list_collections():
        name = item if isinstance(item, str) else item.name  # names or objects, by version
        number = generation_of(name, base)
        if number is not None:
            found[name] = number
    return found


def location(settings: RagSettings) -> str:
    """Where the vectors live: the server URL, or the embedded store's folder."""
    return settings.chroma_url or str((settings.work_dir / "chroma").resolve())


def open_client(settings: RagSettings) -> Any:
    """A chroma client: `HttpClient` for a URL, else a `PersistentClient` under work_dir."""
    import chromadb

    quiet = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ValueError(
                f"RAG_CHROMA_URL {settings.chroma_url!r} has no host: use http://HOST:PORT"
            )
        ssl = url.scheme == "https"
        return chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if ssl else 8000), ssl=ssl, settings=quiet
        )
    path = settings.work_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=quiet)


def open_reader(settings: RagSettings) -> tuple[Any, int]:
    """A client for one reader's view of the store, and the slot to give back to `close_reader`.

    An embedded chroma client keeps each collection's vector index in memory as it first loaded
    it: vectors another process adds or deletes later never reach it (measured with chromadb
    1.5.9: the new vectors are not found, deleted ones come back without metadata). chroma shares
    one client state per path string, so each reader view opens the same folder under an alias
    of its own (`chroma/.`, `chroma/./.`): a fresh state that loads what is on disk now. A server
    client sees every write already, and is returned as it is (slot 0).
    """
    if settings.chroma_url:
        return open_client(settings), 0
    import chromadb

    with _slots_lock:
        slot = next(i for i in range(1, len(_slots) + 2) if i not in _slots)
        _slots.add(slot)
    path = settings.work_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    alias = str(path.resolve()) + "/." * slot
    try:
        client = chromadb.PersistentClient(
            path=alias, settings=chromadb.Settings(anonymized_telemetry=False)
        )
    except BaseException:
        close_reader(None, slot)
        raise
    return client, slot


def close_reader(client: Any, slot: int) -> None:
    """Release a reader's client (an embedded one frees its memory) and its path alias."""
    if slot == 0:
        return
    try:
        if client is not None:
            client.close()
    finally:
        with _slots_lock:
            _slots.discard(slot)


@dataclass(frozen=True)
class Hnsw:
    """The HNSW graph of a collection: links per node (M) and construction width, fixed when
    the collection is created, and the search width, which a live collection can change."""

    # the settings' defaults, so the numbers chosen by measurement live in one place
    m: int = RagSettings.model_fields["hnsw_m"].default
    ef_construction: int = RagSettings.model_fields["hnsw_ef_construction"].default
    ef_search: int = RagSettings.model_fields["hnsw_ef_search"].default

    @classmethod
    def of(cls, settings: RagSettings) -> Hnsw:
        """The graph the settings ask for."""
        return cls(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search)

    def configuration(self) -> dict[str, Any]:
        """chroma's collection configuration for this graph, in cosine space."""
        return {
            "hnsw": {
                "space": "cosine",
                "max_neighbors": self.m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
            }
        }


def open_collection(client: Any, name: str, hnsw: Hnsw | None = None) -> Any:
    """The collection in cosine space, created with `hnsw` if missing (for the writer);
    embeddings always come from us, never from chroma."""
    return client.get_or_create_collection(
        name, configuration=(hnsw or Hnsw()).configuration(), embedding_function=None
    )


def held_hnsw(collection: Any) -> Hnsw:
    """The graph a stored collection was built with (chroma's defaults for what it omits)."""
    config = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
    return Hnsw(
        int(config.get("max_neighbors", 16)),
        int(config.get("ef_construction", 100)),
        int(config.get("ef_search", 100)),
    )


def apply_hnsw(collection: Any, wanted: Hnsw) -> str:
    """Give a live collection the configured search width; what could not change, in words.

    The search width is stored with the collection: an embedded reader uses it from its next
    client (each manifest switch opens one), a chroma server once it loads the collection again
    (measured with chromadb 1.5.9: a running server keeps the width it loaded until a restart).
    Links and construction width are part of the built graph: they change with a new one.
    """
    held = held_hnsw(collection)
    notes = []
    if held.ef_search != wanted.ef_search:
        collection.modify(configuration={"hnsw": {"ef_search": wanted.ef_search}})
        notes.append(
            f"HNSW search width {held.ef_search} -> {wanted.ef_search} (a chroma server "
            "applies it when it reloads the collection, e.g. after a restart)"
        )
    if (held.m, held.ef_construction) != (wanted.m, wanted.ef_construction):
        notes.append(
            f"the index keeps M={held.m}, ef_construction={held.ef_construction} until a full "
            f"rebuild (--full) builds M={wanted.m}, ef_construction={wanted.ef_construction}"
        )
    return "; ".join(notes)


def get_collection(client: Any, name: str) -> Any:
    """An existing collection (for readers: never create one a rebuild has dropped)."""
    return client.get_collection(name, embedding_function=None)


def is_missing(err: Exception) -> bool:
    """Whether a chroma error says a collection is gone (dropped by a newer rebuild)."""
    text = str(err).lower()
    return "does not exist" in text or "not found" in text


def drop_collection(client: Any, name: str) -> None:
    """Delete the collection if it exists (a full rebuild starts from nothing)."""
    try:
        client.delete_collection(name)
    except Exception as err:  # chroma raises different types for "not found" across versions
        if not is_missing(err):
            raise


def drop_generation(client: Any, settings: RagSettings, name: str) -> None:
    """Drop a generation of the index and, in an embedded store, the graph folder chroma
    leaves behind (`sweep_dropped_graphs`)."""
    drop_collection(client, name)
    sweep_dropped_graphs(settings)


def sweep_dropped_graphs(settings: RagSettings) -> int:
    """Remove the HNSW folders of collections an embedded store has dropped; the bytes freed.

    chroma (1.5.9) deletes a dropped collection's rows but leaves its graph folder (named after
    its vector segment) on disk (chroma-core/chroma#5259): every full rebuild would leave the
    previous generation's graph behind, gigabytes at 200k records. A folder goes only when its
    name is a segment id and chroma's own table of segments no longer names it; if that table
    cannot be read as expected, or the folder holds other files than a graph's, nothing is
    removed. A chroma server's disk is its own.
    """
    if settings.chroma_url:
        return 0
    root = settings.work_dir / "chroma"
    try:
        with closing(sqlite3.connect(f"file:{root / 'chroma.sqlite3'}?mode=ro", uri=True)) as db:
            named = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
    except sqlite3.Error:
        return 0
    freed = 0
    for folder in root.iterdir() if root.is_dir() else []:
        if not folder.is_dir() or folder.name in named or not _is_segment_id(folder.name):
            continue
        files = list(folder.iterdir())
        if any(f.name not in GRAPH_FILES or not f.is_file() for f in files):
            continue  # not only a graph's files: not ours to judge
        freed += sum(f.stat().st_size for f in files)
        shutil.rmtree(folder, ignore_errors=True)
    return freed


def _is_segment_id(name: str) -> bool:
    """
    >>> _is_segment_id("e98f4075-98a7-43b1-845f-eccf13cb4879"), _is_segment_id("notes")
    (True, False)
    """
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


@dataclass
class HeldRecord:
    """What the collection actually holds for one record."""

    hashes: set[str] = field(default_factory=set)
    chunks: set[int] = field(default_factory=set)
    expected: int = 0  # the `chunks` count its nodes declare
    ids: list[str] = field(default_factory=list)

    def complete(self) -> bool:
        """One content hash and every chunk present: the record was written whole."""
        return len(self.hashes) == 1 and self.chunks == set(range(self.expected))


def iter_pages(collection: Any, include: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Every node of a collection, a page of `PAGE` ids at a time (`get` results, `include` fields)."""
    offset = 0
    while True:
        page = collection.get(include=list(include), limit=PAGE, offset=offset)
        if len(page["ids"]):
            yield page
        if len(page["ids"]) < PAGE:
            return
        offset += PAGE


def held_records(collection: Any) -> dict[str, HeldRecord]:
    """Read back every node's record id, hash and chunk, one entry per record id."""
    held: dict[str, HeldRecord] = {}
    for (record_id, _), version in held_versions(collection).items():
        entry = held.setdefault(record_id, HeldRecord())
        entry.hashes |= version.hashes
        entry.chunks |= version.chunks
        entry.expected = version.expected
        entry.ids += version.ids
    return held


def held_versions(collection: Any) -> dict[tuple[str, str], HeldRecord]:
    """What the collection holds per (entry key, content hash): several versions of one entry
    coexist while a rebuild runs, and a killed one leaves some behind (used to repair)."""
    held: dict[tuple[str, str], HeldRecord] = {}
    for page in iter_pages(collection, ["metadatas"]):
        for node, stored in zip(page["ids"], page["metadatas"] or [], strict=True):
            meta = node_fields(stored)  # the chunk count is in the node JSON (rag.layout)
            key = str(meta.get("entry") or meta.get("record_id") or node.rsplit("#", 1)[0])
            content = str(meta.get("content_hash", ""))
            entry = held.setdefault((key, content), HeldRecord())
            entry.hashes.add(content)
            entry.chunks.add(int(meta.get("chunk", -1)))
            entry.expected = int(meta.get("chunks", 0))
            entry.ids.append(node)
    return held
