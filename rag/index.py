"""Open a built index and retrieve from it: dense (llama-index over chroma), optionally fused with
BM25, with superseded facts marked stale."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import numpy as np

from rag.embedding import Embedder, load_embedder
from rag.errors import IndexNotBuiltError
from rag.facts import supersede
from rag.hits import Hit, Retrieval, make_hit
from rag.lexical import CYRILLIC, KeywordIndex, fuse
from rag.manifest import IndexManifest, read_manifest
from rag.nodes import date_int
from rag.settings import RagSettings
from rag.store import iter_pages, open_client, open_collection


class RagIndex:
    """A built index, opened for queries (thread-safe; the app keeps one per configuration)."""

    def __init__(self, settings: RagSettings, manifest: IndexManifest, embedder: Embedder) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.settings = settings
        self.manifest = manifest
        self.embedder = embedder
        self.collection = open_collection(open_client(settings), settings.collection)
        store = ChromaVectorStore(chroma_collection=self.collection)
        self.vector_index = VectorStoreIndex.from_vector_store(store, embed_model=embedder.llama)
        self._keywords: KeywordIndex | None = None
        self._keywords_lock = threading.Lock()

    @classmethod
    def open(cls, settings: RagSettings) -> RagIndex:
        """Open the index its complete manifest describes; IndexNotBuiltError when there is none."""
        manifest = read_manifest(settings.work_dir)
        if manifest is None:
            raise IndexNotBuiltError(
                f"no index manifest in {settings.work_dir}: build it with "
                f"`python -m rag.rebuild --work {settings.work_dir}`"
            )
        embedder = load_embedder(manifest.embed_model, settings.device, settings.embed_batch_size)
        return cls(settings, manifest, embedder)

    def is_outdated(self) -> bool:
        """True when a rebuild finished since this index was opened (reopen to see it)."""
        latest = read_manifest(self.settings.work_dir)
        return latest is not None and latest.built_at != self.manifest.built_at

    def retrieve(self, query: str, k: int | None = None, as_of: date | None = None) -> list[Hit]:
        """The best `k` records for a query, limited to records dated on/before `as_of` if given."""
        return self.search(query, k, as_of).hits

    def search(self, query: str, k: int | None = None, as_of: date | None = None) -> Retrieval:
        """`retrieve` plus the query's embedding tokens and the time it took."""
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
        s = self.settings
        hits = supersede(hits[: 2 * k], self._vectors, s.tie_epsilon, s.same_question)[:k]
        return Retrieval(hits=hits, query_tokens=tokens, seconds=time.perf_counter() - start)

    def _dense(self, vector: np.ndarray, n: int, limit: int | None) -> list[Hit]:
        from llama_index.core.schema import QueryBundle
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

        filters = None
        if limit is not None:
            filters = MetadataFilters(
                filters=[MetadataFilter(key="as_of_int", value=limit, operator=FilterOperator.LTE)]
            )
        retriever = self.vector_index.as_retriever(similarity_top_k=n, filters=filters)
        found = retriever.retrieve(QueryBundle(query_str="", embedding=vector.tolist()))
        # the chroma store reports exp(-cosine distance); undo it to get the cosine similarity
        return [
            make_hit(
                f.node.node_id,
                1.0 + float(np.log(max(f.score or 1e-12, 1e-12))),
                f.node.get_content(),
                f.node.metadata,
            )
            for f in found
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
                by_id[node] = make_hit(node, score, keywords.texts[row], keywords.metadatas[row])
        fused = fuse([[h.node_id for h in dense], keyword_ids], self.settings.rrf_k)
        return [by_id[i] for i in sorted(fused, key=lambda i: -fused[i])]

    def _keyword_index(self) -> KeywordIndex:
        with self._keywords_lock:
            if self._keywords is None:
                ids: list[str] = []
                texts: list[str] = []
                metadatas: list[dict[str, Any]] = []
                vectors: list[np.ndarray] = []
                for page in iter_pages(self.collection, ["documents", "metadatas", "embeddings"]):
                    ids += page["ids"]
                    texts += [d or "" for d in page["documents"]]
                    metadatas += [dict(m or {}) for m in page["metadatas"]]
                    vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
                matrix = (
                    np.concatenate(vectors)
                    if vectors
                    else np.zeros((0, self.embedder.dimension), np.float32)
                )
                self._keywords = KeywordIndex(ids, texts, metadatas, matrix)
            return self._keywords

    def _vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some nodes: from memory when the keyword index holds them."""
        if self._keywords is not None and all(i in self._keywords.rows for i in ids):
            return {i: self._keywords.vectors[self._keywords.rows[i]] for i in ids}
        got = self.collection.get(ids=ids, include=["embeddings"])
        return dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))


def uses_keywords(mode: str, query: str) -> bool:
    """Whether a query is fused with BM25: always, never, or (auto) when it has Cyrillic letters.

    >>> uses_keywords("auto", "Сколько стоит Pro?"), uses_keywords("auto", "How much is Pro?")
    (True, False)
    """
    return mode == "on" or (mode == "auto" and CYRILLIC.search(query.lower()) is not None)


def _best_per_record(nodes: list[Hit]) -> list[Hit]:
    """Keep each record's first (best-ranked) node: a long text split in chunks is one hit."""
    seen: set[str] = set()
    best = []
    for hit in nodes:
        if hit.record_id not in seen:
            seen.add(hit.record_id)
            best.append(hit)
    return best
