"""The reply a model tuned on retrieved passages (RAFT) is taught: a quote from the passage the
answer rests on, then the answer — and how the stated answer is read back from such a reply.

Training replies are written here and scored replies are read here, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Literal

QuoteStyle = Literal["cite", "raft"]
QUOTE_STYLES: tuple[QuoteStyle, ...] = ("cite", "raft")
NO_SOURCE = "No source states this."  # the reply's first line when no passage holds the answer
# the line that states the answer: ours ("Answer:") and Zhang et al.'s ("<ANSWER>:")
_STATED = re.compile(r"^(?:Answer|<ANSWER>):[ \t]*", re.MULTILINE)


def quoted_reply(answer: str, quote: str | None, source: int | None, style: QuoteStyle) -> str:
    """The reply a training example teaches: the quote (from source number `source`), then the
    answer; without a quote, what the model should say when no passage holds the answer.

    >>> print(quoted_reply("12 EUR.", "Pro costs 12 EUR.", 2, "cite"))
    [2] "Pro costs 12 EUR."
    Answer: 12 EUR.
    >>> print(quoted_reply("12 EUR.", "Pro costs 12 EUR.", 2, "raft"))
    ##begin_quote##Pro costs 12 EUR.##end_quote##
    <ANSWER>: 12 EUR.
    >>> print(quoted_reply("12 EUR.", None, None, "cite"))
    No source states this.
    Answer: 12 EUR.
    """
    marker = "<ANSWER>:" if style == "raft" else "Answer:"
    if quote is None:
        head = NO_SOURCE
    elif style == "raft":
        head = f"##begin_quote##{quote}##end_quote##"
    else:
        head = f'[{source}] "{quote}"'
    return f"{head}\n{marker} {answer.strip()}"


def stated_answer(reply: str) -> str:
    """The answer a reply states: what follows its last `Answer:` (or `<ANSWER>:`) line start,
    else the whole reply (a model not tuned this way answers directly).

    >>> stated_answer('[1] "Pro costs 12 EUR."\\nAnswer: Pro costs 12 EUR.')
    'Pro costs 12 EUR.'
    >>> stated_answer("Pro costs 12 EUR.")
    'Pro costs 12 EUR.'
    >>> stated_answer("##begin_quote##x##end_quote##\\n<ANSWER>: x")
    'x'
    """
    found = list(_STATED.finditer(reply))
    if not found:
        return reply
    stated = reply[found[-1].end() :].strip()
    return stated or reply
