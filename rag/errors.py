"""Errors of the retrieval side; the CLI and the app turn them into messages and exit codes."""

from __future__ import annotations


class RagError(Exception):
    """Base of every retrieval-side error."""


class IndexBusyError(RagError):
    """Another rebuild holds the index lock."""


class IndexNotBuiltError(RagError):
    """No complete manifest: the index was never built here (run `python -m rag.rebuild`)."""


class EmbeddingModelError(RagError):
    """The embedding model could not be loaded."""
