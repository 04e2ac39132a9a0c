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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from corpus import Record
from corpus.facts import normalize_question, question_of
from rag.questions import QuestionVectors, close_pairs

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

    @classmethod
    def of(cls, record: Record) -> Statement:
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
        )

    @property
    def source(self) -> tuple[str, int]:
        """(file, line) of the record: picks it out of the corpus again."""
        return (self.file, self.line)


def questions_asked(statements: Sequence[Statement]) -> list[str | None]:
    """What each record asks: its question with its context, None for text records.

    An instruction that many records share with different inputs ("Answer this customer question
    in one sentence.") is a template, not a question: their inputs are what they ask, so the
    template does not make every such record look alike.
    """
    contexts: dict[str, set[str]] = {}
    for s in statements:
        if s.question and s.context:
            contexts.setdefault(normalize_question(s.question), set()).add(s.context)
    templates = {q for q, seen in contexts.items() if len(seen) >= TEMPLATE_USES}
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


def compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two questions can ask the same fact only when one names nothing the other does not.

    >>> compatible(frozenset({"pro"}), frozenset({"pro", "nordlicht"}))
    True
    >>> compatible(frozenset({"pro"}), frozenset({"team"}))
    False
    """
    return a <= b or b <= a


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


def same_fact_pairs(
    statements: Sequence[Statement],
    questions: QuestionVectors,
    threshold: float,
    form_threshold: float = 1.0,
) -> list[tuple[str, str]]:
    """Pairs of record ids that state the same fact although their questions are worded apart.

    A pair of questions at least `threshold` alike joins their facts when the two name the same
    things and ask for the same kind of answer (when it is said), each is the other's clear best
    match (by `MARGIN` over every other candidate of
    another fact: a question close to several others is ambiguous), and the two facts were never
    stated in one batch (a batch states each fact once). Closest pairs join first.

    Questions only `form_threshold` alike join on the same terms when their answers also read
    the same but for a figure (`answer_form`: "Free accounts can upload files up to 2 GB each"
    then "... 1 GB each"): the question side still decides, the answer's wording corroborates;
    figures alone never do.
    """
    asked = questions_asked(statements)
    groups, askers = _base_groups(statements)
    texts = [asked[i] or "" for i in askers]
    base = [groups.find(i) for i in range(len(statements))]  # same id or question: one fact
    forms: dict[int, set[str]] = {}  # answer forms of each such fact, over all its records
    for i, statement in enumerate(statements):
        form = answer_form(statement.answer_key) if statement.key is not None else None
        if form is not None:
            forms.setdefault(base[i], set()).add(form)
    named = [names(t) for t in texts]  # once per question, not once per pair
    close = questions.similar(texts, threshold - MARGIN)
    if form_threshold < threshold:  # compared only within a form: a corpus of one template
        more = _form_pairs(texts, askers, base, forms, questions, form_threshold - MARGIN, named)
        close += [c for c in more if c[2] < threshold - MARGIN]  # the rest are in already
    near: list[list[tuple[int, float]]] = [[] for _ in texts]  # every candidate of each question
    for a, b, sim in close:
        near[a].append((b, sim))
        near[b].append((a, sim))

    def same_form(a: int, b: int) -> bool:
        return bool(forms.get(base[askers[a]], set()) & forms.get(base[askers[b]], set()))

    def runner_up(question: int, other: int, by_form: bool) -> float:
        """The closest candidate of `question` outside its own fact and `other`'s (`by_form`:
        among those whose answers read like its own, the evidence such a pair rests on)."""
        mine, theirs = groups.find(askers[question]), groups.find(askers[other])
        return max(
            (
                s
                for o, s in near[question]
                if groups.find(askers[o]) not in (mine, theirs)
                and (not by_form or same_form(question, o))
            ),
            default=-1.0,
        )

    pairs: list[tuple[str, str]] = []
    for a, b, sim in sorted(close, key=lambda p: -p[2]):
        if not compatible(named[a], named[b]):
            continue
        by_form = sim < threshold
        if by_form and not (sim >= form_threshold and same_form(a, b)):
            continue
        kinds = {asks_for(texts[a]), asks_for(texts[b])} - {None}
        if len(kinds) > 1:
            continue  # "when was it launched?" and "who is it for?" are two facts
        if max(runner_up(a, b, by_form), runner_up(b, a, by_form)) > sim - MARGIN:
            continue  # ambiguous: another fact's question is nearly as close
        i, j = askers[a], askers[b]
        if groups.union(i, j, guarded=True):
            pairs.append((statements[i].id, statements[j].id))
    return pairs


def _form_pairs(
    texts: list[str],
    askers: list[int],
    base: list[int],
    forms: dict[int, set[str]],
    questions: QuestionVectors,
    floor: float,
    named: list[frozenset[str]],
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for questions at least `floor` alike that name the same things and whose
    facts share an answer form; compared within each form only, so a corpus written from one
    template costs its forms, not all its pairs."""
    by_form: dict[str, list[int]] = {}
    for n, asker in enumerate(askers):
        for form in forms.get(base[asker], ()):
            by_form.setdefault(form, []).append(n)
    found: dict[tuple[int, int], float] = {}
    for members in by_form.values():
        if len(members) < 2:
            continue
        matrix = np.stack([questions.vector(texts[n]) for n in members])
        for r, c, sim in close_pairs(matrix, matrix, floor, same=True):
            a, b = members[r], members[c]
            if compatible(named[a], named[b]):
                found[(a, b) if a < b else (b, a)] = sim
    return [(a, b, sim) for (a, b), sim in found.items()]
