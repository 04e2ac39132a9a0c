"""A 1% change as a team's scheduled rebuild meets it: the corpus is a JSONL file on disk, read by
`python -m rag.rebuild` in a new process each time, or by one `--watch` process that keeps
running; each figure is a ratio against the full build of the same corpus by the same command,
in the same run.

Usage: python bench/watch_step.py [--records 200000] [--steps 2] [--every 0.2] [--idle 0]

The records are `bench/records.py`'s (those `bench/index.py` builds from), written as
prompt/completion lines. A step rewrites the file with every 100th answer changed (each step
other ones) and puts it in place whole (an atomic rename). A scheduled step is timed from the
command's start to its exit; a watched step from the rename to the summary line the watching
process prints, so it includes up to --every seconds of waiting for the next look. With --idle
each change comes that many seconds after the last rebuild ended, as a team's changes come to an
index that sits unused in between: a host that reclaims idle memory takes back the pages of the
index files meanwhile (this machine kind pages out what went untouched for ~60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.records import make_record  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STEP = 100  # every 100th record changes: 1%
NAME = "2026-03-01-faq.jsonl"


def write_corpus(folder: Path, records: int, changed: set[int]) -> None:
    """The corpus file, with the answers of the records at offsets `changed` (mod STEP) new."""
    staged = folder.parent / f"{NAME}.tmp"
    with staged.open("w", encoding="utf-8") as out:
        for i in range(records):
            offset = i % STEP
            record = make_record(i, f" (changed {offset})" if offset in changed else "")
            line = {"id": record.id, "prompt": record.question, "completion": record.answer}
            out.write(json.dumps(line) + "\n")
    os.replace(staged, folder / NAME)


def command(corpus: Path, work: Path, *extra: str) -> list[str]:
    rebuild = ["-m", "rag.rebuild", "--corpus", str(corpus), "--work", str(work), "--quiet"]
    return [sys.executable, *rebuild, *extra]


def scheduled(corpus: Path, work: Path) -> tuple[float, str]:
    """`python -m rag.rebuild` in a new process: its wall time and summary line."""
    start = time.perf_counter()
    done = subprocess.run(
        command(corpus, work), cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the rebuild failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


class Watcher:
    """`python -m rag.rebuild --watch` running, with the summary lines it prints."""

    def __init__(self, corpus: Path, work: Path, every: float) -> None:
        self.proc = subprocess.Popen(
            command(corpus, work, "--watch", "--every", str(every)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line.strip()))

    def next_line(self, timeout: float) -> tuple[float, str]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"the watching rebuild said nothing within {timeout:.0f} s") from None

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=2, help="1% steps each way")
    parser.add_argument("--every", type=float, default=0.2, help="the watch's look interval")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds before each change")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watch-step-") as tmp:
        corpus, work = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus.mkdir()
        changed: set[int] = set()
        write_corpus(corpus, args.records, changed)
        print(f"{args.records:,} records in {corpus / NAME}", flush=True)
        full, line = scheduled(corpus, work)
        print(f"full build (python -m rag.rebuild, new process): {full:.1f} s; {line}", flush=True)
        for offset in range(args.steps):
            changed.add(offset)
            time.sleep(args.idle)
            write_corpus(corpus, args.records, changed)
            seconds, line = scheduled(corpus, work)
            print(
                f"1% step, python -m rag.rebuild in a new process: {seconds:.2f} s = "
                f"{seconds / full:.4f}x of the full build; {line}",
                flush=True,
            )
        watcher = Watcher(corpus, work, args.every)
        try:
            _, line = watcher.next_line(600)
            print(f"--watch started; its first look (nothing changed): {line}", flush=True)
            for offset in range(args.steps, 2 * args.steps):
                changed.add(offset)
                time.sleep(args.idle)
                write_corpus(corpus, args.records, changed)
                put = time.perf_counter()
                said, line = watcher.next_line(600)
                seconds = said - put
                print(
                    f"1% step, seen by --watch (every {args.every} s): {seconds:.2f} s = "
                    f"{seconds / full:.4f}x of the full build; {line}",
                    flush=True,
                )
        finally:
            watcher.stop()


if __name__ == "__main__":
    main()
