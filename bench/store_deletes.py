"""What chroma's delete costs by where the deleted nodes lie: the nodes a 1% change replaces
(every 100th record of a full build, scattered through the store's SQLite tables and indexes)
against the same nodes once they have been added again together (adjacent rows).

Usage: python bench/store_deletes.py [--records 50000] [--every 100] [--rounds 2]
The index is built by the project's own rebuild (`bench/index.py`'s records, the default
embedder, an embedded store), so the rows are the ones a real index holds; the deletes and
re-adds then go straight to the collection, with the vectors, metadata and documents read back
from it. Bytes are this process's reads and writes (`/proc/self/io`): chroma's embedded store
runs in it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.index import timed_rebuild  # noqa: E402
from bench.records import make_record  # noqa: E402
from rag.manifest import IndexManifest, read_manifest  # noqa: E402
from rag.nodes import node_id  # noqa: E402
from rag.plan import stored_id  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
from rag.store import open_client  # noqa: E402


def io_bytes() -> tuple[int, int]:
    """(bytes read, bytes written) by this process so far."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["read_bytes"]), int(fields["write_bytes"])


def timed(label: str, call: Any) -> float:
    """Run `call`, print its wall and CPU seconds and the bytes it moved; the wall seconds."""
    before, cpu, start = io_bytes(), time.process_time(), time.perf_counter()
    call()
    wall = time.perf_counter() - start
    after = io_bytes()
    print(
        f"  {label:<44} {wall:6.2f} s  (CPU {time.process_time() - cpu:5.2f} s, read "
        f"{(after[0] - before[0]) / 1e6:5.0f} MB, written {(after[1] - before[1]) / 1e6:5.0f} MB)",
        flush=True,
    )
    return wall


def one_round(collection: Any, manifest: IndexManifest, offset: int, every: int) -> None:
    """Delete the nodes of every `every`th record from `offset` as they lie, add them back
    together, delete them again; print each step and the ratio of the two deletes."""
    keys = list(manifest.records)[offset::every]
    ids = [
        stored_id(node_id(key, chunk), manifest.records[key].hash)
        for key in keys
        for chunk in range(manifest.records[key].nodes)
    ]
    rows = collection.get(ids=ids, include=["embeddings", "metadatas", "documents"])
    assert len(rows["ids"]) == len(ids), "some nodes of the manifest are not in the store"
    vectors = np.asarray(rows["embeddings"], dtype=np.float32)

    def add() -> None:
        collection.add(
            ids=rows["ids"], embeddings=vectors, metadatas=rows["metadatas"],
            documents=rows["documents"],
        )  # fmt: skip

    def delete() -> None:
        collection.delete(ids=ids)

    print(f"{len(ids):,} nodes of every {every}th record from the {offset}th")
    scattered = timed("delete, as the full build left them", delete)
    timed("add them back in one call", add)
    adjacent = timed("delete again, now adjacent", delete)
    timed("add them back", add)
    print(f"  scattered / adjacent: {scattered / adjacent:.2f}x", flush=True)


def main() -> None:
    """Build, then delete the scattered nodes, add them back, and delete them again."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=100, help="1 in N records is replaced")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = RagSettings(_env_file=None, work_dir=Path(tmp))
        full = timed_rebuild([make_record(i) for i in range(args.records)], settings)
        manifest = read_manifest(settings.work_dir)
        assert manifest is not None
        collection = open_client(settings).get_collection(manifest.collection)
        print(f"full build of {args.records:,} records: {full:.1f} s, {collection.count():,} nodes")
        for round_ in range(args.rounds):  # other records each round: untouched rows
            one_round(collection, manifest, args.every // 2 + round_, args.every)


if __name__ == "__main__":
    main()
