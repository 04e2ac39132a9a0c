"""Which script a text is written in, and hits re-ordered so those in the query's come first.

A multilingual embedder places a question near a record's translation as well as near the record:
a fact stated in Russian and in English is found twice, and either may rank first. A team asking
in Russian wants the Russian statement, so a hit in the other script loses a little
(`RAG_OTHER_LANGUAGE_PENALTY`): enough to put the asker's own statement of a fact first, not so
much that a fact stated only in the other language falls behind unrelated records.
"""

from __future__ import annotations

import re

from rag.hits import Hit

WORD = re.compile(r"[^\W\d_]+")
CYRILLIC_WORD = re.compile("[а-яё]", re.IGNORECASE)


def is_cyrillic(text: str) -> bool:
    """Whether a text is written in Cyrillic: most letters of its ordinary words (those not
    capitalised, so product and place names in Latin letters do not tip it) are Cyrillic.

    >>> is_cyrillic("Сколько стоит тариф Nordlicht Drive Pro?"), is_cyrillic("How much is Pro?")
    (True, False)
    >>> is_cyrillic("Is the Тихая Заводь ferry daily?"), is_cyrillic("Nordlicht Drive")
    (False, False)
    """
    words = WORD.findall(text)
    ordinary = [w for w in words if w[0].islower()] or words
    cyrillic = sum(len(w) for w in ordinary if CYRILLIC_WORD.match(w))
    return 2 * cyrillic > sum(len(w) for w in ordinary)


def by_language(hits: list[Hit], query: str, penalty: float) -> list[Hit]:
    """Hits re-ordered after lowering those written in another script than the query."""
    if not penalty or not hits:
        return hits
    asked = is_cyrillic(query)
    other = {id(h) for h in hits if is_cyrillic(h.text) != asked}
    if not other:
        return hits
    out = [h.model_copy(update={"rank": h.rank - penalty}) if id(h) in other else h for h in hits]
    return sorted(out, key=lambda h: -h.rank)
