"""One 1% rebuild of `bench/index.py`'s corpus in a process of its own, as a scheduled
`python -m rag.rebuild` runs it: the rebuild's imports, the manifest and fact state read from
disk, chroma's graph loaded on its first call and the encoder process started are paid again,
which a rebuild in the process that built the index (the benchmark's other steps) has paid.

Usage (bench/index.py runs it): python bench/step_process.py WORK RECORDS STEP OFFSET...
[--embed-model NAME]. The records, with every STEP-th one changed from each OFFSET in turn, are
made first, untimed; the clock starts before `rag.build` is imported. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.records import change_every, make_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("records", type=int)
    parser.add_argument("step", type=int)
    parser.add_argument("offsets", type=int, nargs="+")
    parser.add_argument("--embed-model", default=None)
    args = parser.parse_args()
    records = [make_record(i) for i in range(args.records)]
    for offset in args.offsets:
        records = change_every(records, args.step, offset)
    start = time.perf_counter()
    from rag.build import rebuild_index
    from rag.settings import RagSettings

    settings = RagSettings(_env_file=None, embed_model=args.embed_model, work_dir=args.work)
    summary = rebuild_index(records, settings)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "live_after": summary.seconds,
                "grace": summary.grace_s,
                "embedded": summary.embedded_nodes,
                "line": summary.line(),
            }
        )
    )


if __name__ == "__main__":
    main()
