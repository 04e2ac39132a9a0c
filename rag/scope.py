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

import numpy as np

from corpus import Record
from rag.changes import detect_changes, renumber
from rag.facts import (
    TEMPLATE_USES,
    Statement,
    askers_of,
    link,
    questions_asked,
)
from rag.factstate import FactState, template_keys
from rag.lookup import StateAskers
from rag.neighbours import AskerIndex, Rules, similarity
from rag.questions import Encode, QuestionVectors
from rag.settings import RagSettings
from rag.versions import (
    FactVersions,
    asked_by_source,
    entries_of,
    fact_versions,
    histories_of,
    keep_groups,
    rules_of,
)


def rules_key(model: str, settings: RagSettings) -> str:
    """What fact identity was decided by: the embedder and the thresholds."""
    return f"{model}|{settings.same_fact}|{settings.same_fact_form}"


Unseen = Callable[[list[Record]], None]  # told the records new to the state, before identity


def decide(
    source: Callable[[], Iterable[Record]],
    settings: RagSettings,
    model: str,
    encode: Encode,
    state: FactState,
    trusted: bool,
    unseen: Unseen | None = None,
) -> FactVersions:
    """The fact versions a rebuild writes: only those a change reaches when the state is
    `trusted` (the one of the live manifest, by the same rules: not a first or full build, not a
    repair), else every one. Either way the state is left as the new versions decided it.
    `unseen`, if given, is told the records new to the state as soon as they are known (a
    rebuild starts encoding their texts while fact identity runs)."""
    if state.meta("model") != model:  # vectors of another embedder are of no use
        state.clear()
        state.set_meta("model", model)
    versions = decide_again(source, settings, model, encode, state, unseen) if trusted else None
    return versions or fact_versions(source(), settings, model, encode, state)


def decide_again(
    source: Callable[[], Iterable[Record]],
    settings: RagSettings,
    model: str,
    encode: Encode,
    state: FactState,
    unseen: Unseen | None = None,
) -> FactVersions | None:
    """The versions of the facts a change reaches, written into `state` (uncommitted), with the
    entry keys they replace (`FactVersions.replaces`); None when records the state holds are read
    in another order (which decides ties): then everything is decided again."""
    changes = detect_changes(source(), state)
    if not changes.in_order:
        return None
    renumber(state)
    questions = QuestionVectors(state, model, encode)
    if not changes.new and not changes.gone:
        versions = FactVersions([], {}, questions)
        versions.replaces = set()
        return versions
    rules = rules_of(settings, model)
    read = _read_again(source(), changes.new)
    if unseen is not None and changes.unseen:
        unseen([read[seq] for seq in changes.unseen])
    fresh = _fresh(read, state)
    gone = set(changes.gone)
    templates, flipped = _templates(state, fresh, gone)
    seeds = state.comps_where("skey", gone)
    seeds |= state.comps_where("id", {s.id for _, s in fresh})
    seeds |= state.comps_where("qkey", {s.key for _, s in fresh if s.key is not None})
    seeds |= state.comps_where("tkey", flipped)
    view = Scope(state, fresh, gone, templates, questions)
    comps = view.closure(seeds, rules)
    comps |= view.rival_reach(comps)
    scope, asked, askers = view.of(comps)
    statements = [s for _, s in scope]
    linking = link(statements, asked, askers, rules)
    entries = entries_of(statements, histories_of(statements, linking.pairs))
    versions = FactVersions(entries, asked_by_source(statements, asked), questions)
    versions.replaces = state.entries(comps)
    versions.decided = len(statements)
    versions.read = list(read.values())
    seqs = [seq for seq, _ in scope]
    keep_groups(state, statements, linking, askers, versions, state.next_comp(), seqs, comps)
    state.drop_unused_vectors()
    return versions


class Scope:
    """The records of some stored groups after a change, with their questions laid over the
    stored ones."""

    def __init__(
        self,
        state: FactState,
        fresh: Sequence[tuple[int, Statement]],
        gone: set[str],
        templates: Container[str],
        questions: QuestionVectors,
    ) -> None:
        self.state, self.fresh, self.gone = state, fresh, gone
        self.templates, self.questions = templates, questions

    def of(
        self, comps: set[int]
    ) -> tuple[list[tuple[int, Statement]], list[str | None], StateAskers]:
        """(corpus place, statement) of the groups' records (the state's, less those gone, plus
        the fresh ones) in corpus order, what each asks, and the questions with theirs in place
        of the groups' stored ones."""
        kept = [(seq, s) for seq, s in self.state.statements(comps) if s.skey not in self.gone]
        scope = sorted([*kept, *self.fresh], key=lambda row: row[0])
        statements = [s for _, s in scope]
        asked = questions_asked(statements, self.templates)
        _, _, askers = askers_of(statements, asked)
        matrix = self.questions.vectors([a.text for a in askers])
        index = AskerIndex(int(matrix.shape[1]) if askers else 0)
        for asker, vector in zip(askers, matrix, strict=True):
            index.add(asker, vector)
        return scope, asked, StateAskers(self.state, index, set(self.state.asker_keys(comps)))

    def closure(self, seeds: set[int], rules: Rules) -> set[int]:
        """The seed groups and every group their questions can now be joined with, until no new
        group is reached."""
        comps = set(seeds)
        while True:
            _, _, askers = self.of(comps)
            reached = set()
            for asker in askers.scope.live():
                for key, _ in askers.partners(asker, askers.vector(asker.key), rules):
                    if key not in askers.scope:
                        comp = askers.comp(key)
                        assert comp is not None
                        reached.add(comp)
            if reached <= comps:
                return comps
            comps |= reached

    def rival_reach(self, comps: set[int]) -> set[int]:
        """Groups outside `comps` with a question that a changed question (one of the groups',
        old or new) comes closer to than that question's rival floor: a new rival can make its
        pairs ambiguous, a removed one can stop doing so."""
        outside = [row for row in self.state.floored() if row[2] not in comps]
        if not outside:
            return set()
        _, _, askers = self.of(comps)
        changed = [askers.scope.vector(a.key) for a in askers.scope.live()]
        changed += [row[3] for row in self.state.stored_askers(askers.hidden).values()]
        if not changed:
            return set()
        rows = np.stack([row[3] for row in outside])
        floors = np.asarray([row[1] for row in outside], np.float32)
        reached = set()
        for vector in changed:
            close = np.flatnonzero(similarity(rows, vector) > floors).tolist()
            reached |= {outside[i][2] for i in close}
        return reached


def _read_again(records: Iterable[Record], places: list[int]) -> dict[int, Record]:
    """The records at those corpus places, read again, in corpus order."""
    wanted = set(places)
    return {seq: record for seq, record in enumerate(records) if seq in wanted}


def _fresh(read: dict[int, Record], state: FactState) -> list[tuple[int, Statement]]:
    """(corpus place, statement) of the records new to the state or moved, read again."""
    keys = dict(
        state.db.execute(
            "SELECT seq, skey FROM corpus WHERE seq IN (SELECT value FROM json_each(?))",
            (json_list(sorted(read)),),
        ).fetchall()
    )
    return [(seq, Statement.of(record, keys[seq])) for seq, record in read.items()]


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
