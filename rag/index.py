"""Open a built index and retrieve from it: dense (llama-index over chroma), optionally fused with
BM25, with superseded facts marked stale."""

from __future__ import annotations

import re
import threading
import time
from datetime import date
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from answers import SourceHit
from rag.embedding import TextEmbedder, open_embedder
from rag.errors import IndexNotBuiltError
from rag.lexical import CYRILLIC, WORD, KeywordIndex, fuse
from rag.manifest import IndexManifest, manifest_stamp, read_manifest
from rag.nodes import date_int
from rag.settings import RagSettings
from rag.store import PAGE
from rag.view import View

OPEN_TRIES = 3  # a rebuild may drop the collection a just-read manifest named: read it again

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
OWN_KEYS = ("record_id", "format", "batch", "as_of", "source", "content_hash", "answer", "chunk")


class Hit(BaseModel):
    """One retrieved record: its best node's cosine similarity to the query, and what it says."""

    record_id: str
    score: float
    text: str
    answer: str = ""
    as_of: date | None = None
    metadata: dict[str, str | int] = Field(default_factory=dict)
    stale: bool = False  # a newer record answers the same question
    superseded_by: str | None = None
    node_id: str = ""

    @property
    def full_text(self) -> str:
        """What the record says: the embedded text, with the answer when that text lacks it."""
        if not self.answer or self.answer in self.text:
            return self.text
        return f"{self.text}\n{self.answer}"

    def source(self) -> SourceHit:
        """The hit as the shared `SourceHit` an `Answer` carries."""
        return SourceHit(
            record_id=self.record_id,
            score=self.score,
            text=self.full_text,
            as_of=self.as_of,
            stale=self.stale,
        )


class Retrieval(BaseModel):
    """Hits for one query, with what embedding the query cost."""

    hits: list[Hit]
    query_tokens: int
    seconds: float


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
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        store = ChromaVectorStore(chroma_collection=view.collection)
        vector_index = VectorStoreIndex.from_vector_store(store, embed_model=self.embedder.llama)
        old, self._view = self._view, view
        self.manifest = view.manifest
        self.collection = view.collection
        self.vector_index = vector_index
        self._keywords: KeywordIndex | None = None
        if old is not None:
            old.close()

    @classmethod
    def open(cls, settings: RagSettings) -> RagIndex:
        """Open the index its complete manifest describes; IndexNotBuiltError when there is none."""
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

    def is_outdated(self) -> bool:
        """True when a rebuild finished since this index was opened (reopen to see it)."""
        latest = read_manifest(self.settings.work_dir)
        return latest is not None and latest.built_at != self.manifest.built_at

    def retrieve(self, query: str, k: int | None = None, as_of: date | None = None) -> list[Hit]:
        """The best `k` records for a query, limited to records dated on/before `as_of` if given."""
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
        pool = max(4 * k, 20)
        nodes = self._dense(vector, pool, limit)
        if uses_keywords(self.settings.hybrid, query):
            nodes = self._fused(query, vector, nodes, pool, limit)
        hits = _best_per_record(nodes)
        hits = self._supersede(hits[: 2 * k])[:k]
        return Retrieval(hits=hits, query_tokens=tokens, seconds=time.perf_counter() - start)

    def _dense(self, vector: np.ndarray, n: int, limit: int | None) -> list[Hit]:
        from llama_index.core.schema import QueryBundle

        assert self._view is not None
        want, settled = n, False
        while True:  # nodes this manifest does not admit take places: ask for more until enough
            filters = self._view.filters(limit, settled)
            retriever = self.vector_index.as_retriever(similarity_top_k=want, filters=filters)
            found = retriever.retrieve(QueryBundle(query_str="", embedding=vector.tolist()))
            admitted = [f for f in found if self._view.admits(f.node.metadata)]
            if len(admitted) >= n or len(found) < want or want >= 16 * n:
                break
            if not settled:  # a rebuild under way (or killed) wrote nodes nearer the query:
                settled = True  # leave out, in chroma, every node newer than this manifest
                continue
            want *= 4
        # the chroma store reports exp(-cosine distance); undo it to get the cosine similarity
        return [
            _hit(
                f.node.node_id,
                1.0 + float(np.log(max(f.score or 1e-12, 1e-12))),
                f.node.get_content(),
                f.node.metadata,
            )
            for f in admitted[:n]
        ]

    def _fused(
        self, query: str, vector: np.ndarray, dense: list[Hit], n: int, limit: int | None
    ) -> list[Hit]:
        """Dense and keyword rankings fused by reciprocal rank; scores stay cosine similarities."""
        keywords = self._keyword_index()
        keyword_ids = keywords.search(query, n, limit)
        by_id = {h.node_id: h for h in dense}
        for node in keyword_ids:
            if node not in by_id:
                row = keywords.rows[node]
                score = float(np.dot(vector, keywords.vectors[row]))
                by_id[node] = _hit(node, score, keywords.texts[row], keywords.metadatas[row])
        fused = fuse([[h.node_id for h in dense], keyword_ids], self.settings.rrf_k)
        return [by_id[i] for i in sorted(fused, key=lambda i: -fused[i])]

    def _keyword_index(self) -> KeywordIndex:
        with self._keywords_lock:
            if self._keywords is None:
                ids: list[str] = []
                texts: list[str] = []
                metadatas: list[dict[str, Any]] = []
                vectors: list[np.ndarray] = []
                offset = 0
                while True:
                    page = self.collection.get(
                        include=["documents", "metadatas", "embeddings"], limit=PAGE, offset=offset
                    )
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
                    if len(page["ids"]) < PAGE:
                        break
                    offset += PAGE
                matrix = (
                    np.concatenate(vectors)
                    if vectors
                    else np.zeros((0, self.embedder.dimension), np.float32)
                )
                self._keywords = KeywordIndex(ids, texts, metadatas, matrix)
            return self._keywords

    def _supersede(self, hits: list[Hit]) -> list[Hit]:
        """Among near-tied hits asking the same question, rank the newest first; mark the rest stale."""
        eps = self.settings.tie_epsilon
        pairs = [
            (a, b)
            for i, a in enumerate(hits)
            for b in hits[i + 1 :]
            if abs(a.score - b.score) <= eps and a.as_of and b.as_of and a.as_of != b.as_of
        ]
        if not pairs:
            return hits
        vectors = self._vectors(sorted({h.node_id for pair in pairs for h in pair}))
        newer: dict[str, Hit] = {}
        for a, b in pairs:
            if not (restates(a.answer, b.answer) or self._similar(vectors, a, b)):
                continue  # near-tied, but different questions
            old, new = (a, b) if str(a.as_of) < str(b.as_of) else (b, a)
            if old.record_id not in newer or str(newer[old.record_id].as_of) < str(new.as_of):
                newer[old.record_id] = new
        return _reorder(hits, newer)

    def _similar(self, vectors: dict[str, np.ndarray], a: Hit, b: Hit) -> bool:
        if a.node_id not in vectors or b.node_id not in vectors:
            return False
        similarity = float(np.dot(vectors[a.node_id], vectors[b.node_id]))
        return similarity >= self.settings.same_question

    def _vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some nodes: from memory when the keyword index holds them."""
        if self._keywords is not None and all(i in self._keywords.rows for i in ids):
            return {i: self._keywords.vectors[self._keywords.rows[i]] for i in ids}
        got = self.collection.get(ids=ids, include=["embeddings"])
        return dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))


def restates(old: str, new: str) -> bool:
    """Whether two answers are the same statement with different figures: a fact restated.

    The embedder cannot tell "up to 250 users" from "up to 500 users" apart from "at least 3
    users", but the words around the figures can; on the demo corpus this finds every restated
    fact whose wording was kept and nothing else.
    Example: ("Refunds within 14 days.", "Refunds within 30 days.") -> True;
    ("Free accounts: 2 GB.", "Pro accounts: 2 GB.") -> False
    """
    a, b = _statement(old), _statement(new)
    return bool(a) and a == b and NUMBER.search(old) is not None and old != new


def _statement(answer: str) -> tuple[str, ...]:
    return tuple(WORD.findall(NUMBER.sub(" 0 ", answer.lower())))


def uses_keywords(mode: str, query: str) -> bool:
    """Whether a query is fused with BM25: always, never, or (auto) when it has Cyrillic letters.

    Example: ("auto", "Сколько стоит Pro?") -> True; ("auto", "How much is Pro?") -> False
    """
    return mode == "on" or (mode == "auto" and CYRILLIC.search(query.lower()) is not None)


def _reorder(hits: list[Hit], newer: dict[str, Hit]) -> list[Hit]:
    """Mark superseded hits stale and move each one's replacement just ahead of it."""
    out: list[Hit] = []
    for hit in hits:
        if hit.record_id in newer:
            replacement = newer[hit.record_id]
            while replacement.record_id in newer:  # a chain: March -> June -> September
                replacement = newer[replacement.record_id]
            if all(h.record_id != replacement.record_id for h in out):
                out.append(replacement)
            hit = hit.model_copy(update={"stale": True, "superseded_by": replacement.record_id})
        if all(h.record_id != hit.record_id for h in out):
            out.append(hit)
    return out


def _best_per_record(nodes: list[Hit]) -> list[Hit]:
    """Keep each record's first (best-ranked) node: a long text split in chunks is one hit."""
    seen: set[str] = set()
    best = []
    for hit in nodes:
        if hit.record_id not in seen:
            seen.add(hit.record_id)
            best.append(hit)
    return best


def _hit(node: str, score: float, text: str, meta: dict[str, Any]) -> Hit:
    as_of = str(meta.get("as_of") or "")
    return Hit(
        record_id=str(meta.get("record_id", node.rsplit("#", 1)[0])),
        score=score,
        text=text,
        answer=str(meta.get("answer", "")),
        as_of=date.fromisoformat(as_of) if as_of else None,
        metadata={key: meta[key] for key in OWN_KEYS if key in meta},
        node_id=node,
    )
