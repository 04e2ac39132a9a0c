"""RAFT training data from the corpus and its index (Zhang et al. 2024, "RAFT: Adapting Language
Model to Domain Specific RAG"): each question in the prompt shape a model answers from passages
with (`answers.prompts.passages_messages`), with the passage that states its answer (the oracle)
in a share P of the examples and k hard distractors — the index's nearest passages that are not
the oracle — always; the reply quotes the oracle, then states the answer (`answers.quoting`).

The split is by fact: every fact an eval file asks about is held out, from the questions and from
the distractors alike, so no eval question's passage is trained on.

python -m rag.raft --corpus data/corpus --eval data/eval/demo_eval.jsonl --out work/raft
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from answers import SourceHit
from answers.metrics import normalize
from answers.prompts import passages_messages
from answers.quoting import QUOTE_STYLES, QuoteStyle, quoted_reply
from corpus import Format, Message, Record, SourceRef, content_hash
from corpus.limits import DEFAULT_PLATFORM, LIMITS
from corpus.offline import use_offline_defaults
from corpus.report import DEFAULT_EPOCHS, render_summary
from rag.hits import Hit
from rag.raft_items import Asked, Item, asked_items, facts_of_records, record_items

if TYPE_CHECKING:
    from rag.index import RagIndex
    from rag.settings import RagSettings

SEARCH_MAX = 100  # hits one search may return (RagSettings.k's ceiling)


class RaftSettings(BaseModel):
    """How a RAFT split is drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p: float = Field(0.8, ge=0.0, le=1.0, description="share of examples holding the oracle")
    k: int = Field(4, ge=0, le=16, description="distractor passages in every example")
    quote_style: QuoteStyle = Field(
        "cite", description='cite: [n] "quote" then Answer:; raft: ##begin_quote## … <ANSWER>:'
    )
    seed: int = Field(0, description="the same seed draws the same split")
    limit: int | None = Field(None, ge=1, description="at most this many examples, drawn seeded")


class RaftExample(BaseModel):
    """One training example and what it was drawn from."""

    record_id: str  # the corpus record whose question and answer it teaches
    fact_id: str
    question: str
    answer: str
    quote: str  # the oracle's sentence that states the answer (verbatim)
    oracle_text: str
    oracle_at: int | None  # the oracle's number among the passages; None: left out
    passages: list[str]  # record ids of the passages, in prompt order
    messages: list[dict[str, str]]  # system (instructions and passages), user, assistant


class RaftSplit(BaseModel):
    """A RAFT training split, the facts held out of it and what was left out, with why."""

    settings: RaftSettings
    examples: list[RaftExample] = Field(default_factory=list)
    held_out_facts: list[str] = Field(default_factory=list)
    eval_questions: int = 0  # eval questions whose facts were held out
    eval_unmatched: list[str] = Field(default_factory=list)  # eval lines naming no indexed record
    skipped: list[tuple[str, str]] = Field(default_factory=list)  # (record id, why)
    short_of_distractors: int = 0  # examples with fewer than k distractors (a small index)

    def records(self) -> list[Record]:
        """The examples as chat records, ready for any export target of `corpus.export`."""
        return [_as_record(e, i) for i, e in enumerate(self.examples, 1)]


def build_raft(
    records: Sequence[Record],
    index: RagIndex,
    settings: RaftSettings,
    *,
    questions: Sequence[Asked] = (),
    held_out: Sequence[Asked] = (),
) -> RaftSplit:
    """The RAFT split of the index's current question-answer versions and of `questions` (for
    document chunks), without any fact an item of `held_out` names."""
    passages = index.passages()
    facts = facts_of_records(passages)
    current = [h for h in passages if h.held_until is None]
    held = {facts[a.record_id] for a in held_out if a.record_id in facts}
    unmatched = [a.where for a in held_out if a.record_id not in facts]
    own, skipped = record_items(current, {r.id: r for r in records})
    written, skipped_asked = asked_items(questions, current, facts)
    items = _unique([i for i in [*own, *written] if i.fact_id not in held])
    rng = random.Random(settings.seed)
    if settings.limit is not None and len(items) > settings.limit:
        items = sorted(rng.sample(items, settings.limit), key=lambda i: (i.fact_id, i.question))
    with_oracle = set(rng.sample(range(len(items)), round(settings.p * len(items))))
    split = RaftSplit(
        settings=settings,
        held_out_facts=sorted(held),
        eval_questions=len(held_out) - len(unmatched),
        eval_unmatched=unmatched,
        skipped=skipped + skipped_asked,
    )
    for n, item in enumerate(items):
        distractors = hard_distractors(index, item, settings.k, held)
        split.short_of_distractors += len(distractors) < settings.k
        split.examples.append(_example(item, distractors, n in with_oracle, settings, rng))
    return split


def hard_distractors(index: RagIndex, item: Item, k: int, held: set[str]) -> list[Hit]:
    """The `k` passages retrieval ranks nearest the question that belong to neither the item's
    fact nor a held-out one (current versions only: what a model is handed at answer time)."""
    if k == 0:
        return []
    want = k + 3
    while True:
        found = index.search(item.question, min(want, SEARCH_MAX)).hits
        picked, entries = [], set()
        for hit in found:
            if hit.stale or hit.fact_id == item.fact_id or hit.fact_id in held:
                continue
            if hit.entry not in entries:
                entries.add(hit.entry)
                picked.append(hit)
        if len(picked) >= k or len(found) < want or want >= SEARCH_MAX:
            return picked[:k]
        want *= 2


def _example(
    item: Item, distractors: list[Hit], oracle: bool, s: RaftSettings, rng: random.Random
) -> RaftExample:
    shown = [*distractors, item.oracle] if oracle else list(distractors)
    rng.shuffle(shown)  # the oracle anywhere: the model must find it, not trust the first place
    sources: list[SourceHit] = [h.source() for h in shown]
    at = next((n for n, h in enumerate(shown, 1) if h is item.oracle), None)
    quote = item.quote if at is not None else None
    reply = quoted_reply(item.answer, quote, at, s.quote_style)
    messages = [*passages_messages(item.question, sources), {"role": "assistant", "content": reply}]
    return RaftExample(
        record_id=item.record_id,
        fact_id=item.fact_id,
        question=item.question,
        answer=item.answer,
        quote=item.quote,
        oracle_text=item.oracle.source().text,
        oracle_at=at,
        passages=[s.record_id for s in sources],
        messages=messages,
    )


def _unique(items: list[Item]) -> list[Item]:
    """One item per fact and wording of the question (a restatement teaches nothing new), in a
    stable order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for item in sorted(items, key=lambda i: (i.fact_id, i.question)):
        key = (item.fact_id, normalize(item.question))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _as_record(example: RaftExample, line: int) -> Record:
    turns = tuple(Message(role=m["role"], content=m["content"]) for m in example.messages)
    return Record(
        id=f"raft-{line:05d}",
        format=Format.CHAT,
        question=turns[1].content,
        answer=turns[2].content,
        system=turns[0].content,
        messages=turns,
        source=SourceRef(file="raft", line=line),
        content_hash=content_hash(turns),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag.raft", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        default=[Path(os.environ.get("RAGORTUNE_CORPUS_DIR") or "data/corpus")],
        help="JSONL files or directories (default: RAGORTUNE_CORPUS_DIR, else data/corpus)",
    )
    parser.add_argument(
        "--eval",
        type=Path,
        action="append",
        default=[],
        help="an eval file whose questions' facts are held out (repeatable)",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        action="append",
        default=[],
        help="questions written for records, document chunks above all: eval-shaped JSONL "
        "(question, reference, record_id), e.g. what compare make-eval writes (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=Path("work/raft"), help="output folder")
    parser.add_argument("--p", type=float, default=0.8, help="share of examples with the oracle")
    parser.add_argument("--k", type=int, default=4, help="distractor passages per example")
    parser.add_argument("--quote-style", choices=QUOTE_STYLES, default="cite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="at most N examples, drawn with the seed")
    parser.add_argument(
        "--to",
        default="all",
        help="targets, comma-separated (default all: openai, gemini, "
        "trl-conversational, sharegpt, alpaca)",
    )
    parser.add_argument("--platform", choices=sorted(LIMITS), default=DEFAULT_PLATFORM)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="for training tokens")
    parser.add_argument("--work", type=Path, help="index folder (default RAG_WORK_DIR)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Write a RAFT split; 0 written and accepted, 1 nothing to write or a file refused, 2 could
    not run."""
    use_offline_defaults()
    args = _parser().parse_args(argv)
    from corpus import CorpusError, current_records, load_corpus
    from rag.errors import RagError
    from rag.raft_files import parse_targets, token_summary, write_raft
    from rag.raft_items import QuestionFileError, read_asked
    from rag.settings import RagSettings

    try:
        settings = RaftSettings(
            p=args.p, k=args.k, quote_style=args.quote_style, seed=args.seed, limit=args.limit
        )
        targets = parse_targets(args.to)
        held = [a for path in args.eval for a in read_asked(path)]
        asked = [a for path in args.questions for a in read_asked(path)]
        report = load_corpus(args.corpus)
        rag = RagSettings() if args.work is None else RagSettings(work_dir=args.work)
        index = _open_index(rag, report.records)
        split = build_raft(
            current_records(report.records), index, settings, questions=asked, held_out=held
        )
    except (ValueError, QuestionFileError, CorpusError, RagError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    files = write_raft(split, args.out, targets)
    print(describe(split))
    for f in files:
        state = f"refused by the strict reader: {f.rejects[0]}" if f.rejects else "accepted"
        where = f"{f.path} ({f.lines} lines, {state})" if f.path else "nothing written"
        print(
            f"{f.target:<20} {where}"
            + (f"; {len(f.problems)} left out: {f.problems[0]}" if f.problems else "")
        )
    first = next((f for f in files if f.path is not None), None)
    if first is not None and first.path is not None:
        print(render_summary(token_summary(first.path, LIMITS[args.platform], args.epochs)))
    return 0 if split.examples and all(f.path and not f.rejects for f in files) else 1


def _open_index(settings: RagSettings, records: Sequence[Record]) -> RagIndex:
    """The index the settings name, built first when there is none."""
    from rag.build import rebuild_index
    from rag.errors import IndexNotBuiltError
    from rag.index import RagIndex

    try:
        return RagIndex.open(settings)
    except IndexNotBuiltError:
        print(f"building the index in {settings.work_dir} first", file=sys.stderr)
        rebuild_index(records, settings)
        return RagIndex.open(settings)


def describe(split: RaftSplit) -> str:
    """What a split holds, for a terminal."""
    s, n = split.settings, len(split.examples)
    with_oracle = sum(e.oracle_at is not None for e in split.examples)
    reasons: dict[str, int] = {}
    for _record, why in split.skipped:
        reasons[why] = reasons.get(why, 0) + 1
    lines = [
        f"{n} examples: the oracle in {with_oracle} (P = {s.p}), {s.k} hard distractors each"
        + (
            f" ({split.short_of_distractors} with fewer: the index is small)"
            if split.short_of_distractors
            else ""
        )
        + f"; quote style {s.quote_style}, seed {s.seed}",
        f"held out {len(split.held_out_facts)} facts asked by {split.eval_questions} eval questions"
        + (
            f"; {len(split.eval_unmatched)} eval lines name no record the index holds (or none at all)"
            if split.eval_unmatched
            else ""
        ),
    ]
    lines += [f"skipped {count}: {why}" for why, count in sorted(reasons.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
