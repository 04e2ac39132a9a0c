"""What a file's reading leaves out on purpose — rejected DPO answers, undesirable KTO answers,
repeated preference lines, media, reasoning — counted, with the warnings that say so."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from corpus.diagnose import line_list
from corpus.outcome import Notice

SHOWN = 8  # line numbers kept per warning; the rest are counted
MakeNotice = Callable[[int, str, str, str], Notice]  # (line, code, message, hint) -> a warning


class Lines:
    """A count and the first few line numbers, for a warning."""

    __slots__ = ("count", "first")

    def __init__(self) -> None:
        self.count: int = 0
        self.first: list[int] = []

    def add(self, number: int) -> None:
        self.count += 1
        if self.count <= SHOWN:
            self.first.append(number)

    def shown(self) -> str:
        return line_list(self.first, self.count)


class Dropped:
    """The counts of what one file left out, and the lines that show where."""

    def __init__(self) -> None:
        self.negatives = 0  # rejected answers of DPO pairs
        self.media = 0  # image/audio/video items
        self.reasoning = 0  # reasoning parts of assistant turns
        self.media_lines, self.undesirable, self.repeats = Lines(), Lines(), Lines()
        self.reasoning_lines = Lines()

    def notices(self, notice: MakeNotice, dropped: dict[str, int]) -> Iterator[Notice]:
        """One warning per kind of data left out, its count added to `dropped`."""
        if self.negatives:
            dropped["dpo_rejected"] = self.negatives
            yield notice(
                0,
                "dpo_rejected",
                f"DPO: {self.negatives} rejected answer(s) dropped; the chosen answer of each pair is the record",
                "rejected answers are never indexed, trained on or used as references",
            )
        if self.undesirable.count:
            dropped["kto_undesirable"] = self.undesirable.count
            yield notice(
                self.undesirable.first[0],
                "kto_undesirable",
                f"KTO: {self.undesirable.count} undesirable answer(s) dropped (label false, lines {self.undesirable.shown()})",
                "only desirable answers become records; the undesirable ones are never indexed or trained on",
            )
        if self.repeats.count:
            dropped["preference_repeats"] = self.repeats.count
            yield notice(
                self.repeats.first[0],
                "preference_repeat",
                f"{self.repeats.count} preference line(s) repeat an answer already kept (lines {self.repeats.shown()}): skipped",
                "several pairs may share a chosen answer; it is kept once",
            )
        if self.media:
            dropped["media"] = self.media
            yield notice(
                self.media_lines.first[0],
                "media_dropped",
                f"{self.media} image/audio/video item(s) dropped from {self.media_lines.count} line(s): {self.media_lines.shown()}; their text is kept",
                "this corpus reads text only: a question about an image may not make sense without it",
            )
        if self.reasoning:
            dropped["reasoning"] = self.reasoning
            yield notice(
                self.reasoning_lines.first[0],
                "reasoning_dropped",
                f"{self.reasoning} reasoning part(s) dropped from {self.reasoning_lines.count} line(s): {self.reasoning_lines.shown()}; each answer is the reply's text",
                "reasoning is never indexed, trained on or used as a reference answer; the text, tool calls and tool results are kept",
            )
