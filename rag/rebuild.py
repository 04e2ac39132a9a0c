"""Rebuild the retrieval index from a corpus: only new and changed records are embedded.

Usage: python -m rag.rebuild [--corpus DIR] [--full] [--chroma-url URL] [--work DIR] [--strict]
[--watch [--every SECONDS]]
Exit codes: 0 ok, 1 lines rejected in strict mode (the index is left as it was), 2 failure.
The corpus is streamed (validated, then read for ids and hashes, then for what is embedded):
memory holds ids and hashes, never every record's text.

With --watch the command keeps running: it rebuilds once, then again whenever the corpus files
change (their names, sizes or modification times, looked at every --every seconds), until it
gets SIGTERM or Ctrl-C, which end it after the rebuild under way (a second one ends it at once,
exit code 130). The one process keeps what a rebuild in a new process pays again each time: the
imports, the parsed manifest, the collection's graph loaded by chroma's first call
(`bench/watch_step.py` times both ways). A rebuild that fails is reported and the next change
is tried again; exit code 0 once stopped after a rebuild.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
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
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep running: rebuild whenever the corpus files change, in this one process "
        "(ends on SIGTERM or Ctrl-C, after the rebuild under way)",
    )
    parser.add_argument(
        "--every",
        type=_seconds,
        default=30.0,
        help="with --watch: seconds between looks at the corpus files (default 30)",
    )
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run one rebuild and print its summary line; with --watch, one per corpus change."""
    args = _parser().parse_args(argv)
    use_offline_defaults()
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
    except ValueError as err:
        print(f"rag.rebuild: {err}", file=sys.stderr)
        return 2
    if args.watch:
        return _watch(args, settings)
    return _once(args, settings, args.full)


def _watch(args: argparse.Namespace, settings: RagSettings) -> int:
    """Rebuild now, then each time the corpus files change, until told to stop."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():  # asked twice: stop now, whatever is under way
            raise KeyboardInterrupt
        stop.set()
        print("rag.rebuild: stopping after the rebuild under way", file=sys.stderr, flush=True)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    seen = corpus_signature(args.corpus)
    try:
        _once(args, settings, args.full)
        while not stop.wait(args.every):
            now = corpus_signature(args.corpus)
            if now != seen:
                seen = now
                _once(args, settings, False)
    except KeyboardInterrupt:  # the second signal: a rebuild cut short repairs on the next run
        print("rag.rebuild: stopped", file=sys.stderr, flush=True)
        return 130
    return 0


def corpus_signature(paths: list[Path]) -> tuple[tuple[str, int, int], ...] | str:
    """What says the corpus changed, without reading it: each file's path, size and
    modification time, or the error that listing it gave (a folder gone is a change too)."""
    from corpus import CorpusError
    from corpus.files import corpus_files

    try:
        files = corpus_files(paths)
        return tuple((str(f), (st := f.stat()).st_size, st.st_mtime_ns) for f in files)
    except (CorpusError, OSError) as err:
        return str(err)


def _once(args: argparse.Namespace, settings: RagSettings, full: bool) -> int:
    """One rebuild with its summary line (or what went wrong) printed; the exit code.

    A rebuild of an existing index counts the rejected lines on its own first read of the
    corpus; strict mode, and a first or full build (which starts its encoder process at once
    when it knows how many records come), read it once more before, to count them first.
    """
    from corpus import CorpusError
    from corpus.files import corpus_files
    from rag.errors import RagError
    from rag.manifest import MANIFEST

    corpus = CountingCorpus(args.corpus)
    try:
        corpus_files(args.corpus)  # a path that is not there: said before the index is locked
        size = None
        if args.strict or full or not (settings.work_dir / MANIFEST).exists():
            size = sum(1 for _ in corpus())
    except (CorpusError, ValueError, OSError) as err:
        print(f"rag.rebuild: {err}", file=sys.stderr)
        return 2
    if args.strict and corpus.rejected:
        print(
            f"rag.rebuild: {corpus.rejected} rejected line(s) in strict mode; "
            "the index was left unchanged",
            file=sys.stderr,
        )
        return 1
    try:
        # the corpus is streamed by the rebuild (ids and hashes, then what it embeds)
        summary = _run(corpus, settings, full, corpus.count_rejected, size, args.quiet)
    except RagError as err:
        print(f"rag.rebuild: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # chroma or the model failed: a scheduler needs an exit code
        print(f"rag.rebuild: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    print(summary.line(), flush=True)
    return 0


class CountingCorpus:
    """The corpus as a rebuild streams it: its first whole read also counts the rejected lines
    and prints the first of them; later reads stream the records alone.

    A scheduled rebuild used to read the whole corpus once more only to count its rejects
    (1.9 s at 200k records, as long as each of the rebuild's own reads).
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.rejected = 0
        self.counted = False  # a whole read has ended: `rejected` is the corpus's

    def __call__(self) -> Iterator[Record]:
        from corpus import iter_records

        return iter_records(self.paths) if self.counted else self._counting()

    def count_rejected(self) -> int:
        """The rejected lines (read the corpus first if no whole read has ended yet)."""
        if not self.counted:
            for _ in self._counting():
                pass
        return self.rejected

    def _counting(self) -> Iterator[Record]:
        from corpus import Record, Reject, iter_load

        count = 0
        for event in iter_load(self.paths):
            if type(event) is Record:
                yield event
            elif type(event) is Reject:
                count += 1
                if count <= MAX_REJECTS_SHOWN:
                    print(f"rejected {event}", file=sys.stderr)
        if count > MAX_REJECTS_SHOWN:
            print(f"... and {count - MAX_REJECTS_SHOWN} more rejected lines", file=sys.stderr)
        self.rejected, self.counted = count, True


def _run(
    records: Callable[[], Iterable[Record]],
    settings: RagSettings,
    full: bool,
    rejected: Callable[[], int],
    size: int | None,
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
