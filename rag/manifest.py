"""What the index was built from, written atomically after the collection is updated.

A reader sees either the previous complete manifest or the new one, never a half-written file,
and the manifest is the switch: it names the collection (generation) readers open and which
record versions in it they may return. A marker file says a rebuild is under way; if it is still
there when the next rebuild starts, the previous one was killed and the next one repairs (or
resumes) from what the collection actually holds.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from hashlib import sha256
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.gc_pause import paused_gc

VERSION = 3  # 2: generations, node ids carry their content hash; 3: an entry per fact version
MANIFEST = "manifest.json"
MARKER = "build-in-progress.json"
LOCK = "rebuild.lock"


class IndexedRecord(BaseModel):
    """One record as the index holds it."""

    model_config = ConfigDict(frozen=True)

    hash: str
    as_of: date | None = None
    nodes: int = 1
    tokens: int = 0  # embedding tokens of its nodes (the cost of embedding it again)
    record_id: str = ""  # the record whose text is embedded (entries are keyed by version)
    meta: str = ""  # digest of its fact fields: a change is re-written without re-embedding
    also: tuple[str, ...] = ()  # content hashes of the version's other records (reworded)
    format: str = ""  # the embedded record's format (the manifest's counts per format)


class RebuildSummary(BaseModel):
    """What one rebuild did; the CLI prints it as one line."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    repaired: bool = False  # the previous rebuild was interrupted and this one repaired it
    full: bool = False
    seconds: float = 0.0
    embedded_nodes: int = 0
    reused_nodes: int = 0  # written by an interrupted run, complete, kept instead of re-embedded
    decided: int = 0  # records whose fact identity this rebuild decided (the rest kept theirs)
    generation: int = 0
    reason: str = ""  # why a full rebuild happened, or why a requested one was not needed
    compacted: int = 0  # deleted nodes left behind with the old graph when the live ones moved
    compact_s: float = 0.0  # the seconds that copy took, after the rebuild itself
    # after the switch, the wait for readers of the old manifest before deleting what only it
    # admitted (`rag.readers`); set after the manifest is written, so never stored in it
    grace_s: float = Field(default=0.0, exclude=True)

    def line(self) -> str:
        """The one-line summary a scheduler's log keeps."""
        extra = " (repaired an interrupted rebuild)" if self.repaired else ""
        if self.reused_nodes:
            extra += f" (kept {self.reused_nodes} nodes it had written)"
        kind = f"full rebuild into generation {self.generation}" if self.full else "rebuild"
        why = f"; {self.reason}" if self.reason else ""
        grace = f"; then {self.grace_s:.1f} s for open readers" if self.grace_s else ""
        if self.compacted:
            grace += (
                f"; then moved the live nodes to a fresh graph (generation {self.generation}), "
                f"leaving {self.compacted:,} deleted ones behind, in {self.compact_s:.1f} s"
            )
        return (
            f"{kind}: added {self.added} / updated {self.updated} / deleted {self.deleted} / "
            f"unchanged {self.unchanged} / rejected {self.rejected} in {self.seconds:.1f} s"
            f"{extra}{why}{grace}"
        )


class IndexManifest(BaseModel):
    """What a complete index holds: every record's content hash, the model, the corpus fingerprint."""

    version: int = VERSION
    built_at: datetime
    corpus_fingerprint: str
    embed_model: str  # what embedded it: a local model path/name, or `URL#model` of a server
    dimension: int
    store: str  # the chroma server URL, or the embedded store's path
    collection: str  # the collection readers open: `{base}-g{generation}` since version 2
    base: str = ""  # the configured collection name the generations are named after
    generation: int = 0
    revision: int = 0  # the serial of the rebuild that wrote it: nodes carry theirs as `rev`
    records: dict[str, IndexedRecord] = Field(default_factory=dict)
    nodes: int = 0
    formats: dict[str, int] = Field(default_factory=dict)
    newest_as_of: date | None = None
    embedding_tokens: int = 0
    # nodes deleted from this collection since it was made, which its HNSW graph still holds
    # (chroma marks them, never frees them): `rag.compact` copies the live ones to a new graph
    deleted_nodes: int = 0
    last_rebuild: RebuildSummary | None = None

    def pending(self, records: Iterable[tuple[str, str]]) -> tuple[int, int, int]:
        """(new, changed, removed) between this index and a corpus's (record id, content hash)
        pairs: content the index does not hold yet (under an id it holds: changed), and record
        ids it holds that the corpus no longer has. Entries are versions of facts, so the older
        versions an id keeps are not "removed" when a caller passes only each id's newest record.
        """
        wanted = dict(records)
        hashes = {e.hash for e in self.records.values()}
        ids = {e.record_id for e in self.records.values()}
        fresh = [rid for rid, h in wanted.items() if h not in hashes]
        changed = sum(1 for rid in fresh if rid in ids)
        return len(fresh) - changed, changed, sum(1 for rid in ids if rid not in wanted)

    def admits(self, key: str, content_hash: str) -> bool:
        """Whether a stored node belongs to this manifest: its entry (a version of a fact, see
        `rag.versions`) at this content hash.

        Nodes of a rebuild still under way, of an older version, or deleted under a reader that
        still sees them (no metadata) are not admitted, so a reader returns only what it opened.
        """
        entry = self.records.get(key)
        return entry is not None and entry.hash == content_hash

    def admits_node(self, metadata: dict[str, object] | None) -> bool:
        """`admits` for a stored node's metadata; a node without metadata was deleted under a
        reader that still sees it."""
        meta = metadata or {}
        key = meta.get("entry") or meta.get("record_id", "")  # the entry key since version 3
        return self.admits(str(key), str(meta.get("content_hash", "")))

    @property
    def base_name(self) -> str:
        """The configured collection name (older manifests named the collection itself)."""
        return self.base or self.collection

    def content_hashes(self) -> frozenset[str]:
        """The content hash of every indexed record (what freshness calls "known")."""
        return frozenset(h for r in self.records.values() for h in (r.hash, *r.also))


def fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """A hash of a corpus's (record id, content hash) pairs, independent of their order."""
    digest = sha256()
    for record_id, content in sorted(pairs):
        digest.update(f"{record_id}\x1f{content}\x1e".encode())
    return digest.hexdigest()


# The manifest this process last read or wrote in each work folder, under the stamp of its file:
# a rebuild after a rebuild, and a reader after the switch, in one process (the app, a
# benchmark), take it from here instead of parsing the file again (0.5 s at 200k records).
# Nothing changes a manifest after it is read or written (a test checks the one a rebuild
# wrote against its file), so the same object can be handed out twice.
_known: dict[str, tuple[tuple[int, int, int], IndexManifest]] = {}
_known_lock = threading.Lock()


def read_manifest(work_dir: Path) -> IndexManifest | None:
    """The last complete manifest, or None when the index was never built here."""
    path = work_dir / MANIFEST
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        stamp = _stamp(os.fstat(handle.fileno()))  # of the file read, even if replaced since
        with _known_lock:
            known = _known.get(str(path.absolute()))
        if known is not None and known[0] == stamp:
            return known[1]
        data = handle.read()
    with paused_gc():  # a million objects, no cycles (`rag.gc_pause`)
        manifest = IndexManifest.model_validate_json(data)
    _remember(path, stamp, manifest)
    return manifest


def _remember(path: Path, stamp: tuple[int, int, int], manifest: IndexManifest) -> None:
    with _known_lock:
        _known[str(path.absolute())] = (stamp, manifest)


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def manifest_stamp(work_dir: Path) -> tuple[int, int, int] | None:
    """A cheap identity of the manifest file on disk (inode, size, mtime); None when absent.

    Every write replaces the file (a new inode), so a reader compares stamps on each query
    instead of parsing the manifest: a stat costs microseconds.
    """
    try:
        st = os.stat(work_dir / MANIFEST)
    except FileNotFoundError:
        return None
    return _stamp(st)


def write_manifest(work_dir: Path, manifest: IndexManifest) -> None:
    """Write the manifest atomically: a temp file in the same folder, fsync, then os.replace."""
    with paused_gc():
        data = manifest.model_dump_json().encode()
    path = work_dir / MANIFEST
    _atomic_write(path, data)
    # kept as read back would give it: the caller's summary may still change (the grace after
    # the switch is set later, and never stored)
    summary = manifest.last_rebuild
    summary = summary and summary.model_copy(update={"grace_s": 0.0})
    _remember(path, _stamp(os.stat(path)), manifest.model_copy(update={"last_rebuild": summary}))


def write_marker(work_dir: Path, full: bool, collection: str = "", embed_model: str = "") -> None:
    """Say a rebuild is under way (its pid, start and target collection) before it writes."""
    info = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(),
        "full": full,
        "collection": collection,
        "embed_model": embed_model,
    }
    _atomic_write(work_dir / MARKER, json.dumps(info).encode())


def read_marker(work_dir: Path) -> dict[str, object] | None:
    """The marker of an unfinished rebuild, or None after a clean one."""
    try:
        data = json.loads((work_dir / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"unreadable": True}  # killed while writing the marker itself: still a marker
    return data if isinstance(data, dict) else {"unreadable": True}


def clear_marker(work_dir: Path) -> None:
    """The rebuild finished: its manifest is written."""
    (work_dir / MARKER).unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
