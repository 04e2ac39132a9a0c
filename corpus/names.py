"""File and batch names as tables and terminals show them: one line, nothing hidden.

A file name may hold a newline, a tab, an escape sequence, a right-to-left override or (on a
file system whose names are not UTF-8) undecodable bytes, which Python reads as lone
surrogates; printed raw, these break a table's rows or make the terminal refuse the line.
`printable` writes each as a visible escape; the name itself is kept as it is everywhere else.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides and isolates,
# and lone surrogates
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(name: str) -> str:
    """The name with every control, separator, bidi and surrogate character escaped.

    >>> printable("2026-03-01\\nfaq.jsonl"), printable("tab\\there"), printable("ok.jsonl")
    ('2026-03-01\\\\nfaq.jsonl', 'tab\\\\there', 'ok.jsonl')
    >>> printable("x\\u202egnp.jsonl"), printable("bad\\udcff.jsonl")
    ('x\\\\u202egnp.jsonl', 'bad\\\\udcff.jsonl')
    """
    if not HIDDEN.search(name):
        return name
    return HIDDEN.sub(lambda m: SHORT.get(m[0]) or _escape(ord(m[0])), name)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
