"""Rebuild the retrieval index from a corpus: only new and changed records are embedded.

Usage: python -m rag.rebuild [--corpus DIR] [--full] [--chroma-url URL] [--work DIR] [--strict]
Exit codes: 0 ok, 1 lines rejected in strict mode (the index is left as it was), 2 failure.
The corpus is streamed (validated, then read for ids and hashes, then for what is embedded):
memory holds ids and hashes, never every record's text.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.offline import use_offline_defaults

if TYPE_CHECKING:
    from corpus import Record
    from rag.manifest import RebuildSummary
    from rag.settings import RagSettings

MAX_REJECTS_SHOWN = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        default=[Path(os.environ.get("RAGORTUNE_CORPUS_DIR") or "data/corpus")],
        help="JSONL files or directories of dated batches (default: RAGORTUNE_CORPUS_DIR, "
        "else data/corpus)",
    )
    parser.add_argument(
        "--full", action="store_true", help="drop the collection and embed everything"
    )
    parser.add_argument(
        "--chroma-url", help="a chroma server (default: embedded store under --work)"
    )
    parser.add_argument("--work", type=Path, help="index folder: manifest, lock, embedded store")
    parser.add_argument("--collection", help="chroma collection name")
    parser.add_argument(
        "--embed-model",
        help="packaged:use-multilingual (default), packaged:minilm, packaged:e5-small, or a "
        "sentence-transformers model name or path",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="any rejected line: leave the index unchanged and exit 1",
    )
    parser.add_argument("--lock-timeout", type=float, help="seconds to wait for another rebuild")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one rebuild and print its summary line."""
    args = _parser().parse_args(argv)
    use_offline_defaults()
    from corpus import CorpusError, iter_records
    from rag.errors import RagError
    from rag.settings import RagSettings

    overrides = {
        "work_dir": args.work,
        "chroma_url": args.chroma_url,
        "collection": args.collection,
        "embed_model": args.embed_model,
        "lock_timeout_s": args.lock_timeout,
    }
    try:
        settings = RagSettings(**{k: v for k, v in overrides.items() if v is not None})
        rejected, size = _count(args.corpus)
    except (CorpusError, ValueError, OSError) as err:
        print(f"rag.rebuild: {err}", file=sys.stderr)
        return 2
    if args.strict and rejected:
        print(
            f"rag.rebuild: {rejected} rejected line(s) in strict mode; "
            "the index was left unchanged",
            file=sys.stderr,
        )
        return 1
    try:
        # the corpus is streamed again by the rebuild (ids and hashes, then what it embeds)
        records = lambda: iter_records(args.corpus)  # noqa: E731
        summary = _run(records, settings, args.full, rejected, size, args.quiet)
    except RagError as err:
        print(f"rag.rebuild: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # chroma or the model failed: a scheduler needs an exit code
        print(f"rag.rebuild: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    print(summary.line(), flush=True)
    return 0


def _count(paths: list[Path]) -> tuple[int, int]:
    """Read the corpus once, printing the first rejected lines; how many lines were rejected
    and how many records read."""
    from corpus import Record, Reject, iter_load

    count = records = 0
    for event in iter_load(paths):
        if type(event) is Record:
            records += 1
        elif type(event) is Reject:
            count += 1
            if count <= MAX_REJECTS_SHOWN:
                print(f"rejected {event}", file=sys.stderr)
    if count > MAX_REJECTS_SHOWN:
        print(f"... and {count - MAX_REJECTS_SHOWN} more rejected lines", file=sys.stderr)
    return count, records


def _run(
    records: Callable[[], Iterable[Record]],
    settings: RagSettings,
    full: bool,
    rejected: int,
    size: int,
    quiet: bool,
) -> RebuildSummary:
    from tqdm import tqdm

    from rag.build import rebuild_index

    bar = tqdm(total=0, unit="node", desc="embedding", disable=quiet, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return rebuild_index(
            records, settings, full=full, rejected=rejected, progress=progress, size=size
        )
    finally:
        bar.close()


if __name__ == "__main__":
    sys.exit(main())
