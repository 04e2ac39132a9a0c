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
        return self.manifest.admits_node(metadata)

    def where(self, limit: int | None, settled: bool) -> dict[str, Any] | None:
        """The chroma `where` of a query: first stated on or before `limit` (`valid_from`, a
        version of a fact known then), and, when `settled`, no node written by a rebuild this
        manifest does not include (`rev`, the serial of the rebuild that wrote a node; a
        manifest admits serials up to its own).

        >>> view = View.__new__(View)
        >>> view.manifest = IndexManifest.model_construct(revision=7)
        >>> view.where(None, False) is None, view.where(20150101, False)
        (True, {'valid_from': {'$lte': 20150101}})
        >>> view.where(20150101, True)
        {'$and': [{'valid_from': {'$lte': 20150101}}, {'rev': {'$lte': 7}}]}
        """
        parts: list[dict[str, Any]] = []
        if limit is not None:
            parts.append({"valid_from": {"$lte": limit}})
        if settled and self.manifest.version >= VERSION:
            parts.append({"rev": {"$lte": self.manifest.revision}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}

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
