"""Cheap offline variants of questions and passages, so a fact is seen in more than one setting.

A fine-tuned model learns a fact far better when it meets it in several wordings (Ovadia et al.
2023). No model is needed here: question templates reframe a question around its unchanged
wording; a passage is reordered, framed sentence by sentence as statements, or split into shorter
passages. The words of each fact stay the same — this varies where and how a fact is framed, not
its wording; an endpoint that rewrites (tuning.rewrite) gives true paraphrases.

>>> paraphrases("What is the price of the Atlas kettle?", 2)
['Could you tell me what is the price of the Atlas kettle?', 'Question: What is the price of the Atlas kettle? Answer briefly.']
"""

from __future__ import annotations

import random
import re

CYRILLIC = re.compile("[А-Яа-яЁё]")

EN_TEMPLATES = (
    "Could you tell me {lower}",
    "Question: {q} Answer briefly.",
    "I'd like to know: {q}",
    "Quick one — {lower}",
    "Please answer: {q}",
    "{q} Thanks!",
)
# statement frames for a passage's sentences: none changes the sentence's own case or words
EN_STATEMENTS = ("Fact: {s}", "Note: {s}", "From the records: {s}", "It is recorded: {s}")
RU_STATEMENTS = ("Факт: {s}", "Примечание: {s}", "Из записей: {s}", "Зафиксировано: {s}")
# a sentence ends at . ! ? or … followed by space and an upper-case letter, digit or quote
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"«(\[]?[A-ZА-ЯЁ0-9])")
RU_TEMPLATES = (
    "Подскажите, пожалуйста, {lower}",
    "Вопрос: {q} Ответьте кратко.",
    "Хочу узнать: {q}",
    "Скажите, {lower}",
    "Ответьте, пожалуйста: {q}",
    "{q} Спасибо!",
)


def is_russian(text: str) -> bool:
    """True when the text is written mostly in Cyrillic."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(CYRILLIC.match(c)) for c in letters) > len(letters) / 2


def paraphrases(question: str, count: int, seed: int = 0) -> list[str]:
    """Up to `count` rephrasings of `question`, distinct from it and each other; `seed` rotates
    which templates are used so different records get different framings."""
    q = question.strip()
    if not q or count <= 0:
        return []
    templates = RU_TEMPLATES if is_russian(q) else EN_TEMPLATES
    lower = q[0].lower() + q[1:]
    out: list[str] = []
    for i in range(len(templates)):
        text = templates[(seed + i) % len(templates)].format(q=q, lower=lower)
        if text != q and text not in out:
            out.append(text)
        if len(out) == count:
            break
    return out


def split_sentences(text: str) -> list[str]:
    """The passage's sentences, in order.

    >>> split_sentences("Pier 7 opened in 1998. Ferries leave hourly! Why? Tides.")
    ['Pier 7 opened in 1998.', 'Ferries leave hourly!', 'Why?', 'Tides.']
    """
    return [s.strip() for s in SENTENCE_END.split(text.strip()) if s.strip()]


def document_variants(text: str, count: int, seed: int = 0) -> list[str]:
    """Up to `count` offline variants of a passage, each made by the next of three methods:
    its sentences in another order; each sentence framed as a statement ("Fact: …"); the
    passage split into passages of two sentences (this variant adds one text per piece).
    Variants that would repeat the passage or an earlier variant are skipped.

    >>> document_variants("Pier 7 opened in 1998. Ferries leave hourly. Tides vary.", 3)
    ['Tides vary. Pier 7 opened in 1998. Ferries leave hourly.', 'Fact: Pier 7 opened in 1998. Note: Ferries leave hourly. From the records: Tides vary.', 'Pier 7 opened in 1998. Ferries leave hourly.', 'Tides vary.']
    """
    sentences = split_sentences(text)
    frames = RU_STATEMENTS if is_russian(text) else EN_STATEMENTS
    rng = random.Random(seed)
    seen = {" ".join(sentences)}
    out: list[str] = []
    made = 0
    for attempt in range(count * 4):  # a one-sentence passage has fewer distinct variants
        if made == count:
            break
        method = attempt % 3
        if method == 0:  # first a rotation (the last sentence first), later seeded shuffles
            order = (
                sentences[-1:] + sentences[:-1]
                if attempt == 0
                else rng.sample(sentences, len(sentences))
            )
            pieces = [" ".join(order)]
        elif method == 1:
            shift = attempt // 3
            pieces = [
                " ".join(
                    frames[(i + shift) % len(frames)].format(s=x) for i, x in enumerate(sentences)
                )
            ]
        else:
            pieces = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
        fresh = [p for p in pieces if p not in seen]
        if len(pieces) > 1 and len(fresh) < len(pieces):
            continue
        if not fresh:
            continue
        seen.update(fresh)
        out.extend(fresh)
        made += 1
    return out
