"""The chroma side: an embedded store in the work folder, or a server when a URL is set."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from rag.settings import RagSettings

PAGE = 5_000  # ids per `get` page when reading a whole collection back


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


def open_collection(client: Any, name: str) -> Any:
    """The collection in cosine space; embeddings always come from us, never from chroma."""
    return client.get_or_create_collection(
        name, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )


def drop_collection(client: Any, name: str) -> None:
    """Delete the collection if it exists (a full rebuild starts from nothing)."""
    try:
        client.delete_collection(name)
    except Exception as err:  # chroma raises different types for "not found" across versions
        if "does not exist" not in str(err).lower() and "not found" not in str(err).lower():
            raise


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
    """Read back every node's record id, hash and chunk (used to repair after a killed rebuild)."""
    held: dict[str, HeldRecord] = {}
    for page in iter_pages(collection, ["metadatas"]):
        for node, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
            meta = meta or {}
            record_id = str(meta.get("record_id", node.rsplit("#", 1)[0]))
            entry = held.setdefault(record_id, HeldRecord())
            entry.hashes.add(str(meta.get("content_hash", "")))
            entry.chunks.add(int(meta.get("chunk", -1)))
            entry.expected = int(meta.get("chunks", 0))
            entry.ids.append(node)
    return held
