"""What one reader sees: the manifest it opened and the collection that manifest names, through
a client of its own, replaced as a whole when a rebuild replaces the manifest."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from rag.manifest import VERSION, IndexManifest
from rag.settings import RagSettings
from rag.store import close_reader, get_collection, open_reader


class View:
    """One manifest and its collection, opened together; `admits` filters what a query returns."""

    def __init__(self, settings: RagSettings, manifest: IndexManifest) -> None:
        self.manifest = manifest
        self._client, self._slot = open_reader(settings)
        try:
            self.collection = get_collection(self._client, manifest.collection)
        except BaseException:
            self.close()
            raise

    def admits(self, metadata: dict[str, Any] | None) -> bool:
        """Whether a stored node is one of this manifest's record versions (see
        `IndexManifest.admits`); a node without metadata was deleted under this view."""
        meta = metadata or {}
        key = meta.get("entry") or meta.get("record_id", "")  # the entry key since version 3
        return self.manifest.admits(str(key), str(meta.get("content_hash", "")))

    def filters(self, limit: int | None, settled: bool) -> Any:
        """The chroma filter of a query: first stated on or before `limit` (`valid_from`, a version
        of a fact known then), and, when
        `settled`, no node written by a rebuild this manifest does not include (`rev` is the
        serial of the rebuild that wrote a node; a manifest admits serials up to its own)."""
        from llama_index.core.vector_stores import (
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
        )

        parts = []
        if limit is not None:
            parts.append(MetadataFilter(key="valid_from", value=limit, operator=FilterOperator.LTE))
        if settled and self.manifest.version >= VERSION:
            revision = self.manifest.revision
            parts.append(MetadataFilter(key="rev", value=revision, operator=FilterOperator.LTE))
        return MetadataFilters(filters=parts) if parts else None

    def same_content(self, manifest: IndexManifest) -> bool:
        """Whether a newer manifest admits exactly what this view shows (a no-op rebuild)."""
        last = manifest.last_rebuild
        return (
            manifest.collection == self.manifest.collection
            and manifest.corpus_fingerprint == self.manifest.corpus_fingerprint
            and manifest.embed_model == self.manifest.embed_model
            and (last is None or last.embedded_nodes == 0)  # a repair re-adds under the view
        )

    def close(self) -> None:
        """Let go of the client (an embedded one frees the vectors it loaded); idempotent."""
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            close_reader(client, self._slot)

    def __del__(self) -> None:
        # a reader dropped without `close` (an app reopening on its own) must not keep the
        # vectors its client loaded, nor its path alias
        with suppress(Exception):  # at interpreter exit chroma may already be torn down
            self.close()
