"""Which records state the same fact, decided from their questions when the index is built.

A fact is what `corpus.facts` says it is: records with the same id or the same normalised
question, plus the pairs found here, from questions close by a question-only embedding
(`RAG_SAME_FACT`) that name the same things, ask for the same kind of answer, are each other's
clear best match, and whose facts were never stated side by side in one batch. Never from the
answers: two different questions can both be answered by a bare number. `rag.versions` turns the
histories into index entries.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from corpus import Record
from corpus.facts import normalize_question, question_of
from rag.neighbours import Asker, AskerIndex, Askers, Rules, compatible
from rag.questions import QuestionVectors

NAME = re.compile(r"«[^»]+»|\"[^\"]+\"|\b\w*\d\w*\b|(?<=\s)[A-ZА-ЯЁ][\w-]*", re.UNICODE)
NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
TEMPLATE_USES = 3  # an instruction shared with this many different inputs is a template
ASKS = {  # the kind of answer a question word asks for; other questions ask for no one kind
    "person": {"who", "whom", "whose", "кто", "кого", "кому", "кем"},
    "time": {"when", "когда"},
    "place": {"where", "где", "куда", "откуда"},
}
MARGIN = 0.03  # a close question must beat every other candidate of both sides by this much
FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
FORM_WORDS = 4  # words besides figures an answer needs before its form tells facts apart


@dataclass(frozen=True)
class Statement:
    """What fact identity needs of a record: no answer or passage text, so a large corpus fits."""

    id: str
    as_of: date | None
    content_hash: str
    file: str
    line: int
    format: str
    batch: str
    question: str | None  # None for plain and labelled text
    context: str | None
    key: str | None  # the normalised question that identifies its fact (None: not a QA fact)
    answer_key: str  # the normalised answer (or text): runs of one answer are one version
    answer: str | None = None  # the answer as written (shown in histories; not stored on disk)
    skey: str = ""  # the record's key in the stored fact state (`rag.factstate.skey_of`)

    @classmethod
    def of(cls, record: Record, skey: str = "") -> Statement:
        """The statement a corpus record makes."""
        qa = record.is_qa
        return cls(
            id=record.id,
            as_of=record.as_of,
            content_hash=record.content_hash,
            file=record.source.file,
            line=record.source.line,
            format=str(record.format),
            batch=record.batch or "",
            question=record.question if qa else None,
            context=record.context if qa else None,
            key=normalize_question(question_of(record)) if qa else None,
            answer_key=normalize_question(record.answer or "" if qa else record.text or ""),
            answer=record.answer if qa else None,
            skey=skey,
        )

    @property
    def source(self) -> tuple[str, int]:
        """(file, line) of the record: picks it out of the corpus again."""
        return (self.file, self.line)

    @property
    def prompt(self) -> str:
        """The question with its context (`Record.prompt_text`)."""
        question = self.question or ""
        return f"{question}\n\n{self.context}" if self.context else question


def templates_of(statements: Iterable[Statement]) -> set[str]:
    """The normalised instructions that records share with at least `TEMPLATE_USES` different
    inputs: templates, not questions."""
    contexts: dict[str, set[str]] = {}
    for s in statements:
        if s.question and s.context:
            contexts.setdefault(normalize_question(s.question), set()).add(s.context)
    return {q for q, seen in contexts.items() if len(seen) >= TEMPLATE_USES}


def questions_asked(
    statements: Sequence[Statement], templates: Container[str] | None = None
) -> list[str | None]:
    """What each record asks: its question with its context, None for text records.

    An instruction that many records share with different inputs ("Answer this customer question
    in one sentence.") is a template, not a question: their inputs are what they ask, so the
    template does not make every such record look alike. `templates` are the corpus's
    (`templates_of` over all its records) when `statements` are only a part of it.
    """
    if templates is None:
        templates = templates_of(statements)
    asked: list[str | None] = []
    for s in statements:
        if s.question is None:
            asked.append(None)
        elif s.context and normalize_question(s.question) in templates:
            asked.append(s.context)
        else:
            asked.append(f"{s.question}\n\n{s.context}" if s.context else s.question)
    return asked


def names(question: str) -> frozenset[str]:
    """The things a question names: capitalised words after the first, quoted names, figures.

    >>> sorted(names("How many boats does the Ashby club own in 2019?"))
    ['2019', 'ashby']
    >>> sorted(names("Кто руководит обсерваторией «Северная звезда»?"))
    ['«северная звезда»']
    """
    return frozenset(m.casefold() for m in NAME.findall(question)) - {"i"}


def asks_for(question: str) -> str | None:
    """The kind of answer a question asks for (a person, a time, a place), when a question word
    says so.

    >>> asks_for("When was the Studio plan launched?"), asks_for("Who is it designed for?")
    ('time', 'person')
    >>> asks_for("On what date did it open?") is None
    True
    """
    words = set(NON_WORD.split(question.casefold()))
    kinds = [kind for kind, cues in ASKS.items() if words & cues]
    return kinds[0] if len(kinds) == 1 else None


def answer_form(answer_key: str) -> str | None:
    """A normalised answer with its figures masked, when it has figures and enough other words
    that two answers of this form are one statement with a new figure, not two bare numbers.

    >>> answer_form("free accounts can upload files up to 2 gb each")
    'free accounts can upload files up to # gb each'
    >>> answer_form("42") is None, answer_form("in 2019") is None, answer_form("no limit") is None
    (True, True, True)
    """
    if not FIGURE.search(answer_key):
        return None
    masked = FIGURE.sub("#", answer_key)
    words = [w for w in NON_WORD.split(masked) if w]
    return masked if len(words) >= FORM_WORDS else None


class _Groups:
    """Union-find over records that also remembers the dates each group was stated on."""

    def __init__(self, statements: Sequence[Statement]) -> None:
        self.parent = list(range(len(statements)))
        self.dates: list[set[date | None]] = [{s.as_of} for s in statements]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int, *, guarded: bool) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return False
        if guarded and self.dates[a] & self.dates[b]:
            return False  # stated side by side in one batch: two facts, not one
        self.parent[b] = a
        self.dates[a] |= self.dates[b]
        return True


def _base_groups(statements: Sequence[Statement]) -> tuple[_Groups, list[int]]:
    """Records grouped by the same id or the same normalised question; and for each distinct
    question, the first record that asks it."""
    groups = _Groups(statements)
    first: dict[str, int] = {}
    askers: list[int] = []
    for i, statement in enumerate(statements):
        keys = [f"id\x1f{statement.id}"]
        if statement.key is not None:
            keys.append(f"q\x1f{statement.key}")
        for key in keys:
            if key in first:
                groups.union(first[key], i, guarded=False)
            else:
                first[key] = i
                if key.startswith("q"):
                    askers.append(i)
    return groups, askers


@dataclass
class Linking:
    """What fact identity decided within a set of records: the pairs of record ids joined, every
    pair of questions that could have been joined (partners), and for each question with a
    partner, the cosine below which no other question can make its pairs ambiguous."""

    pairs: list[tuple[str, str]]
    partners: list[tuple[str, str, float]]  # (asker key, asker key, cosine)
    floors: dict[str, float]  # asker key -> rivals below this cosine cannot matter


def askers_of(
    statements: Sequence[Statement], asked: Sequence[str | None]
) -> tuple[_Groups, list[int], list[Asker]]:
    """Base groups (same id or question), the first record of each distinct question, and the
    asker it makes: what it asks, the things it names, the kind of answer it asks for, and the
    answer forms of its base group over all its records."""
    groups, firsts = _base_groups(statements)
    forms: dict[int, set[str]] = {}
    for i, statement in enumerate(statements):
        form = answer_form(statement.answer_key) if statement.key is not None else None
        if form is not None:
            forms.setdefault(groups.find(i), set()).add(form)
    askers = []
    for i in firsts:
        text, key = asked[i] or "", statements[i].key
        assert key is not None
        found = frozenset(forms.get(groups.find(i), ()))
        askers.append(Asker(key, text, names(text), asks_for(text), found))
    return groups, firsts, askers


def link(
    statements: Sequence[Statement],
    asked: Sequence[str | None],
    index: Askers,
    rules: Rules,
) -> Linking:
    """The pairs of records whose questions state one fact, within `statements`.

    `index` holds every question of the corpus, those of `statements` with the answer forms
    `askers_of` gives them. `statements` must be closed: every record sharing an id or a
    question with one of them, and every question that could be joined with one of theirs, is
    among them (a whole corpus always is); questions outside are rivals only.

    A pair of compatible questions at least `rules.same` alike (or `rules.form` alike when
    their facts share an answer form) joins their facts when it asks for one kind of answer,
    each is the other's clear best match (by `rules.margin` over every other candidate of
    another fact: a question close to several others is ambiguous), and the two facts were
    never stated in one batch (a batch states each fact once). Closest pairs join first.
    """
    groups, firsts, askers = askers_of(statements, asked)
    position = {a.key: n for n, a in enumerate(askers)}
    vectors = [index.vector(a.key) for a in askers]
    found: dict[tuple[int, int], float] = {}
    for n, asker in enumerate(askers):
        for key, sim in index.partners(asker, vectors[n], rules):
            m = position.get(key)
            if m is None:
                raise ValueError(
                    f"fact identity asked for a set of records that is not closed: {key!r}"
                )
            found[(min(n, m), max(n, m))] = sim
    lowest: dict[int, float] = {}
    for (n, m), sim in found.items():
        for side in (n, m):
            lowest[side] = min(lowest.get(side, 2.0), sim)
    floors = {askers[n].key: sim - rules.margin - 1e-6 for n, sim in lowest.items()}
    rivals = _rivals(askers, vectors, floors, index)

    def runner_up(question: int, other: int, by_form: bool) -> float:
        """The closest candidate of `question` outside its own fact and `other`'s (`by_form`:
        among those whose answers read like its own, the evidence such a pair rests on)."""
        mine, theirs = groups.find(firsts[question]), groups.find(firsts[other])
        me = askers[question]
        for key, sim in rivals[question]:  # closest first: the first that counts is the max
            rival = index.get(key)
            assert rival is not None
            shared = bool(me.forms & rival.forms)
            if by_form and not shared:
                continue
            if not rules.is_near(sim, shared, compatible(me.names, rival.names)):
                continue
            at = position.get(key)
            if at is not None and groups.find(firsts[at]) in (mine, theirs):
                continue
            return sim
        return -1.0

    pairs: list[tuple[str, str]] = []
    for (a, b), sim in sorted(found.items(), key=lambda p: (-p[1], p[0])):
        by_form = sim < rules.same
        if max(runner_up(a, b, by_form), runner_up(b, a, by_form)) > sim - rules.margin:
            continue  # ambiguous: another fact's question is nearly as close
        i, j = firsts[a], firsts[b]
        if groups.union(i, j, guarded=True):
            pairs.append((statements[i].id, statements[j].id))
    partners = [(askers[n].key, askers[m].key, sim) for (n, m), sim in found.items()]
    return Linking(pairs, partners, floors)


def _rivals(
    askers: list[Asker], vectors: list[np.ndarray], floors: dict[str, float], index: Askers
) -> dict[int, list[tuple[str, float]]]:
    """For each asker with a partner, every other question above its floor, closest first (one
    scan of the index for all of them)."""
    asking = [n for n, a in enumerate(askers) if a.key in floors]
    rivals: dict[int, list[tuple[str, float]]] = {n: [] for n in asking}
    if asking:
        matrix = np.stack([vectors[n] for n in asking])
        limits = np.asarray([floors[askers[n].key] for n in asking], np.float32)
        for row, key, sim in index.scan(matrix, limits):
            if key != askers[asking[row]].key:
                rivals[asking[row]].append((key, sim))
    for found in rivals.values():
        found.sort(key=lambda r: (-r[1], r[0]))
    return rivals


def same_fact_pairs(
    statements: Sequence[Statement],
    questions: QuestionVectors,
    threshold: float,
    form_threshold: float = 1.0,
) -> list[tuple[str, str]]:
    """Pairs of record ids that state the same fact although their questions are worded apart,
    over a whole corpus (see `link`): questions `threshold` alike, or `form_threshold` alike
    when their answers read the same but for a figure ("Free accounts can upload files up to
    2 GB each" then "... 1 GB each"). The question side decides, the answer's wording only
    corroborates; figures alone never do."""
    asked = questions_asked(statements)
    index = corpus_index(statements, asked, questions)
    return link(statements, asked, index, Rules(threshold, form_threshold, MARGIN)).pairs


def corpus_index(
    statements: Sequence[Statement], asked: Sequence[str | None], questions: QuestionVectors
) -> AskerIndex:
    """Every question of a corpus in an `AskerIndex`, its vector from `questions`."""
    _, _, askers = askers_of(statements, asked)
    matrix = questions.vectors([a.text for a in askers])
    index = AskerIndex(int(matrix.shape[1]) if len(askers) else 0)
    for asker, vector in zip(askers, matrix, strict=True):
        index.add(asker, vector)
    return index
