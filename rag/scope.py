"""Fact identity decided again for what a corpus change can reach, not for every record.

The fact state (`rag.factstate`) keeps, for the last rebuild, each record's group: records joined
by id, by question, or by a pair of questions that could be one fact. What one group decides
depends only on its own records and on the questions near its questions (rivals, which can only
make its pairs ambiguous). So after a change, deciding again

- the groups of records that left or moved, and of those sharing an id, a question or a template
  instruction whose status flips with a new record,
- the groups any of their questions (old or new) can now be joined with, and
- the groups of questions with a partner that a changed question comes closer to than their
  rival floor,

gives exactly what deciding every record again gives; every other group keeps its entries.
`tests/test_rag_scope.py` compares the two on corpora with changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from corpus import Record
from rag.changes import Changes, detect_changes, renumber
from rag.facts import (
    TEMPLATE_USES,
    Statement,
    askers_of,
    link,
    questions_asked,
)
from rag.factstate import FactState, template_keys
from rag.neighbours import AskerIndex, Rules, similarity
from rag.questions import Encode, QuestionVectors
from rag.settings import RagSettings
from rag.versions import (
    FactVersions,
    _by_source,
    entries_of,
    histories_of,
    keep_groups,
    rules_of,
)

FULL_SHARE = 0.5  # more of the corpus than this changed: a full pass costs less than a scope


@dataclass
class Stored:
    """Every question the state holds, indexed, with its group and rival floor; the vectors of
    those a scope took out (the old questions of the groups decided again)."""

    index: AskerIndex
    comp: dict[str, int]
    floor: dict[str, float]
    old: dict[str, np.ndarray] = field(default_factory=dict)


def decide_again(
    source: Callable[[], Iterable[Record]],
    settings: RagSettings,
    model: str,
    encode: Encode,
    state: FactState,
) -> FactVersions | None:
    """The versions of the facts a change reaches, written into `state` (uncommitted), with the
    entry keys they replace (`FactVersions.replaces`); None when the corpus changed so that
    deciding everything again is needed (records reordered) or cheaper (most of it changed)."""
    changes = detect_changes(source(), state)
    if not changes.in_order or len(changes.new) + len(changes.gone) > FULL_SHARE * max(
        changes.records, 1
    ):
        return None
    renumber(state)
    questions = QuestionVectors(state, model, encode)
    if not changes.new and not changes.gone:
        versions = FactVersions([], {}, questions)
        versions.replaces = set()
        return versions
    rules = rules_of(settings)
    fresh = _fresh(source(), changes, state)
    gone = set(changes.gone)
    templates, flipped = _templates(state, fresh, gone)
    seeds = state.comps_where("skey", gone)
    seeds |= state.comps_where("id", {s.id for _, s in fresh})
    seeds |= state.comps_where("qkey", {s.key for _, s in fresh if s.key is not None})
    seeds |= state.comps_where("tkey", flipped)
    stored = _stored(state)
    comps, scope, asked = _closure(state, seeds, fresh, gone, templates, stored, questions, rules)
    comps |= _rival_reach(stored, comps, scope, asked)
    scope, asked = _scope(state, comps, fresh, gone, templates, stored, questions)
    statements = [s for _, s in scope]
    linking = link(statements, asked, stored.index, rules)
    entries = entries_of(statements, histories_of(statements, linking.pairs))
    versions = FactVersions(entries, _by_source(statements, asked), questions)
    versions.replaces = state.entries(comps)
    seqs = [seq for seq, _ in scope]
    keep_groups(state, statements, linking, stored.index, versions, state.next_comp(), seqs, comps)
    state.drop_unused_vectors()
    return versions


def _fresh(
    records: Iterable[Record], changes: Changes, state: FactState
) -> list[tuple[int, Statement]]:
    """(corpus place, statement) of the records new to the state or moved, read again."""
    wanted = set(changes.new)
    keys = dict(
        state.db.execute(
            "SELECT seq, skey FROM corpus WHERE seq IN (SELECT value FROM json_each(?))",
            (json_list(sorted(wanted)),),
        ).fetchall()
    )
    return [
        (seq, Statement.of(record, keys[seq]))
        for seq, record in enumerate(records)
        if seq in wanted
    ]


def json_list(values: Sequence[int]) -> str:
    """Integers as a JSON list (an SQL parameter of any length).

    >>> json_list([3, 1])
    '[3, 1]'
    """
    return "[" + ", ".join(str(v) for v in values) + "]"


def _templates(
    state: FactState, fresh: Sequence[tuple[int, Statement]], gone: set[str]
) -> tuple[TemplateBook, set[str]]:
    """Which instructions are templates after the change (looked up as the scope asks), and
    those whose status the change flips: every record of those asks something else now."""
    touched: dict[str, set[str]] = {}
    for _, s in fresh:
        tkey, ctx = template_keys(s)
        if tkey is not None and ctx is not None:
            touched.setdefault(tkey, set()).add(ctx)
    leaving = state.db.execute(
        "SELECT DISTINCT tkey FROM statements WHERE tkey IS NOT NULL AND skey IN "
        "(SELECT value FROM json_each(?))",
        (json.dumps(sorted(gone)),),
    ).fetchall()
    for (tkey,) in leaving:
        touched.setdefault(tkey, set())
    book = TemplateBook(state, touched, gone)
    flipped = {t for t in touched if (len(state.contexts(t)) >= TEMPLATE_USES) != (t in book)}
    return book, flipped


class TemplateBook(Container[str]):
    """The template instructions after a change, answered per instruction from the state plus
    the contexts the change adds (`questions_asked` only asks `in`)."""

    def __init__(self, state: FactState, added: dict[str, set[str]], gone: set[str]) -> None:
        self.state, self.added, self.gone = state, added, gone
        self.known: dict[str, bool] = {}

    def __contains__(self, tkey: object) -> bool:
        if not isinstance(tkey, str):
            return False
        if tkey not in self.known:
            found = self.state.contexts(tkey, leaving=self.gone) | self.added.get(tkey, set())
            self.known[tkey] = len(found) >= TEMPLATE_USES
        return self.known[tkey]


def _stored(state: FactState) -> Stored:
    rows = list(state.askers())
    dimension = len(rows[0][3]) if rows else 0
    stored = Stored(AskerIndex(dimension), {}, {})
    for asker, floor, comp, vector in rows:
        stored.index.add(asker, vector)
        stored.comp[asker.key] = comp
        if floor is not None:
            stored.floor[asker.key] = floor
    return stored


def _scope(
    state: FactState,
    comps: set[int],
    fresh: Sequence[tuple[int, Statement]],
    gone: set[str],
    templates: Container[str],
    stored: Stored,
    questions: QuestionVectors,
) -> tuple[list[tuple[int, Statement]], list[str | None]]:
    """The records of some groups (the state's, less those gone, plus the fresh ones), in corpus
    order, with what each asks; their askers replace the stored ones in the index."""
    kept = [(seq, s) for seq, s in state.statements(comps) if s.skey not in gone]
    fresh_keys = {s.skey for _, s in fresh}
    scope = sorted([*(r for r in kept if r[1].skey not in fresh_keys), *fresh], key=lambda r: r[0])
    statements = [s for _, s in scope]
    asked = questions_asked(statements, templates)
    for key, comp in stored.comp.items():
        if comp in comps and key not in stored.old:
            stored.old[key] = stored.index.vector(key).copy()  # before the scope replaces it
    for key in stored.old:
        stored.index.remove(key)
    _, _, askers = askers_of(statements, asked)
    if askers:
        matrix = questions.vectors([a.text for a in askers])
        if not stored.index.dimension:  # the state held no question yet
            stored.index = AskerIndex(int(matrix.shape[1]))
        for asker, vector in zip(askers, matrix, strict=True):
            stored.index.add(asker, vector)
    return scope, asked


def _closure(
    state: FactState,
    seeds: set[int],
    fresh: Sequence[tuple[int, Statement]],
    gone: set[str],
    templates: Container[str],
    stored: Stored,
    questions: QuestionVectors,
    rules: Rules,
) -> tuple[set[int], list[tuple[int, Statement]], list[str | None]]:
    """The seed groups and every group their questions can now be joined with, until no new
    group is reached; with the records and questions of them."""
    comps = set(seeds)
    while True:
        scope, asked = _scope(state, comps, fresh, gone, templates, stored, questions)
        statements = [s for _, s in scope]
        _, _, askers = askers_of(statements, asked)
        mine = {a.key for a in askers}
        reached = set()
        for asker in askers:
            for key, _ in stored.index.partners(asker, stored.index.vector(asker.key), rules):
                if key not in mine:
                    reached.add(stored.comp[key])
        if reached <= comps:
            return comps, scope, asked
        comps |= reached


def _rival_reach(
    stored: Stored, comps: set[int], scope: list[tuple[int, Statement]], asked: list[str | None]
) -> set[int]:
    """Groups outside `comps` with a question that a changed question (one of the scope's, old
    or new) comes closer to than that question's rival floor: a new rival can make its pairs
    ambiguous, a removed one can stop doing so."""
    outside = [k for k in stored.floor if stored.comp.get(k) not in comps and k in stored.index]
    if not outside:
        return set()
    changed = [stored.index.vector(k) for k in _scope_keys(scope, asked) if k in stored.index]
    changed += list(stored.old.values())
    if not changed:
        return set()
    rows = np.stack([stored.index.vector(k) for k in outside])
    floors = np.asarray([stored.floor[k] for k in outside], np.float32)
    reached = set()
    for vector in changed:
        close = similarity(rows, vector) > floors
        reached |= {stored.comp[outside[i]] for i in np.flatnonzero(close).tolist()}
    return reached


def _scope_keys(scope: list[tuple[int, Statement]], asked: list[str | None]) -> list[str]:
    statements = [s for _, s in scope]
    _, _, askers = askers_of(statements, asked)
    return [a.key for a in askers]
