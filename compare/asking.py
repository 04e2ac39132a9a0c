"""Ask every side every eval question: cached answers reused, remote sides asked concurrently.

The first step of a run (ask → score → summarise → price → advise). Answers come back in item order
whatever the concurrency, so a concurrent run scores exactly like a sequential one.
"""

from __future__ import annotations

import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from answers import Answer, Answerer, Progress, Question
from compare.evalset import EvalItem
from compare.run import Scored
from compare.runs_db import RunsDatabase


def side_limit(answerer: Answerer, concurrency: int) -> int:
    """How many questions a side is asked at once: `concurrency` for a side that waits on an HTTP
    endpoint (it says so with `remote = True`), one for an in-process side (the embedder and a local
    model use every core already)."""
    return max(1, concurrency) if getattr(answerer, "remote", False) else 1


def shared_pools(answerers: Sequence[Answerer], concurrency: int) -> list[ThreadPoolExecutor]:
    """One pool per side, except that sides waiting on the same endpoint (`endpoint`, e.g. base +
    RAG, tuned and tuned + RAG on one local server) share one: `concurrency` is what an endpoint
    is asked at once, so three sides do not triple a server's queue."""
    by_endpoint: dict[str, ThreadPoolExecutor] = {}
    pools = []
    for answerer in answerers:
        endpoint = getattr(answerer, "endpoint", None)
        if endpoint is None or not getattr(answerer, "remote", False):
            pools.append(ThreadPoolExecutor(side_limit(answerer, concurrency)))
            continue
        if endpoint not in by_endpoint:
            by_endpoint[endpoint] = ThreadPoolExecutor(side_limit(answerer, concurrency))
        pools.append(by_endpoint[endpoint])
    return pools


def ask_all(
    items: Sequence[EvalItem],
    answerers: Sequence[Answerer],
    *,
    configurations: Mapping[str, str] | None = None,
    cache: RunsDatabase | None = None,
    concurrency: int = 1,
    progress: Progress | None = None,
) -> list[Scored]:
    """Every side's answer to every item, in (side, item) order; the sides are asked side by side.

    Progress is reported from the calling thread only (a UI may draw only from there): answered,
    failed and still waiting.
    """
    configurations = configurations or {}
    total = len(items) * len(answerers)
    finished: queue.Queue[Scored] = queue.Queue()
    pools = shared_pools(answerers, concurrency)
    try:
        # item by item across the sides on a shared pool, so every side's progress moves at once
        futures: list[list[Future[Scored]]] = [[] for _ in answerers]
        for item in items:
            for n, (side, pool) in enumerate(zip(answerers, pools, strict=True)):
                config = configurations.get(side.name, side.name)
                futures[n].append(pool.submit(_ask, side, item, config, cache, finished))
        answered = failed = 0
        for done in range(1, total + 1):
            if progress:
                progress(done - 1, total, _tally(answered, failed, total))
            scored = finished.get()
            answered, failed = answered + scored.answer.ok, failed + (not scored.answer.ok)
        if progress:
            progress(total, total, _tally(answered, failed, total))
        return [f.result() for side in futures for f in side]
    finally:
        for pool in {id(p): p for p in pools}.values():
            pool.shutdown(wait=True)


def _tally(answered: int, failed: int, total: int) -> str:
    return f"answered {answered} · failed {failed} · waiting {total - answered - failed}"


def _ask(
    answerer: Answerer,
    item: EvalItem,
    config: str,
    cache: RunsDatabase | None,
    finished: queue.Queue[Scored],
) -> Scored:
    question = item.question_for_sides()
    cached = False
    try:
        answer = cache.cached(config, question) if cache is not None else None
        cached = answer is not None
        if answer is None:
            answer = ask_one(answerer, question)
            if cache is not None:
                cache.remember(config, question, answer)
    except Exception as err:  # the cache failed: the run goes on, this answer says why
        answer = Answer.failed(answerer.name, err)
    scored = Scored(item_id=item.id, answerer=answerer.name, answer=answer, cached=cached)
    finished.put(scored)
    return scored


def ask_one(answerer: Answerer, question: Question) -> Answer:
    """One side's answer; a side that raises despite its contract still yields an answer."""
    try:
        return answerer.answer(question)
    except Exception as err:  # one side's bug must not take the run or the other sides down
        return Answer.failed(answerer.name, err)
