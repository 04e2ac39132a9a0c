"""The versions of each fact, with the interval each held, as the entries the index stores.

The versions are `corpus.facts`' (runs of one answer; a re-confirmation in a later batch extends
one; A -> B -> A is three versions, the last one current), with the pairs `rag.facts` finds; a
plain text record is a fact of its own id whose versions are runs of one text. A version holds
from its first date until the next version's first date. Every version is an index entry whose
key (record id + interval start) stays the same across rebuilds; when a later batch
ends a version or re-confirms it, only the entry's metadata changes and is re-written in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from typing import Any

from corpus import Record
from corpus.facts import FactBook, FactHistory, normalize_question
from rag.facts import Statement, names, questions_asked, same_fact_pairs
from rag.hits import OPEN
from rag.nodes import NodeSpec, date_int, node_id, record_nodes
from rag.plan import Want
from rag.questions import Encode, QuestionVectors, text_key
from rag.settings import RagSettings


@dataclass(frozen=True)
class IndexEntry:
    """One version of one fact, embedded from the version's first record."""

    key: str  # record id + interval start: stable across rebuilds
    first: Statement  # the version's first record: its text is what is embedded
    record_ids: tuple[str, ...]  # every record that stated this version, oldest first
    fact_id: str
    version: int  # 0 = the fact's first version
    versions: int
    valid_from: date | None
    valid_until: date | None  # None: the version still holds
    last_confirmed: date | None
    superseded_by: str = ""  # record id of the version that replaced it
    hashes: tuple[str, ...] = ()  # content hashes of every record of the version (reworded too)

    def metadata(self) -> dict[str, str | int]:
        """The fact fields every node of this entry carries (flat, for chroma `where` filters)."""
        return {
            "entry": self.key,
            "record_id": self.first.id,
            "record_ids": "\n".join(self.record_ids),
            "fact_id": self.fact_id,
            "version": self.version,
            "versions": self.versions,
            "valid_from": date_int(self.valid_from),
            "valid_until": OPEN if self.valid_until is None else date_int(self.valid_until),
            "last_confirmed": self.last_confirmed.isoformat() if self.last_confirmed else "",
            "superseded_by": self.superseded_by,
        }

    @cached_property  # asked by the plan, the restamp and the manifest: computed once
    def meta_hash(self) -> str:
        """A digest of the stored metadata that is not the embedded content."""
        where = f"{self.first.file}:{self.first.line}:{self.first.batch}"
        return text_key(f"{sorted(self.metadata().items())}{where}")

    def want(self) -> Want:
        """What the rebuild plan compares: the content embedded and the newest date."""
        return Want(self.first.content_hash, self.last_confirmed, self.first.format)


def entry_key(first: Statement) -> str:
    """The key of a version that starts with this record: its id and the day it starts. The
    same key across rebuilds; a record rewritten in place keeps it (an update, not a new version),
    and the stored node ids add the content hash, so both can coexist while a rebuild runs.

    >>> s = Statement("ferry-1", date(2014, 5, 12), "ab" * 32, "f", 1, "text", "", None, None,
    ...               None, "")
    >>> entry_key(s)
    'ferry-1@20140512'
    """
    return f"{first.id}@{date_int(first.as_of)}"


def versions_of(history: FactHistory, by_id: dict[str, list[Statement]]) -> list[IndexEntry]:
    """The entries of one QA fact's history: each version embedded from its first record."""
    runs: list[list[Statement]] = []
    for version in history.versions:
        said = normalize_question(version.answer)
        run = [
            s
            for rid in version.record_ids
            for s in by_id.get(rid, [])
            if s.answer_key == said and _within(s.as_of, version.first_seen, version.last_confirmed)
        ]
        opening = [
            s for s in run if s.id == version.record_ids[0] and s.as_of == version.first_seen
        ]
        if not run:  # cannot happen with the same normalisation on both sides; stay safe
            run = opening = by_id[version.record_ids[0]][:1]
        runs.append(opening[:1] + [s for s in run if s not in opening[:1]])
    firsts = [run[0] for run in runs]
    entries = []
    for n, (version, first) in enumerate(zip(history.versions, firsts, strict=True)):
        entries.append(
            IndexEntry(
                key=entry_key(first),
                first=first,
                record_ids=tuple(version.record_ids),
                fact_id=history.fact_id,
                version=n,
                versions=len(history.versions),
                valid_from=version.first_seen,
                valid_until=version.until,
                last_confirmed=version.last_confirmed,
                superseded_by=firsts[n + 1].id if n + 1 < len(firsts) else "",
                hashes=tuple(
                    dict.fromkeys([first.content_hash, *(s.content_hash for s in runs[n])])
                ),
            )
        )
    return entries


def documents_of(statements: Sequence[Statement]) -> list[IndexEntry]:
    """The entries of plain and labelled texts: a fact per id, a version per run of one text."""
    by_id: dict[str, list[Statement]] = {}
    for s in statements:
        if s.key is None:
            by_id.setdefault(s.id, []).append(s)
    entries = []
    for history in by_id.values():
        history.sort(key=lambda s: s.as_of or date.min)  # stable: a later line wins a tie
        runs: list[list[Statement]] = []
        for s in history:
            if runs and runs[-1][-1].content_hash == s.content_hash:
                runs[-1].append(s)
            else:
                runs.append([s])
        for n, run in enumerate(runs):
            following = runs[n + 1][0] if n + 1 < len(runs) else None
            entries.append(
                IndexEntry(
                    key=entry_key(run[0]),
                    first=run[0],
                    record_ids=(run[0].id,),
                    fact_id=run[0].id,
                    version=n,
                    versions=len(runs),
                    valid_from=run[0].as_of,
                    valid_until=following.as_of if following else None,
                    last_confirmed=run[-1].as_of,
                    superseded_by=following.id if following else "",
                    hashes=(run[0].content_hash,),
                )
            )
    return entries


def _within(day: date | None, start: date | None, end: date | None) -> bool:
    low, high, at = start or date.min, end or date.max, day or date.min
    return low <= at <= high


class FactVersions:
    """Every version of every fact in a corpus, keyed as the index stores them, with what each
    record asks and the question vectors already computed."""

    def __init__(
        self,
        entries: Iterable[IndexEntry],
        asked: dict[tuple[str, int], str | None] | None = None,
        questions: QuestionVectors | None = None,
    ) -> None:
        self.entries: dict[str, IndexEntry] = {}
        for entry in entries:
            key, n = entry.key, 1
            while key in self.entries:  # two versions of one id in one batch: a later line won
                n += 1
                key = f"{entry.key}~{n}"
            self.entries[key] = replace(entry, key=key)
        self.by_source = {e.first.source: e.key for e in self.entries.values()}
        self.asked = asked or {}
        self.questions = questions

    def wanted(self) -> dict[str, Want]:
        """What the index must hold, per entry key, for the rebuild plan."""
        return {key: e.want() for key, e in self.entries.items()}

    def key_of(self, record: Record) -> str | None:
        """The entry a corpus record's text is embedded for (None: it only re-confirms one)."""
        return self.by_source.get((record.source.file, record.source.line))

    def nodes(self, record: Record, chunk_size: int, overlap: int) -> list[NodeSpec]:
        """The nodes of the entry a record starts, keyed by the entry, with the fact fields: its
        text chunks, and for a question-answer record one more node holding the question alone.

        A query then matches a record by its question and answer together or by its question
        alone, whichever is closer: the question alone carries the names a short question asks
        about, which the answer's words drown (demo eval hit@1 0.689 -> 0.743, fact fixture
        Russian questions 0.595 -> 0.929, dense only, current versions only).
        """
        key = self.key_of(record)
        if key is None:
            return []
        asked = self.asked.get(self.entries[key].first.source)
        specs = record_nodes(record, chunk_size, overlap)
        texts = [s.text for s in specs] + ([asked] if asked else [])
        facts = {
            **self.entries[key].metadata(),
            "names": "\n".join(sorted(names(asked))) if asked else "",
            "chunks": len(texts),
        }
        base = specs[0].metadata
        return [
            NodeSpec(
                id=node_id(key, i),
                text=text,
                metadata={**base, **facts, "chunk": i},
                vector=self._vector(text) if i >= len(specs) else None,
            )
            for i, text in enumerate(texts)
        ]

    def _vector(self, question: str) -> tuple[float, ...] | None:
        found = self.questions.vectors.get(text_key(question)) if self.questions else None
        return None if found is None else tuple(float(x) for x in found)

    def meta_hash(self, key: str) -> str:
        """The metadata digest an entry's nodes must carry."""
        return self.entries[key].meta_hash

    def manifest_fields(self, key: str) -> dict[str, Any]:
        """What the manifest keeps of an entry besides its content hash and nodes."""
        entry = self.entries[key]
        also = tuple(h for h in entry.hashes if h != entry.first.content_hash)
        return {"meta": entry.meta_hash, "also": also, "record_id": entry.first.id}


def fact_versions(
    records: Iterable[Record], settings: RagSettings, model: str, encode: Encode
) -> FactVersions:
    """The versions of every fact in a corpus (one pass over the records).

    `encode` embeds questions the work folder's cache has not seen; it is not called when nothing
    is new, so a rebuild with nothing to do loads no model.
    """
    book, statements, questions = _linked(records, settings, model, encode)
    by_id: dict[str, list[Statement]] = {}
    for s in statements:
        if s.key is not None:
            by_id.setdefault(s.id, []).append(s)
    entries = [e for h in book.histories() for e in versions_of(h, by_id)]
    asked = dict(zip((s.source for s in statements), questions_asked(statements), strict=True))
    return FactVersions([*entries, *documents_of(statements)], asked, questions)


def _linked(
    records: Iterable[Record], settings: RagSettings, model: str, encode: Encode
) -> tuple[FactBook, list[Statement], QuestionVectors]:
    """The records grouped into facts: by id and wording (corpus.facts), joined where their
    questions are close by a question-only embedding (`same_fact_pairs`)."""
    book = FactBook()
    statements = []
    for record in records:
        book.add(record)
        statements.append(Statement.of(record))
    questions = QuestionVectors(settings.work_dir, model, encode)
    tuned = settings.tuned(model)
    for first, second in same_fact_pairs(
        statements, questions, tuned.same_fact, tuned.same_fact_form
    ):
        book.link(first, second)
    return book, statements, questions


def fact_histories_as_indexed(
    records: Sequence[Record], settings: RagSettings
) -> list[FactHistory]:
    """Every fact's history as the index groups it (the question vectors a rebuild computed come
    from the work folder's cache; the embedder loads only for questions it has not seen)."""
    from rag.embedding import embedder_name, open_embedder

    name = embedder_name(settings)
    loaded: list[Any] = []

    def encode(texts: list[str]) -> Any:
        if not loaded:
            loaded.append(open_embedder(name, settings))
        return loaded[0].encode(texts)

    return _linked(records, settings, name, encode)[0].histories()
