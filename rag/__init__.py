"""The retrieval side: a llama-index + chromadb index over the corpus, its incremental rebuild,
retrieval with dates and stale facts, and the RAG answerer.

Import from the modules (`rag.index`, `rag.build`, `rag.answerer`); this package file stays light
so that reading `rag.settings` does not load chromadb or llama-index.
"""
