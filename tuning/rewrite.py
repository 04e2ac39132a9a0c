"""Paraphrases of passages written by a chat endpoint: several rewrites of each document, each
in another style, every fact kept (the paraphrase setting of Ovadia et al. 2023).
"""

from __future__ import annotations

from collections.abc import Sequence

from answers import ChatModel
from corpus.record import Record
from tuning.errors import TuningError

STYLES = (
    "in different words, with the sentences in another order",
    "as a short news report",
    "as a list of short factual statements, one per line",
    "in simpler words, as if explaining it to a newcomer",
    "as questions and their answers, one pair per fact",
)
PROMPT = (
    "Rewrite the passage below {style}. Keep every fact, name, number and date exactly as "
    "given and add nothing. Write in the passage's own language. Reply with the rewritten "
    "text only.\n\nPassage:\n{text}"
)


def rewrite_messages(text: str, variant: int) -> list[dict[str, str]]:
    """The chat that asks for rewrite number `variant` (styles are taken in turn).

    >>> rewrite_messages("Pier 7 opened in 1998.", 1)[0]["content"].split(".")[0]
    'Rewrite the passage below as a short news report'
    """
    style = STYLES[variant % len(STYLES)]
    return [{"role": "user", "content": PROMPT.format(style=style, text=text.strip())}]


def rewrite_passages(
    records: Sequence[Record], count: int, chat: ChatModel
) -> dict[str, list[str]]:
    """`count` rewrites of every text record, by record id; an empty or unchanged rewrite is
    dropped; a failed call raises TuningError naming the record."""
    out: dict[str, list[str]] = {}
    for record in records:
        if not record.text or record.chat():
            continue
        rewrites: list[str] = []
        for variant in range(count):
            try:
                text, _usage = chat.complete(rewrite_messages(record.text, variant))
            except Exception as err:
                raise TuningError(
                    f"{record.source.file}:{record.source.line}: rewriting record {record.id} "
                    f"failed: {err} — check the endpoint, or unset TUNING_PARAPHRASE_MODEL to "
                    "use the offline variants"
                ) from err
            text = text.strip()
            if text and text != record.text.strip() and text not in rewrites:
                rewrites.append(text)
        out[record.id] = rewrites
    return out
