"""Cheap offline paraphrases of a question, so a fact is seen in more than one phrasing.

A fine-tuned model learns a fact far better when it meets it in several wordings (Ovadia et al.
2023). These templates only reframe the question around its unchanged wording — no model is
needed — in English or Russian, following the question's own script.

Example: paraphrases("What is the price of the Atlas kettle?", 2)
    -> ["Could you tell me what is the price of the Atlas kettle?",
        "Question: What is the price of the Atlas kettle? Answer briefly."]
"""

from __future__ import annotations

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
