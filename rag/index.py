"""Open a built index and retrieve from it: dense (the chroma collection llama-index's chroma store
wrote, asked directly), optionally fused with character n-gram keyword scores, each fact's current
version first and its older versions marked superseded."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import numpy as np

from rag.current import fact_history, known_versions, rank_current
from rag.embedding import TextEmbedder, open_embedder
from rag.errors import IndexNotBuiltError
from rag.facts import compatible, names
from rag.hits import Hit, Retrieval, make_hit
from rag.language import by_language
from rag.lexical import CYRILLIC, KeywordIndex, blend
from rag.manifest import IndexManifest, manifest_stamp, read_manifest
from rag.nodes import date_int
from rag.packaged import Tuned
from rag.readers import register
from rag.settings import RagSettings
from rag.store import iter_pages
from rag.view import View

OPEN_TRIES = 3  # a rebuild may drop the collection a just-read manifest named: read it again
# nodes asked of chroma per hit wanted: a QA version has two nodes and a fact several versions,
# and the name penalty and n-gram blend re-order within what was fetched
POOL_PER_HIT, POOL_MIN = 3, 15


class RagIndex:
    """A built index, opened for queries (thread-safe; the app keeps one per configuration).

    It follows the manifest: before each query it compares the manifest file's stamp with the
    one it opened and, after a rebuild, reopens the collection the new manifest names. Queries
    return only the record versions their manifest admits.
    """

    def __init__(
        self,
        settings: RagSettings,
        manifest: IndexManifest,
        embedder: TextEmbedder,
        stamp: tuple[int, int, int] | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self._lock = threading.RLock()  # a refresh swaps manifest, collection and index together
        self._stamp = stamp  # None: compare the manifest on the first query
        self._view: View | None = None
        self._use(View(settings, manifest))
        self._keywords_lock = threading.Lock()

    def _use(self, view: View) -> None:
        old, self._view = self._view, view
        self.manifest = view.manifest
        self.collection = view.collection
        self._keywords: KeywordIndex | None = None
        if old is not None:
            old.close()

    @classmethod
    def open(cls, settings: RagSettings) -> RagIndex:
        """Open the index its complete manifest describes; IndexNotBuiltError when there is none."""
        if not settings.chroma_url:  # a server's rebuilds always wait for readers
            register(settings.work_dir)  # before the manifest is read: see `rag.readers`
        for attempt in range(OPEN_TRIES):
            stamp = manifest_stamp(settings.work_dir)  # before reading: a newer one shows later
            manifest = read_manifest(settings.work_dir)
            if manifest is None:
                raise IndexNotBuiltError(
                    f"no index manifest in {settings.work_dir}: build it with "
                    f"`python -m rag.rebuild --work {settings.work_dir}`"
                )
            embedder = open_embedder(manifest.embed_model, settings)
            try:
                return cls(settings, manifest, embedder, stamp)
            except Exception:
                if attempt == OPEN_TRIES - 1 or manifest_stamp(settings.work_dir) == stamp:
                    raise  # not a rebuild switching under us: a real error
        raise AssertionError("unreachable")

    def refresh(self, force: bool = False) -> bool:
        """Follow the manifest: reopen when a rebuild replaced it (True when it reopened)."""
        with self._lock:
            stamp = manifest_stamp(self.settings.work_dir)
            if stamp == self._stamp and not force:
                return False
            manifest = read_manifest(self.settings.work_dir)
            self._stamp = stamp
            if manifest is None:
                return False  # the manifest went away: keep answering from what is open
            assert self._view is not None
            if not force and self._view.same_content(manifest):
                self._view.manifest = self.manifest = manifest
                return False
            if manifest.embed_model != self.manifest.embed_model:
                self.embedder = open_embedder(manifest.embed_model, self.settings)
            self._use(View(self.settings, manifest))
            return True

    def tuned(self) -> Tuned:
        """The retrieval constants for the embedder that built this index (`RagSettings.tuned`)."""
        return self.settings.tuned(self.manifest.embed_model)

    def is_outdated(self) -> bool:
        """True when a rebuild finished since this index was opened (reopen to see it)."""
        latest = read_manifest(self.settings.work_dir)
        return latest is not None and latest.built_at != self.manifest.built_at

    def retrieve(self, query: str, k: int | None = None, as_of: date | None = None) -> list[Hit]:
        """The best `k` hits for a query: each fact's current version first (today, or on `as_of`
        when given, seeing only what was stated by then), older versions after it, stale."""
        return self.search(query, k, as_of).hits

    def search(self, query: str, k: int | None = None, as_of: date | None = None) -> Retrieval:
        """`retrieve` plus the query's embedding tokens and the time it took."""
        with self._lock:
            self.refresh()
            try:
                return self._search(query, k, as_of)
            except Exception:
                # the collection went away under this view (a rebuild dropped it): reopen once
                self.refresh(force=True)
                return self._search(query, k, as_of)

    def _search(self, query: str, k: int | None, as_of: date | None) -> Retrieval:
        start = time.perf_counter()
        k = k or self.settings.k
        vector = self.embedder.encode_query(query)
        tokens = self.embedder.count_tokens([query])[0]
        limit = None if as_of is None else date_int(as_of)
        pool = max(POOL_PER_HIT * k, POOL_MIN)
        tuned = self.tuned()
        nodes = self._dense(vector, pool, limit)
        if uses_keywords(self.settings.hybrid, query, tuned.blend_cyrillic):
            nodes = self._fused(query, vector, nodes, pool, limit)
        nodes = by_names(nodes, names(query), self.settings.name_penalty)
        nodes = by_language(nodes, query, tuned.other_language_penalty)
        hits = rank_current(
            _best_per_entry(nodes), k, limit, lambda facts: self._current(facts, vector, limit)
        )
        return Retrieval(
            hits=hits, query_tokens=tokens, seconds=time.perf_counter() - start, vector=vector
        )

    def _current(
        self, facts: list[str], vector: np.ndarray, day: int | None
    ) -> dict[str, list[Hit]]:
        return known_versions(self.collection, self._admits, facts, vector, day)

    def history(self, fact_id: str) -> list[Hit]:
        """Every version of one fact, oldest first, with the dates each held (score 0)."""
        with self._lock:
            self.refresh()
            return fact_history(self.collection, self._admits, fact_id)

    def passages(self) -> list[Hit]:
        """Every node this manifest admits, as hits of score 0 (each fact's versions with the
        dates they held): what retrieval can hand a model, for data built over the whole index."""
        with self._lock:
            self.refresh()
            found = []
            for page in iter_pages(self.collection, ["documents", "metadatas"]):
                for node, text, meta in zip(
                    page["ids"], page["documents"], page["metadatas"], strict=True
                ):
                    if self._admits(meta):
                        found.append(make_hit(node, 0.0, text or "", dict(meta or {})))
            return found

    def _admits(self, metadata: dict[str, Any] | None) -> bool:
        return self._view is not None and self._view.admits(metadata)

    def _dense(self, vector: np.ndarray, n: int, limit: int | None) -> list[Hit]:
        """The `n` nearest nodes this manifest admits. The collection is asked directly: the
        nodes llama-index wrote carry their text and flat metadata, and rebuilding its node
        objects per result cost a query more than the search itself (see bench/index.py)."""
        assert self._view is not None
        want, settled = n, False
        query = [vector.tolist()]
        while True:  # nodes this manifest does not admit take places: ask for more until enough
            where = self._view.where(limit, settled)
            got = self.collection.query(
                query_embeddings=query,
                n_results=want,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
            found = list(
                zip(
                    *(got[key][0] for key in ("ids", "documents", "metadatas", "distances")),
                    strict=True,
                )
            )
            admitted = [f for f in found if self._view.admits(f[2])]
            if len(admitted) >= n or len(found) < want or want >= 16 * n:
                break
            if not settled:  # a rebuild under way (or killed) wrote nodes nearer the query:
                settled = True  # leave out, in chroma, every node newer than this manifest
                continue
            want *= 4
        # the collection is in cosine space: its distance is 1 - cosine similarity
        return [
            make_hit(node, 1.0 - float(distance), text or "", dict(meta or {}))
            for node, text, meta, distance in admitted[:n]
        ]

    def _fused(
        self, query: str, vector: np.ndarray, dense: list[Hit], n: int, limit: int | None
    ) -> list[Hit]:
        """The best dense and the best lexical nodes, ordered by their blended score (`score`
        stays the cosine similarity, which abstention compares)."""
        keywords = self._keyword_index()
        lexical = keywords.scores(query)
        by_id = {h.node_id: h for h in dense}
        for node in keywords.top(lexical, n, limit):
            if node not in by_id:
                row = keywords.rows[node]
                score = float(np.dot(vector, keywords.vectors[row]))
                by_id[node] = make_hit(node, score, keywords.texts[row], keywords.metadatas[row])
        weight = self.settings.dense_weight
        blended = [
            h.model_copy(update={"rank": blend(h.score, _at(lexical, keywords.rows, h), weight)})
            for h in by_id.values()
        ]
        return sorted(blended, key=lambda h: -h.rank)

    def _keyword_index(self) -> KeywordIndex:
        with self._keywords_lock:
            if self._keywords is None:
                ids: list[str] = []
                texts: list[str] = []
                metadatas: list[dict[str, Any]] = []
                vectors: list[np.ndarray] = []
                for page in iter_pages(self.collection, ["documents", "metadatas", "embeddings"]):
                    keep = [
                        self._view is not None and self._view.admits(m) for m in page["metadatas"]
                    ]
                    ids += [x for x, ok in zip(page["ids"], keep, strict=True) if ok]
                    texts += [d or "" for d, ok in zip(page["documents"], keep, strict=True) if ok]
                    metadatas += [
                        dict(m) for m, ok in zip(page["metadatas"], keep, strict=True) if ok
                    ]
                    if any(keep):
                        rows = np.asarray(page["embeddings"], dtype=np.float32)
                        vectors.append(rows[np.asarray(keep)])
                matrix = (
                    np.concatenate(vectors)
                    if vectors
                    else np.zeros((0, self.embedder.dimension), np.float32)
                )
                self._keywords = KeywordIndex(ids, texts, metadatas, matrix)
            return self._keywords


def by_names(hits: list[Hit], asked: frozenset[str], penalty: float) -> list[Hit]:
    """Hits re-ordered after lowering those whose question names other things than the query
    (a question about the Studio plan does not answer one about the Free plan), unless their
    text names everything the query does (asked for "TOR-1", a record on the Toronto region
    whose answer says "TOR-1" answers it)."""
    if not asked or not penalty:
        return hits
    clash = [
        h
        for h in hits
        if h.names and not compatible(asked, h.names) and not asked <= names(h.full_text)
    ]
    if not clash:
        return hits
    lowered = {id(h) for h in clash}
    out = [h.model_copy(update={"rank": h.rank - penalty}) if id(h) in lowered else h for h in hits]
    return sorted(out, key=lambda h: -h.rank)


def _at(scores: np.ndarray, rows: dict[str, int], hit: Hit) -> float:
    row = rows.get(hit.node_id)
    return float(scores[row]) if row is not None and row < len(scores) else 0.0


def uses_keywords(mode: str, query: str, blend_cyrillic: bool = True) -> bool:
    """Whether a query is blended with lexical retrieval: always, never, or (auto) when it has
    Cyrillic letters and the embedder is one whose Russian is weak.

    >>> uses_keywords("auto", "Сколько стоит Pro?"), uses_keywords("auto", "How much is Pro?")
    (True, False)
    >>> uses_keywords("auto", "Сколько стоит Pro?", blend_cyrillic=False)
    False
    """
    return mode == "on" or (
        mode == "auto" and blend_cyrillic and CYRILLIC.search(query.lower()) is not None
    )


def _best_per_entry(nodes: list[Hit]) -> list[Hit]:
    """Keep each version's first (best-ranked) node: a long text split in chunks is one hit."""
    seen: set[str] = set()
    best = []
    for hit in nodes:
        if hit.entry not in seen:
            seen.add(hit.entry)
            best.append(hit)
    return best
