"""Find duplicate lines: the same content with the same date, in 16 bytes per record.

A dict of a million Python ints holds about 150 bytes per record and, interleaved with the
short-lived objects of parsing, keeps pages that never return to the system (the RSS grew
330 bytes per record). Here the first-seen places live in two sorted `uint64` arrays, with
a small dict in front for the records read since the last merge.
"""

from __future__ import annotations

from datetime import date
from typing import Any

MASK = (1 << 64) - 1
SPREAD = 0x9E3779B97F4A7C15  # an odd 64-bit constant: spreads day numbers over all bits
RECENT = 1 << 15  # keys held in the dict before they merge into the arrays


def key(digest: str, as_of: date | None) -> int:
    """64 bits of the content hash mixed with the date's day number: unique in practice
    (two of a million records collide with a chance near 3e-8).

    >>> key("00" * 32, None)
    0
    >>> key("00" * 32, date(2026, 3, 1)) != key("00" * 32, date(2026, 3, 2))
    True
    """
    day = as_of.toordinal() if as_of else 0
    return (int(digest[:16], 16) ^ (day * SPREAD)) & MASK


class DuplicateIndex:
    """Content + date -> where it was first seen, as `(file number << 32) | line`.

    A repeat is a `duplicate` only when it has the same content and the same date (a line's
    own date, else its batch's): inside one batch it adds nothing. The same content in a later
    batch is a re-confirmation of the fact and is kept.
    """

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}
        self._keys: Any = None  # sorted numpy uint64 keys, once RECENT keys were seen
        self._places: Any = None  # the first place of each of `_keys`
        self._files: list[str] = []

    def add_file(self, name: str) -> int:
        """Register a file; returns its number for the places `first_seen` takes."""
        self._files.append(name)
        return len(self._files) - 1

    def first_seen(self, k: int, here: int) -> int:
        """Where `k` was first seen; `here` (and remembered) when it is new."""
        found = self._recent.get(k)
        if found is not None:
            return found
        if self._keys is not None:
            import numpy as np  # loaded by the first merge: here a lookup in sys.modules

            i = int(self._keys.searchsorted(np.uint64(k)))
            if i < len(self._keys) and int(self._keys[i]) == k:
                return int(self._places[i])
        self._recent[k] = here
        if len(self._recent) >= RECENT:
            self._merge()
        return here

    def where(self, first: int) -> str:
        """'file:line' of a place `first_seen` returned."""
        return f"{self._files[first >> 32]}:{first & 0xFFFFFFFF}"

    def __len__(self) -> int:
        return len(self._recent) + (0 if self._keys is None else len(self._keys))

    def _merge(self) -> None:
        """Move the dict's keys into the sorted arrays (numpy only for corpora this large)."""
        import numpy as np

        keys = np.fromiter(self._recent.keys(), np.uint64, len(self._recent))
        places = np.fromiter(self._recent.values(), np.uint64, len(self._recent))
        order = keys.argsort()
        keys, places = keys[order], places[order]
        if self._keys is None:
            self._keys, self._places = keys, places
        else:
            at = self._keys.searchsorted(keys)
            self._keys = np.insert(self._keys, at, keys)
            self._places = np.insert(self._places, at, places)
        self._recent = {}
