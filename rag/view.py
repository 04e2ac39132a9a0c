"""What one reader sees: the manifest it opened and the collection that manifest names, through
a client of its own, replaced as a whole when a rebuild replaces the manifest."""

from __future__ import annotations

from typing import Any

from rag.manifest import IndexManifest
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
        """Let go of the client (an embedded one frees the vectors it loaded)."""
        close_reader(self._client, self._slot)
