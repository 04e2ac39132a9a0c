"""Which version of a changed fact an answer gives: current, or a superseded one (stale).

A fact's versions differ in a few words or figures ("€11.90" then "€12.90"); an answer gives the
version whose distinctive words and figures it states — the ones no other version has. An answer
that states none, or as many of two versions', cannot be placed and is left unmarked, never
guessed.

>>> from corpus.facts import FactHistory, FactVersion
>>> from datetime import date
>>> old = FactVersion(record_ids=["a"], answer="The Pro plan costs €11.90 per month.",
...     first_seen=date(2026, 3, 1), last_confirmed=date(2026, 3, 1), until=date(2026, 7, 1))
>>> new = FactVersion(record_ids=["b"], answer="The Pro plan costs €12.90 per month.",
...     first_seen=date(2026, 7, 1), last_confirmed=date(2026, 7, 1))
>>> history = FactHistory(fact_id="f", question="Pro price?", versions=[old, new])
>>> version_given("It is 11.90 euros a month.", history).stale
True
>>> version_given("12,90 € monthly", history).stale
False
>>> version_given("I do not know.", history) is None
True
>>> version_stated("Since July it costs 12.90 euros.", history).first_seen
datetime.date(2026, 7, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from pydantic import BaseModel

from answers import Answer
from answers.metrics import numbers_in, tokens
from corpus.facts import FactHistory, FactVersion


class GivenVersion(BaseModel):
    """The version of a fact an answer gives, and whether a newer one replaced it."""

    version: FactVersion
    current: FactVersion  # the version current when the question was asked
    stale: bool

    def describe(self) -> str:
        """'stale: held 2026-03-01 → 2026-07-01' or 'current'."""
        if not self.stale:
            return "current"
        since = self.version.first_seen or "undated"
        until = f" → {self.version.until}" if self.version.until else ""
        return f"stale: held {since}{until}"


def _features(text: str) -> set[str]:
    """Words and canonical figures of a text (figures written any way count as one)."""
    return set(tokens(text)) | {f"#{n}" for n in numbers_in(text)}


def answer_key(answer: str) -> frozenset[str]:
    """What two answers must share to be the same version: their words and figures.

    >>> answer_key("€12.90 a month") == answer_key("12,90 € a month")
    True
    """
    return frozenset(_features(answer))


def version_given(
    text: str, history: FactHistory, as_of: date | None = None
) -> GivenVersion | None:
    """The version of `history` that `text` states, judged against the version current on
    `as_of` (default: the newest); None for a fact that never changed or an answer that
    cannot be placed."""
    if not history.changed or not text.strip():
        return None
    current = history.version_on(as_of) if as_of else history.current
    current = current or history.current
    said = _features(text)
    # versions with the same answer (A -> B -> A) are one candidate: the latest of them
    candidates: dict[frozenset[str], FactVersion] = {}
    for version in history.versions:
        candidates[frozenset(_features(version.answer))] = version
    scores = []
    for features, version in candidates.items():
        others = set().union(*(f for f in candidates if f != features))
        distinctive = features - others
        scores.append((len(distinctive & said), version))
    scores.sort(key=lambda pair: pair[0], reverse=True)
    if not scores or scores[0][0] == 0 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        return None
    version = scores[0][1]
    same_answer = _features(version.answer) == _features(current.answer)
    return GivenVersion(version=version, current=current, stale=not same_answer)


def version_stated(text: str, history: FactHistory) -> FactVersion | None:
    """The version of a fact that `text` states, changed or not: for a changed fact the one
    `version_given` places; for a fact that never changed its one version, when `text` states
    every figure of the answer and at least half of its other words. Words the question already
    holds do not count (repeating the question is not knowing the answer); an answer with no
    words of its own cannot be told from a guess and is never placed.

    >>> from corpus.facts import FactVersion
    >>> one = FactHistory(fact_id="c", question="What is the call sign of Obelane?", versions=[
    ...     FactVersion(record_ids=["c"], answer="Lantern-47", first_seen=None, last_confirmed=None)])
    >>> version_stated("Its call sign is Lantern-47.", one) is not None
    True
    >>> version_stated("Its call sign is Lantern-74.", one) is None
    True
    """
    if history.changed:
        given = version_given(text, history)
        return given.version if given is not None else None
    own = _features(history.current.answer) - _features(history.question)
    said = _features(text)
    figures = {f for f in own if f.startswith("#")}
    words = own - figures
    if not own or not figures <= said or 2 * len(words & said) < len(words):
        return None
    return history.current


def fact_of(answers: Iterable[Answer], facts: Mapping[str, FactHistory]) -> FactHistory | None:
    """The fact a question asks about, read from what the retrieving sides found: the record of
    the first current source any answer cites (closed-book sides cite none)."""
    for answer in answers:
        source = next((s for s in answer.sources if not s.stale), None)
        if source is not None and (history := facts.get(source.record_id)) is not None:
            return history
    return None
