"""Find duplicate lines: the same content with the same date, in two integers per record."""

from __future__ import annotations

from datetime import date


def key(digest: str, as_of: date | None) -> int:
    """96 bits of the content hash beside the date's day number: unique in practice, 40 bytes."""
    return (int(digest[:24], 16) << 20) | (as_of.toordinal() if as_of else 0)


class DuplicateIndex:
    """Content + date -> where it was first seen, as two integers per record.

    A repeat is a `duplicate` only when it has the same content and the same date (a line's
    own date, else its batch's): inside one batch it adds nothing. The same content in a later
    batch is a re-confirmation of the fact and is kept.
    """

    def __init__(self) -> None:
        self.firsts: dict[int, int] = {}  # `key` -> (file number << 32) | line of the first copy
        self._files: list[str] = []

    def add_file(self, name: str) -> int:
        """Register a file; returns its number for the values of `firsts`."""
        self._files.append(name)
        return len(self._files) - 1

    def where(self, first: int) -> str:
        """'file:line' of a value of `firsts`."""
        return f"{self._files[first >> 32]}:{first & 0xFFFFFFFF}"

    def __len__(self) -> int:
        return len(self.firsts)
