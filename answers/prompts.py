"""The one prompt for answering from retrieved passages.

Generative RAG and tuned + RAG both use it, so comparing them compares the models, not two
wordings of the instructions.
"""

from __future__ import annotations

from collections.abc import Sequence

from answers.answer import SourceHit

PASSAGES_SYSTEM = (
    "Answer the question briefly, using the numbered sources below. If sources disagree, prefer "
    "the newest one. If the sources do not contain the answer, say that you do not know."
)


def passages_messages(question: str, sources: Sequence[SourceHit]) -> list[dict[str, str]]:
    """Chat messages that ask `question` over `sources`, each numbered with its record id and date.

    Example: one source [1] (faq-7, as of 2026-07-01) "Pro costs 12 EUR." and the question
    "What does Pro cost?" -> a system turn with the instructions and the source, then the question.
    """
    lines = []
    for i, source in enumerate(sources, 1):
        dated = f", as of {source.as_of.isoformat()}" if source.as_of else ""
        lines.append(f"[{i}] ({source.record_id}{dated}) {source.text}")
    passages = "\n\n".join(lines) or "(no sources found)"
    return [
        {"role": "system", "content": f"{PASSAGES_SYSTEM}\n\nSources:\n{passages}"},
        {"role": "user", "content": question},
    ]
