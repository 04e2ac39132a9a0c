"""What a run will cost before anything is asked: questions × sides × expected tokens × prices.

Each side is priced by its own price model (`compare.cost.side_models`): a side that writes with
an LLM sends the question, and a side that also retrieves sends the passages a writer is given
(`compare.with_passages.PASSAGES`) of the corpus's mean
passage length in the one prompt both retrieving writers use (`answers.prompts`); an extractive
side pays only for embedding the query. Answers are as long as the references, or as the side's
measured mean in the run history. Every expected answer is priced by the very function that
prices a real one (`compare.cost.answer_cost`), and answers already in the cache cost nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

from answers import Answer, SourceHit, Usage
from answers.choices import lettered_prompt
from answers.prices import PriceBook
from answers.prompts import passages_messages
from compare.cost import CostSettings, SideCostModel, answer_cost, side_models
from compare.evalset import EvalItem
from compare.runs_db import RunsDatabase
from compare.with_passages import PASSAGES
from corpus.report import record_text
from corpus.tokens import count_tokens

if TYPE_CHECKING:
    from compare.workbench import Workbench

# OpenAI's chat format: each message costs its text plus about 3 tokens, and the reply is primed
# with about 3 more (the counting rule of OpenAI's token-counting cookbook)
PER_MESSAGE, PRIMING = 3, 3
# a local model is billed by machine time. Against `tuning.serve` (SmolLM2-135M + the demo
# adapter, one request at a time, two busy CPU cores) a request took 0.19-0.37 s before any
# token, read 205-345 prompt tokens/s and wrote 16-21 tokens/s (MODELS.md: ~15 greedy)
LOCAL_REQUEST_S = 0.25
LOCAL_PREFILL_PER_S = 250.0
LOCAL_TOKENS_PER_S = 15.0
PLACEHOLDER = SourceHit(record_id="r-0000000000", score=1.0, text="")


class Measured(BaseModel):
    """A side's means in its newest run: answer length and seconds per answer."""

    run_id: str
    completion_tokens: float
    seconds: float


class SideEstimate(BaseModel):
    """One side's expected cost for the questions asked."""

    side: str
    generator: str | None
    retrieves: bool
    answers: int
    cached: int  # already in the answer cache: asked again for free
    prompt_tokens: float  # expected means per answer
    completion_tokens: float
    embedding_tokens: float
    total_usd: float  # the answers still to ask
    basis: str  # where the answer length came from

    @property
    def per_answer_usd(self) -> float:
        """Mean expected cost of one answer asked."""
        asked = self.answers - self.cached
        return self.total_usd / asked if asked else 0.0


class RunEstimate(BaseModel):
    """Every side's expected cost, their total, and what one re-tune would cost."""

    questions: int
    k: int
    passage_tokens: float
    sides: list[SideEstimate]
    retune_usd: float

    @property
    def total_usd(self) -> float:
        """Expected cost of the whole run."""
        return sum(s.total_usd for s in self.sides)

    def line(self) -> str:
        """One line: the total, per side, cached answers and a re-tune."""
        per = ", ".join(f"{s.side} ${s.total_usd:.4f}" for s in self.sides)
        cached = sum(s.cached for s in self.sides)
        total = sum(s.answers for s in self.sides)
        return (
            f"about ${self.total_usd:.4f} for {self.questions} questions × {len(self.sides)} "
            f"sides ({per}); {cached} of {total} answers are cached and cost nothing; "
            f"a re-tune would cost ${self.retune_usd:.4f}"
        )

    def table(self) -> str:
        """A table per side for a terminal."""
        head = f"{'side':<16}{'answers':>8}{'cached':>8}{'prompt':>9}{'answer':>8}{'embed':>7}"
        rows = [head + f"{'USD':>11}  answer length from"]
        for s in self.sides:
            rows.append(
                f"{s.side:<16}{s.answers:>8}{s.cached:>8}{s.prompt_tokens:>9.0f}"
                f"{s.completion_tokens:>8.0f}{s.embedding_tokens:>7.0f}{s.total_usd:>11.6f}  "
                f"{s.basis}"
            )
        rows.append(f"{'total':<56}{self.total_usd:>11.6f}")
        return "\n".join(rows)


def estimate_run(
    items: Sequence[EvalItem],
    models: Mapping[str, SideCostModel],
    book: PriceBook,
    cost: CostSettings,
    *,
    k: int,
    passage_tokens: float,
    cached: Mapping[str, Collection[str]] | None = None,
    measured: Mapping[str, Measured] | None = None,
) -> RunEstimate:
    """The expected cost of asking `items` of every side in `models` (in that order); `cached`
    holds, per side, the ids of the items whose answers are in the cache."""
    cached, measured = cached or {}, measured or {}
    questions = [_question_text(i) for i in items]
    query_tokens = count_tokens(questions) if questions else []
    reference_tokens = count_tokens([i.reference for i in items]) if items else []
    sides = []
    for name, model in models.items():
        retrieves, seen = model.embedder is not None, measured.get(name)
        prompts = [prompt_tokens(q, retrieves, k, passage_tokens) for q in questions]
        lengths = [
            1.0 if i.is_multiple_choice else (seen.completion_tokens if seen else float(n))
            for i, n in zip(items, reference_tokens, strict=True)
        ]
        done = set(cached.get(name, ())) & {i.id for i in items}
        total = sum(
            _answer_usd(name, model, book, cost, seen, prompt, length, query)
            for item, prompt, length, query in zip(
                items, prompts, lengths, query_tokens, strict=True
            )
            if item.id not in done
        )
        sides.append(
            SideEstimate(
                side=name,
                generator=model.generator,
                retrieves=retrieves,
                answers=len(items),
                cached=len(done),
                prompt_tokens=_mean(prompts) if model.generator else 0.0,
                completion_tokens=_mean(lengths) if model.generator else 0.0,
                embedding_tokens=_mean([float(q) for q in query_tokens]) if retrieves else 0.0,
                total_usd=total,
                basis=f"measured in run {seen.run_id}" if seen else "reference lengths",
            )
        )
    retune = max((m.tuning_run_usd for m in models.values()), default=0.0)
    return RunEstimate(
        questions=len(items), k=k, passage_tokens=passage_tokens, sides=sides, retune_usd=retune
    )


def prompt_tokens(question: str, retrieves: bool, k: int, passage_tokens: float) -> float:
    """Expected prompt tokens of one question: the chat messages a side sends, with `k` passages
    of `passage_tokens` each for a retrieving side."""
    if retrieves:
        messages = passages_messages(question, [PLACEHOLDER] * k)
        extra = k * passage_tokens
    else:
        messages, extra = [{"role": "user", "content": question}], 0.0
    texts = [m["content"] for m in messages]
    return sum(count_tokens(texts)) + PER_MESSAGE * len(messages) + PRIMING + extra


def _answer_usd(
    side: str,
    model: SideCostModel,
    book: PriceBook,
    cost: CostSettings,
    seen: Measured | None,
    prompt: float,
    length: float,
    query: int,
) -> float:
    """One expected answer priced as a real one would be (`answer_cost`)."""
    writes, retrieves = model.generator is not None, model.embedder is not None
    usage = Usage(
        prompt_tokens=round(prompt) if writes else 0,
        completion_tokens=round(length) if writes else 0,
        embedding_tokens=query if retrieves else 0,
    )
    embed_s = cost.embed_seconds_per_query if retrieves else 0.0
    latency = seen.seconds if seen else _local_seconds(usage) + embed_s
    answer = Answer(answerer=side, usage=usage, latency_s=latency)
    return answer_cost(answer, model, book, cost.embed_seconds_per_query)


def _question_text(item: EvalItem) -> str:
    """The question as a writer sees it: a multiple-choice item carries its lettered choices."""
    if item.is_multiple_choice and item.choices:
        return lettered_prompt(item.question, item.choices)
    return item.question


def _local_seconds(usage: Usage) -> float:
    """Machine time of a local model's answer: the request, reading the prompt, writing the answer
    (nothing for a side that writes nothing)."""
    if not usage.prompt_tokens and not usage.completion_tokens:
        return 0.0
    return (
        LOCAL_REQUEST_S
        + usage.prompt_tokens / LOCAL_PREFILL_PER_S
        + usage.completion_tokens / LOCAL_TOKENS_PER_S
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def estimate_for(
    wb: Workbench, items: Sequence[EvalItem], names: Sequence[str], cost: CostSettings
) -> RunEstimate:
    """The estimate for a configured workbench: its corpus, price book, cache and history."""
    records = wb.records()
    book = wb.price_book()
    priced = side_models(cost, wb.knowledge(records).fixed, book)
    models = {n: priced.get(n) or SideCostModel(side=n, generator=cost.tuned_model) for n in names}
    size = wb.settings.rag.chunk_size
    lengths = count_tokens([record_text(r) for r in records]) if records else []
    passage = _mean([float(min(n, size)) for n in lengths])
    return estimate_run(
        items,
        models,
        book,
        cost,
        k=PASSAGES,
        passage_tokens=passage,
        cached=cached_items(wb, items, names),
        measured=measured_sides(wb.db(), names),
    )


def cached_items(
    wb: Workbench, items: Sequence[EvalItem], names: Sequence[str]
) -> dict[str, set[str]]:
    """Per side, the items whose answers the cache already holds (they are not asked again)."""
    keys, db = wb.cache_keys(names), wb.db()
    return {
        name: {i.id for i in items if db.cached(keys[name], i.question_for_sides()) is not None}
        for name in names
    }


def measured_sides(db: RunsDatabase, names: Sequence[str]) -> dict[str, Measured]:
    """Each side's mean answer length and seconds in the newest run that asked it."""
    found: dict[str, Measured] = {}
    for run in reversed(db.runs()):
        wanted = [n for n in names if n in run.answerers and n not in found]
        if not wanted:
            continue
        rows = db.results(run.run_id)
        for name in wanted:
            ok = [r.answer for r in rows if r.answerer == name and r.answer.ok]
            if ok:
                found[name] = Measured(
                    run_id=run.run_id,
                    completion_tokens=_mean([float(a.usage.completion_tokens) for a in ok]),
                    seconds=_mean([a.latency_s for a in ok]),
                )
    return found
