"""What a rebuild must do: which collection it writes, and which record versions it embeds,
keeps, adopts from an interrupted run, or retires.

Works on (record id, content hash) pairs, never on record texts, so planning a corpus of a
million records holds only its ids and hashes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from corpus import Record
from rag.manifest import VERSION, IndexedRecord, IndexManifest
from rag.store import generation_name, held_versions

Key = tuple[str, str]  # (record id, content hash): one version of a record


def stored_id(node: str, content_hash: str) -> str:
    """The chroma id of one version of a node: the content hash lets an old and a new version
    coexist until the manifest switches readers from one to the other.

    >>> stored_id("faq-1#0", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    'faq-1#0@9f86d081884c7d65'
    """
    return f"{node}@{content_hash[:16]}"


@dataclass(frozen=True, slots=True)
class Want:
    """The current version of one record: what the index must hold for it (no text: a million
    of these is the whole of what change detection keeps in memory)."""

    hash: str
    as_of: date | None
    format: str

    def picks(self, record: Record) -> bool:
        """Whether a record read again is this version (its content and its date)."""
        return record.content_hash == self.hash and record.as_of == self.as_of


def wanted_versions(records: Iterable[Record]) -> dict[str, Want]:
    """The newest record per id (a later line wins a tie), without their texts."""
    latest: dict[str, Want] = {}
    for r in records:
        old = latest.get(r.id)
        if old is None or (r.as_of or date.min) >= (old.as_of or date.min):
            latest[r.id] = Want(r.content_hash, r.as_of, sys.intern(str(r.format)))
    return latest


@dataclass(frozen=True)
class Target:
    """The collection a rebuild writes: the live one (incremental) or a new generation."""

    collection: str
    generation: int
    new: bool  # a new generation: readers keep the live one until the manifest switches
    resumed: bool = False  # the generation a killed full rebuild was writing
    reason: str = ""


def choose_target(
    manifest: IndexManifest | None,
    marker: dict[str, object] | None,
    config: tuple[str, str, str],
    full: bool,
    waited_since: datetime,
    existing: dict[str, int],
) -> Target:
    """Where to write: in place, a new generation, or the one an interrupted full rebuild left.

    `config` is (embedder, store, base name) as configured now; `existing` the stored
    generations (name -> number).
    """
    embedder, _, base = config
    reason = ""
    if manifest is not None and full and _full_finished_since(manifest, waited_since):
        full = False
        reason = "a full rebuild finished while this one waited for the lock: only what changed since was embedded"
    if manifest is not None and not full:
        changed = _changed_config(manifest, config)
        if not changed:
            return Target(manifest.collection, manifest.generation, new=False, reason=reason)
        reason = f"{changed}: a full rebuild embeds everything again"
    elif manifest is None:
        reason = "no index yet"
    marker = marker or {}
    resumable = str(marker.get("collection", ""))
    if (
        marker.get("full")
        and resumable in existing
        and marker.get("embed_model") == embedder
        and (manifest is None or resumable != manifest.collection)
    ):
        return Target(resumable, existing[resumable], new=True, resumed=True, reason=reason)
    number = next_generation(existing, manifest)
    return Target(generation_name(base, number), number, new=True, reason=reason)


def next_generation(existing: dict[str, int], manifest: IndexManifest | None) -> int:
    """The number of a new generation: past every stored one and the manifest's.

    >>> next_generation({"rag-g000002": 2}, None), next_generation({}, None)
    (3, 1)
    """
    return max([*existing.values(), manifest.generation if manifest else 0]) + 1


def _full_finished_since(manifest: IndexManifest, since: datetime) -> bool:
    last = manifest.last_rebuild
    return last is not None and last.full and manifest.built_at >= since


def _changed_config(manifest: IndexManifest, config: tuple[str, str, str]) -> str:
    """What differs between the index and the configuration, in words ('' when nothing)."""
    embedder, store, base = config
    if manifest.version < VERSION:
        return f"the index was built in format {manifest.version} (now {VERSION})"
    if manifest.embed_model != embedder:
        return f"the embedder changed from {manifest.embed_model} to {embedder}"
    if manifest.store != store:
        return f"the store changed from {manifest.store} to {store}"
    if manifest.base_name != base:
        return f"the collection changed from {manifest.base_name} to {base}"
    return ""


@dataclass
class Held:
    """What the target collection holds, as far as this rebuild is concerned."""

    live: dict[str, IndexedRecord]  # versions the current manifest's readers see
    live_ids: dict[str, list[str]] | None = None  # their node ids, when read back
    leftovers: dict[Key, list[str]] = field(default_factory=dict)  # node ids of other versions
    complete: dict[Key, int] = field(default_factory=dict)  # leftovers written whole: node count
    repaired: bool = False


def current_state(
    manifest: IndexManifest | None, collection: Any, target: Target, interrupted: bool
) -> Held:
    """What the target holds: trust the manifest after a clean run, else read the collection."""
    if target.new and not target.resumed:
        return Held(live={}, repaired=interrupted)  # a fresh generation holds nothing yet
    live = dict(manifest.records) if manifest is not None and not target.new else {}
    trusted = manifest is not None and not target.new and not interrupted
    if trusted and collection.count() == manifest.nodes:  # type: ignore[union-attr]
        return Held(live=live)
    # killed mid-run, resuming, or the collection disagrees with the manifest: read it back
    held = Held(live={}, live_ids={}, repaired=True)
    for key, version in held_versions(collection).items():
        entry = live.get(key[0])
        if entry is not None and entry.hash == key[1] and version.complete():
            held.live[key[0]] = entry
            held.live_ids[key[0]] = version.ids  # type: ignore[index]
            continue
        held.leftovers[key] = version.ids
        if version.complete():
            held.complete[key] = version.expected
    return held


@dataclass
class Plan:
    """The records to embed or adopt and the nodes to delete, with the summary's counts."""

    embed: dict[str, Want]  # record id -> the version to embed
    adopt: dict[str, tuple[Want, int]]  # complete leftovers to keep: version and node count
    keep: dict[str, IndexedRecord]  # live and unchanged
    junk: list[str]  # node ids no manifest ever admitted: delete before writing
    retired: list[str]  # node ids the previous manifest admitted: delete after the switch
    added: int = 0
    updated: int = 0
    deleted: int = 0


def plan_changes(wanted: dict[str, Want], held: Held, replaces: set[str] | None = None) -> Plan:
    """Compare what is wanted with what is held: embed, adopt, keep, and what to delete when.

    `wanted` is every entry, or (`replaces` given) only the entries of the facts a change
    reaches, which take the place of the held entries `replaces` names; every other held entry
    is kept as it is."""
    plan = Plan(embed={}, adopt={}, keep={}, junk=[], retired=[])
    for rid, want in wanted.items():
        entry = held.live.get(rid)
        if entry is not None and entry.hash == want.hash:
            plan.keep[rid] = entry
        elif (rid, want.hash) in held.complete:
            plan.adopt[rid] = (want, held.complete[(rid, want.hash)])
        else:
            plan.embed[rid] = want
        if entry is None:
            plan.added += 1
        elif entry.hash != want.hash:
            plan.updated += 1
    for rid, entry in held.live.items():
        if replaces is not None and rid not in wanted and rid not in replaces:
            plan.keep[rid] = entry  # a fact no change reaches
            continue
        if rid not in wanted or wanted[rid].hash != entry.hash:
            ids = held.live_ids.get(rid) if held.live_ids is not None else None
            plan.retired += ids if ids is not None else _node_ids(rid, entry)
            plan.deleted += rid not in wanted
    adopted = {(rid, want.hash) for rid, (want, _) in plan.adopt.items()}
    for key, ids in held.leftovers.items():
        if key not in adopted:
            plan.junk += ids
    return plan


def _node_ids(record_id: str, entry: IndexedRecord) -> list[str]:
    from rag.nodes import node_id

    return [stored_id(node_id(record_id, i), entry.hash) for i in range(entry.nodes)]
