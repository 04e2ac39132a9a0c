"""How far a load has read, in bytes over all its files, for a progress bar at the edge."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

Progress = Callable[[int, int], None]  # (bytes read so far, bytes in every file of the load)


class Meter:
    """Bytes read across a load's files, reported to a progress callback as they are read."""

    def __init__(self, files: Sequence[Path], report: Progress) -> None:
        self.sizes = {path: path.stat().st_size for path in files}
        self.total, self.report = sum(self.sizes.values()), report
        self.base = self.done = self.size = 0  # where the current file starts, read, its size

    def start(self, path: Path) -> None:
        """A new file begins; the one before it counts as read whole."""
        self.base += self.size
        self.done, self.size = self.base, self.sizes.get(path, 0)

    def read(self, size: int) -> None:
        """`size` more bytes of the current file were read."""
        self.done = min(self.done + size, self.base + self.size)
        self.report(self.done, self.total)

    def at(self, share: float) -> None:
        """The current file is read up to `share` of its size (a JSON array, by element)."""
        self.done = self.base + int(share * self.size)
        self.report(self.done, self.total)

    def finish(self) -> None:
        """Every file is read."""
        self.report(self.total, self.total)
