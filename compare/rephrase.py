"""Reword a corpus question so an eval does not ask the training text back, and check the result.

Two ways: through a chat model (any OpenAI-compatible endpoint) when one is configured, or offline
by rules: the question's frame is rewritten ("What is X?" -> "Tell me X.", "Сколько стоит X?" ->
"Какова цена X?") and common words are swapped for synonyms. The offline way keeps the question's
subject words (names, products, figures) — they are what a user asks about — so its questions stay
close to the record; `overlap` measures how close, and the check refuses a copy or a leaked answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from answers import ChatModel
from answers.metrics import contains_reference, numbers_in, token_f1, tokens

CYRILLIC = re.compile("[А-Яа-яЁё]")
REWRITE_PROMPT = (
    "Rewrite the question below with different words and the same meaning, in the same language. "
    "Do not answer it. Reply with the rewritten question only.\n\nQuestion: {question}"
)
# (pattern, replacement) over the start of a question, tried in order; the first match wins
EN_FRAMES: Sequence[tuple[str, str]] = (
    (r"^what is the (.+?)\?*$", r"Tell me the \1."),
    (r"^what are the (.+?)\?*$", r"List the \1."),
    (r"^what is (.+?)\?*$", r"Tell me what \1 is."),
    (r"^what are (.+?)\?*$", r"Tell me what \1 are."),
    (r"^how many (.+?)\?*$", r"What number of \1?"),
    (r"^how much (.+?)\?*$", r"What amount of \1?"),
    (r"^how long (.+?)\?*$", r"For what length of time \1?"),
    (r"^when (.+?)\?*$", r"At what time \1?"),
    (r"^where (.+?)\?*$", r"In which place \1?"),
    (r"^who (.+?)\?*$", r"Which person \1?"),
    (r"^which (.+?)\?*$", r"Name the \1."),
    (
        r"^(is|are|does|do|can|will|was|were|did|has|have) (.+?)\?*$",
        r"I'd like to know whether \2.",
    ),
    (r"^(.+?)\?*$", r"Please tell me: \1?"),
)
RU_FRAMES: Sequence[tuple[str, str]] = (
    (r"^сколько стоит (.+?)\?*$", r"Какова цена \1?"),
    (r"^сколько (.+?)\?*$", r"Какое количество \1?"),
    (r"^какой (.+?)\?*$", r"Назовите, какой \1."),
    (r"^какая (.+?)\?*$", r"Назовите, какая \1."),
    (r"^какое (.+?)\?*$", r"Назовите, какое \1."),
    (r"^какие (.+?)\?*$", r"Перечислите, какие \1."),
    (r"^когда (.+?)\?*$", r"В какой момент \1?"),
    (r"^где (.+?)\?*$", r"В каком месте \1?"),
    (r"^кто (.+?)\?*$", r"Какой человек \1?"),
    (r"^(.+?)\?*$", r"Подскажите: \1?"),
)
SYNONYMS = {
    "price": "cost", "cost": "price", "costs": "is priced at", "monthly": "per-month",
    "fee": "charge", "limit": "cap", "maximum": "upper limit", "include": "come with",
    "includes": "comes with", "support": "help", "customers": "clients", "users": "people",
    "company": "firm", "allowed": "permitted", "available": "offered", "largest": "biggest",
    "цена": "стоимость", "стоимость": "цена", "ежемесячная": "месячная", "лимит": "предел",
    "максимальный": "наибольший", "поддержка": "служба помощи", "клиенты": "заказчики",
    "компания": "фирма", "доступен": "предоставляется", "доступна": "предоставляется",
}  # fmt: skip


def is_russian(text: str) -> bool:
    """True when most letters are Cyrillic.

    >>> is_russian("Сколько стоит Pro?"), is_russian("How much is Pro?")
    (True, False)
    """
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(CYRILLIC.match(c)) for c in letters) > len(letters) / 2


def reword_offline(question: str) -> str:
    """The question with its frame rewritten and common words swapped for synonyms.

    >>> reword_offline("What is the monthly price of the Pro plan?")
    'Tell me the per-month cost of the Pro plan.'
    >>> reword_offline("Сколько стоит тариф Pro?")
    'Какова цена тариф Pro?'
    """
    text = re.sub(r"\b\w+\b", _swap, " ".join(question.strip().split()))
    for pattern, replacement in RU_FRAMES if is_russian(text) else EN_FRAMES:
        new, count = re.subn(pattern, replacement, text, count=1, flags=re.IGNORECASE)
        if count:
            return new[0].upper() + new[1:]
    return text


def _swap(match: re.Match[str]) -> str:
    word = match.group(0)
    other = SYNONYMS.get(word.lower())
    if other is None:
        return word
    return other[0].upper() + other[1:] if word[0].isupper() else other


def reword_with_model(question: str, chat: ChatModel) -> str:
    """The question rewritten by a chat model (raises when the endpoint fails)."""
    reply, _ = chat.complete(
        [{"role": "user", "content": REWRITE_PROMPT.format(question=question)}]
    )
    return reply.strip().strip('"').splitlines()[0].strip() if reply.strip() else ""


def overlap(original: str, reworded: str) -> float:
    """How much of the original wording the reworded question keeps (token F1, 1.0 = a copy).

    >>> overlap("What is the price of Pro?", "What is the price of Pro?")
    1.0
    """
    return token_f1(reworded, original)


def problem(original: str, reworded: str, answer: str) -> str | None:
    """Why a reworded question cannot be used: a copy of the original, or it gives the answer away
    (the answer's words or figures that the original question did not already state).

    >>> problem("How many seats?", "How many seats?", "12 seats")
    'a copy of the record question'
    >>> problem("How many seats?", "Are there 12 seats?", "12 seats")
    'states the answer'
    >>> problem("How many seats?", "What number of seats?", "12 seats") is None
    True
    """
    if not tokens(reworded):
        return "empty"
    if tokens(reworded) == tokens(original):
        return "a copy of the record question"
    leaked = numbers_in(answer) - numbers_in(original)
    if leaked & numbers_in(reworded):
        return "states the answer"
    if (
        tokens(answer)
        and not contains_reference(original, answer)
        and contains_reference(reworded, answer)
    ):
        return "states the answer"
    return None
