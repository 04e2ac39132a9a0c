"""The versions of each fact, with the interval each held, as the entries the index stores.

The versions are `corpus.facts`' (runs of one answer; a re-confirmation in a later batch extends
one; A -> B -> A is three versions, the last one current), with the pairs `rag.facts` finds; a
plain text record is a fact of its own id whose versions are runs of one text. A version holds
from its first date until the next version's first date. Every version is an index entry whose
key (record id + interval start) stays the same across rebuilds; when a later batch
ends a version or re-confirms it, only the entry's metadata changes and is re-written in place.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from typing import Any

from corpus import Record
from corpus.facts import FactHistory, FactVersion, normalize_question
from rag.facts import MARGIN, Linking, Statement, corpus_index, link, names, questions_asked
from rag.factstate import FactState, skey_of
from rag.hits import OPEN
from rag.neighbours import Askers, Rules
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
        # entry keys of the previous index these versions decide again; None: every entry
        self.replaces: set[str] | None = None
        self.decided = 0  # records whose fact identity was decided for these versions
        # the records new to the index or moved, read again to decide them, in corpus order:
        # they usually start every version a rebuild embeds (`rag.ingest` then reads no more)
        self.read: list[Record] = []

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
        found = self.questions.vector(question) if self.questions else None
        return None if found is None else tuple(found.tolist())

    def meta_hash(self, key: str) -> str:
        """The metadata digest an entry's nodes must carry."""
        return self.entries[key].meta_hash

    def manifest_fields(self, key: str) -> dict[str, Any]:
        """What the manifest keeps of an entry besides its content hash and nodes."""
        entry = self.entries[key]
        also = tuple(h for h in entry.hashes if h != entry.first.content_hash)
        return {
            "meta": entry.meta_hash,
            "also": also,
            "record_id": entry.first.id,
            "format": entry.first.format,
        }


def histories_of(
    statements: Sequence[Statement], pairs: Iterable[tuple[str, str]] = ()
) -> list[FactHistory]:
    """Every question-answer fact's history, as `corpus.facts.FactBook` builds it from records
    (same id or normalised question, plus `pairs` of record ids known to state one fact; runs
    of one normalised answer, in date order, a later line winning a tie), from statements."""
    parent: list[int] = []
    nodes: dict[str, int] = {}

    def node(key: str) -> int:
        if key not in nodes:
            nodes[key] = len(parent)
            parent.append(len(parent))
        return nodes[key]

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    facts = [s for s in statements if s.key is not None]
    owner = []
    for s in facts:
        own = node(f"id\x1f{s.id}")
        union(own, node(f"q\x1f{s.key}"))
        owner.append(own)
    for first, second in pairs:
        a, b = nodes.get(f"id\x1f{first}"), nodes.get(f"id\x1f{second}")
        if a is not None and b is not None:
            union(a, b)
    groups: dict[int, list[int]] = {}
    for i, own in enumerate(owner):
        groups.setdefault(find(own), []).append(i)
    day = [s.as_of.toordinal() if s.as_of else 0 for s in facts]
    out = []
    for members in sorted(groups.values(), key=min):
        members.sort(key=lambda i: day[i])
        runs: list[list[int]] = []
        for i in members:
            if runs and facts[runs[-1][-1]].answer_key == facts[i].answer_key:
                runs[-1].append(i)
            else:
                runs.append([i])
        versions = [_version([facts[i] for i in run]) for run in runs]
        for older, newer in itertools.pairwise(versions):
            older.until = newer.first_seen
        out.append(
            FactHistory(
                fact_id=facts[members[0]].id,
                question=facts[members[-1]].prompt,
                versions=versions,
            )
        )
    return out


def _version(run: list[Statement]) -> FactVersion:
    last = run[-1]
    return FactVersion(
        record_ids=list(dict.fromkeys(s.id for s in run)),
        answer=last.answer if last.answer is not None else last.answer_key,
        first_seen=run[0].as_of,
        last_confirmed=last.as_of,
        batches=list(dict.fromkeys(s.batch or "-" for s in run)),
    )


def entries_of(
    statements: Sequence[Statement], histories: Iterable[FactHistory]
) -> list[IndexEntry]:
    """The index entries of the facts of some records: each question-answer version, then each
    run of one plain text."""
    by_id: dict[str, list[Statement]] = {}
    for s in statements:
        if s.key is not None:
            by_id.setdefault(s.id, []).append(s)
    entries = [e for h in histories for e in versions_of(h, by_id)]
    return [*entries, *documents_of(statements)]


def statements_of(records: Iterable[Record]) -> list[Statement]:
    """The statements of a corpus, in order, each with its key in the fact state."""
    seen: dict[str, int] = {}
    out = []
    for record in records:
        skey = skey_of(record.id, record.content_hash, record.as_of)
        seen[skey] = seen.get(skey, 0) + 1
        if seen[skey] > 1:  # the repeat count `rag.changes` appends too
            skey = f"{skey}\x1f{seen[skey]}"
        out.append(Statement.of(record, skey))
    return out


def fact_versions(
    records: Iterable[Record],
    settings: RagSettings,
    model: str,
    encode: Encode,
    state: FactState | None = None,
) -> FactVersions:
    """The versions of every fact in a corpus (one pass over the records); with `state`, the
    fact identity decided is written into it (uncommitted) for the next rebuild to start from.

    `encode` embeds questions `state` has no vector for; it is not called when nothing is new.
    """
    statements = statements_of(records)
    asked = questions_asked(statements)
    questions = QuestionVectors(state, model, encode)
    index = corpus_index(statements, asked, questions)
    linking = link(statements, asked, index, rules_of(settings, model))
    entries = entries_of(statements, histories_of(statements, linking.pairs))
    versions = FactVersions(entries, asked_by_source(statements, asked), questions)
    versions.decided = len(statements)
    if state is not None:
        state.forget_groups()
        keep_groups(state, statements, linking, index, versions, first_comp=1)
        state.drop_unused_vectors()
    return versions


def rules_of(settings: RagSettings, model: str) -> Rules:
    """The fact identity rules the settings ask for, with the embedder's own thresholds."""
    tuned = settings.tuned(model)
    return Rules(tuned.same_fact, tuned.same_fact_form, MARGIN)


def asked_by_source(
    statements: Sequence[Statement], asked: Sequence[str | None]
) -> dict[tuple[str, int], str | None]:
    """What each record asks, by its (file, line)."""
    return dict(zip((s.source for s in statements), asked, strict=True))


def keep_groups(
    state: FactState,
    statements: Sequence[Statement],
    linking: Linking,
    index: Askers,
    versions: FactVersions,
    first_comp: int,
    seqs: Sequence[int] | None = None,
    replacing: Iterable[int] = (),
) -> None:
    """Write what was decided for some records into the fact state: each record with its group
    (records joined by id, by question, or by a pair of questions that could be one fact), the
    askers with their rival floors, and the entries each group made; replacing old groups."""
    comp_of = components(statements, linking)
    numbers = {root: first_comp + n for n, root in enumerate(dict.fromkeys(comp_of))}
    comp = [numbers[root] for root in comp_of]
    places = seqs if seqs is not None else range(len(statements))
    by_key: dict[str, int] = {}
    for i, s in enumerate(statements):
        if s.key is not None:
            by_key.setdefault(s.key, comp[i])
    by_skey = {s.skey: comp[i] for i, s in enumerate(statements)}
    askers = []
    for key, number in by_key.items():
        asker = index.get(key)
        assert asker is not None
        askers.append((asker, text_key(asker.text), linking.floors.get(key), number))
    entries = ((key, by_skey[e.first.skey]) for key, e in versions.entries.items())
    rows = [(seq, s, comp[i]) for i, (seq, s) in enumerate(zip(places, statements, strict=True))]
    state.replace_groups(replacing, rows, askers, entries)


def components(statements: Sequence[Statement], linking: Linking) -> list[int]:
    """For each record, the root of its group: records joined by id, by question, or by a pair
    of questions that could have been joined (whether or not rivals let them)."""
    parent = list(range(len(statements)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, s in enumerate(statements):
        for key in (f"id\x1f{s.id}", f"q\x1f{s.key}" if s.key is not None else ""):
            if not key:
                continue
            if key in first:
                a, b = find(first[key]), find(i)
                parent[max(a, b)] = min(a, b)
            else:
                first[key] = i
    for a_key, b_key, _ in linking.partners:
        a, b = find(first[f"q\x1f{a_key}"]), find(first[f"q\x1f{b_key}"])
        parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(statements))]


def fact_histories_as_indexed(
    records: Sequence[Record], settings: RagSettings
) -> list[FactHistory]:
    """Every fact's history as the index groups it (question vectors the last rebuild kept come
    from the work folder's fact state; the embedder loads only for questions it has not seen)."""
    from rag.embedding import embedder_name, open_embedder

    name = embedder_name(settings)
    loaded: list[Any] = []

    def encode(texts: list[str]) -> Any:
        if not loaded:
            loaded.append(open_embedder(name, settings))
        return loaded[0].encode(texts)

    statements = statements_of(records)
    asked = questions_asked(statements)
    state = FactState.read(settings.work_dir)
    if state is not None and state.meta("model") != name:  # another embedder's vectors
        state.close()
        state = None
    try:
        questions = QuestionVectors(state, name, encode)
        index = corpus_index(statements, asked, questions)
        pairs = link(statements, asked, index, rules_of(settings, name)).pairs
    finally:
        if state is not None:
            state.close()  # read only: nothing of this is kept
    return histories_of(statements, pairs)
