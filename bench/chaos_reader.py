"""One reader process for the chaos runs: retrieves continuously from a live index until told to
stop, and writes what it saw (queries, failures, empty results, each result's record versions).

Usage: python bench/chaos_reader.py --work DIR [--chroma-url URL] --stop FILE --out FILE
Started by `bench/chaos.py` and by the rebuild tests; a reader is "ready" once its file
`OUT.ready` exists (the model is loaded and the index opened).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

QUERIES = [
    "How much does the Pro plan cost per month?",
    "Which regions store my files?",
    "How long are deleted files kept?",
    "What is the upload size limit?",
    "How do I reach support?",
    "Сколько стоит тариф?",
    "What is the setting number 17 of module 5?",
    "Which encryption is used for backups?",
]


class Readers:
    """Reader processes over one index, started together and stopped together."""

    def __init__(
        self,
        count: int,
        work: Path,
        chroma_url: str | None,
        folder: Path,
        queries: Sequence[str] = (),
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stop_file = folder / "stop"
        self.stop_file.unlink(missing_ok=True)
        self.outs = [folder / f"reader{i}.json" for i in range(count)]
        extra = ["--chroma-url", chroma_url] if chroma_url else []
        for query in queries:
            extra += ["--query", query]
        self.procs = []
        for out in self.outs:
            command = [sys.executable, __file__, "--work", str(work), *extra, "--stop"]
            with open(f"{out}.err", "wb") as err:  # a file: a full pipe would stall the reader
                self.procs.append(
                    subprocess.Popen(
                        [*command, str(self.stop_file), "--out", str(out)],
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                    )
                )

    def wait_ready(self, timeout: float = 300) -> None:
        """Until every reader has opened the index and answered once."""
        deadline = time.monotonic() + timeout
        for out, proc in zip(self.outs, self.procs, strict=True):
            while not Path(f"{out}.ready").exists():
                if proc.poll() is not None:
                    err = Path(f"{out}.err").read_text(encoding="utf-8", errors="replace")
                    raise RuntimeError(f"a reader exited before it was ready: {err[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError("readers not ready")
                time.sleep(0.1)

    def kill(self) -> None:
        """End every reader still running (after a failure elsewhere), by its PID."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def stop(self, timeout: float = 120) -> list[dict[str, Any]]:
        """Tell every reader to stop; their reports."""
        self.stop_file.touch()
        for proc in self.procs:
            proc.wait(timeout=timeout)
        return [json.loads(out.read_text(encoding="utf-8")) for out in self.outs]


def total(reports: Sequence[dict[str, Any]], key: str) -> int:
    """A count summed over reader reports."""
    return sum(int(r[key]) for r in reports)


def mismatch(records: Sequence[Any], settings: Any) -> str:
    """How the index differs from a corpus, in words ('' when it matches): every node belongs
    to an entry of the manifest and is written whole, every entry's nodes are all there, every
    current record's content is indexed, and no other generation is left.
    (`records` are corpus Records, `settings` RagSettings; typed loosely to keep this light.)"""
    from corpus import current_records
    from rag.manifest import read_manifest
    from rag.store import generations, held_versions, open_client, open_collection

    manifest = read_manifest(settings.work_dir)
    if manifest is None:
        return "no manifest"
    client = open_client(settings)
    held = held_versions(open_collection(client, manifest.collection))
    half = [key for key, version in held.items() if not version.complete()]
    entries = {(key, e.hash): e.nodes for key, e in manifest.records.items()}
    stored = {key: len(version.ids) for key, version in held.items()}
    known = {e.hash for e in manifest.records.values()}
    known |= {h for e in manifest.records.values() for h in getattr(e, "also", ())}
    missing = [r.id for r in current_records(records) if r.content_hash not in known]
    others = set(generations(client, settings.collection)) - {manifest.collection}
    problems = [
        f"{len(half)} half-written entries" if half else "",
        "stored nodes differ from the manifest's entries" if stored != entries else "",
        f"{len(missing)} current records not indexed (e.g. {missing[:3]})" if missing else "",
        f"generations left: {sorted(others)}" if others else "",
    ]
    return "; ".join(p for p in problems if p)


def unexplained(reports: Sequence[dict[str, Any]], manifests: Sequence[dict[str, str]]) -> int:
    """Results no single manifest explains: record versions of two states mixed in one answer.

    `manifests` are the record id -> content hash maps of every manifest readers could see.
    """
    count = 0
    for report in reports:
        for versions, n in report["results"]:
            pairs = [v.split("\x1f") for v in versions]
            if not any(all(m.get(rid) == h for rid, h in pairs) for m in manifests):
                count += n
    return count


def main(argv: list[str] | None = None) -> int:
    """Retrieve in a loop until the stop file appears; write the tally as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--chroma-url")
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between queries")
    parser.add_argument("--query", action="append", help="a query to ask (repeat; default: mixed)")
    args = parser.parse_args(argv)
    queries = args.query or QUERIES

    import torch

    torch.set_num_threads(1)  # many readers share few cores with the rebuild
    from rag.index import RagIndex
    from rag.settings import RagSettings

    settings = RagSettings(
        _env_file=None, work_dir=args.work, chroma_url=args.chroma_url, hybrid="off"
    )
    index = RagIndex.open(settings)
    index.retrieve(queries[0])  # warm: the first query loads the vectors
    Path(f"{args.out}.ready").touch()
    tally: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    results: Counter[str] = Counter()
    slowest = 0.0
    i = 0
    parent = os.getppid()
    # a reader whose starter died (a failed test, a killed bench) stops instead of running on
    while not args.stop.exists() and os.getppid() == parent:
        query = queries[i % len(queries)]
        i += 1
        start = time.perf_counter()
        try:
            hits = index.retrieve(query, k=5)
        except Exception as err:  # what an app would show as a failed answer
            tally["failed"] += 1
            errors[f"{type(err).__name__}: {err}"[:200]] += 1
            continue
        finally:
            slowest = max(slowest, time.perf_counter() - start)
        tally["queries"] += 1
        if not hits or any(not h.text for h in hits):
            tally["empty"] += 1
        # each hit as the manifest entry it came from (a version of a fact) at its content hash
        versions = sorted(
            f"{h.entry or h.record_id}\x1f{h.metadata.get('content_hash', '')}" for h in hits
        )
        results["\x1e".join(versions)] += 1
        time.sleep(args.pause)
    report = {
        "queries": tally["queries"],
        "failed": tally["failed"],
        "empty": tally["empty"],
        "slowest_s": round(slowest, 3),
        "errors": dict(errors),
        "results": [[key.split("\x1e") if key else [], n] for key, n in results.items()],
    }
    args.out.write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
