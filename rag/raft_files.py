"""A RAFT split written to disk: one JSONL file per export target that can hold it, the split
itself (`raft.json`, what local training reads), each file read back in strict mode, and the token
counts against a platform's per-example limit, as the corpus report gives them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from corpus import StrictModeError, load_corpus
from corpus.export import ALIASES, TARGETS, write_export
from corpus.limits import TokenLimit
from corpus.report import CorpusSummary, summarise
from rag.raft import RaftSplit

SPLIT_FILE = "raft.json"  # the split: settings, every example with its record id and messages
# the targets a chat with a system turn fits: TRL prompt-completion strings cannot carry the
# system turn that holds the passages, and plain text is no training format for an exchange
RAFT_TARGETS = ("openai", "gemini", "trl-conversational", "sharegpt", "alpaca")


class WrittenFile(BaseModel):
    """One target's file: how many lines it holds and what it could not hold."""

    target: str
    path: Path | None = None  # None: nothing could be written for this target
    lines: int = 0
    problems: list[str] = Field(default_factory=list)  # examples left out, with why
    rejects: list[str] = Field(default_factory=list)  # lines the strict reader refused


def file_name(target: str) -> str:
    """The file a target's lines go to.

    >>> file_name("openai")
    'raft-openai.jsonl'
    """
    return f"raft-{target}.jsonl"


def parse_targets(text: str) -> list[str]:
    """Export targets from a comma-separated list ('all' = every target RAFT fits), aliases read.

    >>> parse_targets("vertex, openai"), parse_targets("all")[:2]
    (['gemini', 'openai'], ['openai', 'gemini'])
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(RAFT_TARGETS)
    out = [ALIASES.get(n, n) for n in names]
    unknown = [n for n in out if n not in TARGETS]
    if unknown:
        raise ValueError(
            f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}"
        )
    return out


def write_raft(split: RaftSplit, out: Path, targets: Sequence[str]) -> list[WrittenFile]:
    """Write `raft.json` and a file per target into `out`, each checked by the strict reader."""
    out.mkdir(parents=True, exist_ok=True)
    (out / SPLIT_FILE).write_text(split.model_dump_json(indent=1) + "\n", encoding="utf-8")
    records = split.records()
    written = []
    for target in targets:
        path = out / file_name(target)
        result = write_export(records, target, path)
        done = WrittenFile(
            target=result.target,
            lines=len(result.lines),
            problems=[str(p) for p in result.problems],
        )
        if result.lines:
            done.path, done.rejects = path, strict_rejects(path)
        else:
            path.unlink(missing_ok=True)
        written.append(done)
    return written


def strict_rejects(path: Path) -> list[str]:
    """What `python -m corpus validate --strict` refuses in a file (empty: it accepts it)."""
    try:
        load_corpus([path], strict=True)
    except StrictModeError as err:
        return [f"{r.file}:{r.line}: {r.code}: {r.message}" for r in err.report.rejects]
    return []


def token_summary(path: Path, limit: TokenLimit, epochs: int) -> CorpusSummary:
    """Token counts of a written file and its examples over a platform's limit."""
    return summarise(load_corpus([path]), limit=limit, epochs=epochs)
