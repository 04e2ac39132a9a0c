"""Query time: each fact's current version first, its older versions after it, marked superseded.

Which records are versions of one fact was decided when the index was built (`rag.facts`); here
the hits of a query are grouped by fact in the order the facts first matched. A fact's current
version (today, or on the date asked) leads its group whether or not it matched best itself — it
is fetched when only an older version matched — and the older versions that matched follow it,
stale, with the dates they held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.hits import Hit, make_hit
from rag.nodes import date_int

Fetch = Callable[[list[str]], dict[str, list[Hit]]]  # fact ids -> their versions known then
Admits = Callable[[dict[str, Any] | None], bool]  # whether the reader's manifest admits a node


def is_current(hit: Hit, day: int | None) -> bool:
    """Whether a version holds today (`day` None) or on `day` (a `date_int`): stated by then and
    not yet replaced.

    >>> from datetime import date
    >>> old = Hit(record_id="a", score=0.9, text="", held_until=date(2015, 9, 30))
    >>> is_current(old, None), is_current(old, 20150101), is_current(old, 20150930)
    (False, True, False)
    """
    if day is not None and date_int(hit.held_from) > day:
        return False  # not stated yet on that day
    if hit.held_until is None:
        return True
    return day is not None and date_int(hit.held_until) > day


def as_seen(hit: Hit, day: int | None, current: bool, fact_score: float) -> Hit:
    """A hit as the index knew it on `day`: a version current then had no end date yet."""
    update: dict[str, object] = {"stale": not current, "fact_score": fact_score}
    if current:  # what ended it, if anything, came after the day asked (or is not admitted)
        update |= {"superseded_by": None, "held_until": None}
    return hit.model_copy(update=update)


def by_fact(hits: Sequence[Hit]) -> dict[str, list[Hit]]:
    """Hits grouped by fact, facts in the order they first appear."""
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.fact_id or hit.entry, []).append(hit)
    return groups


def pick_current(versions: Sequence[Hit], day: int | None) -> Hit | None:
    """The version of one fact that holds today or on `day`; the latest-started one if several
    do (metadata of a rebuild under way) or if none does (the version that ended it is not in
    the manifest this reader opened, so for this reader the latest one still holds).

    >>> from datetime import date
    >>> a = Hit(record_id="a", score=0.9, text="", held_from=date(2014, 5, 12),
    ...         held_until=date(2016, 11, 3))
    >>> b = Hit(record_id="b", score=0.5, text="", held_from=date(2016, 11, 3))
    >>> pick_current([a, b], None).record_id, pick_current([a, b], 20150101).record_id
    ('b', 'a')
    >>> pick_current([a], None).record_id  # what replaced it is not admitted to this reader
    'a'
    >>> pick_current([a.model_copy(update={"held_until": None}), b], None).record_id  # both hold
    'b'
    """
    holding = [h for h in versions if is_current(h, day)] or list(versions)
    return max(holding, key=lambda h: date_int(h.held_from), default=None)


def rank_current(hits: Sequence[Hit], k: int, day: int | None, fetch: Fetch) -> list[Hit]:
    """The best `k` facts, in the order they matched: each fact's current version, then the older
    versions of it that matched too (stale, newest first). Older versions take no place among
    the `k`: a fact that changed twice must not push other facts out."""
    groups = by_fact(hits)
    chosen = list(groups)[:k]
    missing = [f for f in chosen if not any(is_current(h, day) for h in groups[f])]
    fetched = fetch(missing) if missing else {}
    out: list[Hit] = []
    for fact in chosen:
        group = groups[fact]
        entries = {h.entry for h in group}
        others = [h for h in fetched.get(fact, []) if h.entry not in entries]
        current = pick_current([*group, *others], day)
        best = max(h.score for h in group)
        if current is not None:
            out.append(as_seen(current, day, True, best))
        older = [h for h in group if h is not current]
        older.sort(key=lambda h: date_int(h.held_from), reverse=True)
        out += [as_seen(h, day, False, best) for h in older]
    return out


def known_versions(
    collection: Any, admits: Admits, facts: list[str], vector: np.ndarray, day: int | None
) -> dict[str, list[Hit]]:
    """Every version of some facts stated by `day` (all when None), scored for a query: the
    current one is among them even when only an older one matched."""
    where: dict[str, Any] = {"fact_id": {"$in": facts}}
    if day is not None:
        where = {"$and": [where, {"valid_from": {"$lte": day}}]}
    got = collection.get(where=where, include=["documents", "metadatas", "embeddings"])
    rows = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
    found = [
        make_hit(node, float(score), text or "", dict(meta or {}))
        for node, score, text, meta in zip(
            got["ids"], rows @ vector, got["documents"], got["metadatas"], strict=True
        )
        if admits(meta)
    ]
    found.sort(key=lambda h: -h.score)
    best: dict[str, Hit] = {}
    for hit in found:  # a document's best chunk stands for it
        best.setdefault(hit.entry, hit)
    versions: dict[str, list[Hit]] = {}
    for hit in best.values():
        versions.setdefault(hit.fact_id, []).append(hit)
    return versions


def fact_history(collection: Any, admits: Admits, fact_id: str) -> list[Hit]:
    """Every version of one fact, oldest first, with the dates each held (score 0); all but the
    last are stale."""
    got = collection.get(
        where={"$and": [{"fact_id": {"$eq": fact_id}}, {"chunk": {"$eq": 0}}]},
        include=["documents", "metadatas"],
    )
    hits = [
        make_hit(node, 0.0, text or "", dict(meta or {}))
        for node, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        if admits(meta)
    ]
    hits.sort(key=lambda h: h.version)
    return [h.model_copy(update={"stale": h.held_until is not None}) for h in hits]
