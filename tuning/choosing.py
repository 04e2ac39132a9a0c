"""Multiple choice by log-likelihood, the lm-eval-harness way: each choice is scored as the
continuation of the question, and the choice whose tokens are likeliest in sum wins.

The question is put as `Question: …\\nAnswer:` and each choice follows after a space. The sum
of the continuation's token log-probabilities decides; the per-character mean (lm-eval's
`acc_norm`) is reported beside it, never used to pick. A tie goes to the first of the tied choices.
"""

from __future__ import annotations

from collections.abc import Sequence

from answers.choices import LETTERS

CONTEXT = "Question: {question}\nAnswer:"


def loglik_texts(question: str, choices: Sequence[str]) -> tuple[str, list[str]]:
    """The context and, per choice, the whole text to score (context, a space, the choice).

    >>> loglik_texts("Capital of Peru?", ["Lima", "Quito"])
    ('Question: Capital of Peru?\\nAnswer:', ['Question: Capital of Peru?\\nAnswer: Lima', 'Question: Capital of Peru?\\nAnswer: Quito'])
    """
    context = CONTEXT.format(question=question.strip())
    return context, [f"{context} {choice.strip()}" for choice in choices]


def continuation_logprob(
    text_offset: Sequence[int],
    token_logprobs: Sequence[float | None],
    context_chars: int,
    text_chars: int,
) -> float:
    """Sum of the log-probabilities of the tokens that reach past the first `context_chars`
    characters of a `text_chars`-long text (a token ends where the next one starts).

    >>> continuation_logprob([0, 8, 9, 16], [None, -0.5, -2.0, -1.25], 9, 20)
    -3.25
    """
    ends = [*text_offset[1:], text_chars]
    total = 0.0
    for end, value in zip(ends, token_logprobs, strict=True):
        if end > context_chars and value is not None:
            total += value
    return total


def first_best(scores: Sequence[float]) -> int:
    """Index of the highest score; a tie goes to the first of the tied.

    >>> first_best([-3.0, -1.5, -1.5]), first_best([-2.0])
    (1, 0)
    """
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def loglik_summary(pick: int, sums: Sequence[float], choices: Sequence[str]) -> str:
    """What the answer shows: the letter picked, the method, each choice's sum and per-char mean.

    >>> loglik_summary(1, [-4.0, -2.0], ["Lima", "Quito"])
    'B (log-likelihood; sum A -4.00, B -2.00; per char A -0.800, B -0.333)'
    """
    sums_text = ", ".join(f"{LETTERS[i]} {s:.2f}" for i, s in enumerate(sums))
    # per character of the continuation, its leading space included, as lm-eval's acc_norm
    means = ", ".join(
        f"{LETTERS[i]} {s / (len(c.strip()) + 1):.3f}"
        for i, (s, c) in enumerate(zip(sums, choices, strict=True))
    )
    return f"{LETTERS[pick]} (log-likelihood; sum {sums_text}; per char {means})"
