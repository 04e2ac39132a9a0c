"""A team's pipeline in miniature: a dated corpus whose second batch changes half its facts, an eval
set that follows the corpus, a tuned model that knows the first batch only (a real local
OpenAI-compatible HTTP server answering from that batch, standing in for a paid fine-tune), and a
real webhook receiver (`http.server` on 127.0.0.1).

With both sides perfect on the first batch the advice keeps RAG (it is cheaper); once the second
batch lands, RAG answers the changed facts and the tuned model does not: a re-tune is called for.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from answers import Answer, Question, Usage
from answers.prices import PriceBook
from compare.comparison import Comparison, Context, compare
from compare.evalset import EvalItem
from compare.freshness import Batch, batch_timeline
from compare.knowledge import Knowledge, SidesKnowledge
from corpus import current_records
from tests.conftest import ROOT
from tests.rag_helpers import load, qa, write_batch
from tuning.manifest import TrainedRecord, TuningManifest

# (id, question, answer in the first batch, answer after the second batch or None: unchanged)
FACTS = [
    ("aurora", "How many seats does the Aurora concert hall have?", "1840", "2100"),
    ("brennan", "How tall in metres is the Brennan lighthouse?", "46", "52"),
    ("cedar", "How many rooms does the Cedar Lodge hotel offer?", "120", "135"),
    ("delta", "How many kilometres long is the Delta ring road?", "38", "41"),
    ("elm", "How many pupils attend Elmwood primary school?", "410", "455"),
    ("fjord", "How many ferries cross the Fjordby strait each day?", "14", "18"),
    ("granite", "How many floors does the Granite tower have?", "31", "33"),
    ("harbor", "How many berths does Harborview marina have?", "260", "300"),
    ("iris", "How many beds does Iris county hospital have?", "540", "580"),
    ("juniper", "How many books does the Juniper library hold, in thousands?", "85", "92"),
    ("kestrel", "How many flights leave Kestrel airfield each week?", "70", "64"),
    ("larch", "How many hectares does Larch forest park cover?", "930", "990"),
    ("marble", "How many stalls does the Marble street market have?", "75", None),
    ("nettle", "How many players are in the Nettlefield rugby squad?", "34", None),
    ("oak", "How many lanes does the Oakridge swimming pool have?", "8", None),
    ("pine", "How many turbines stand on Pine hill wind farm?", "22", None),
    ("quarry", "How many trucks does Quarrytown depot run?", "57", None),
    ("raven", "How many exhibits does the Raven museum show?", "640", None),
    ("slate", "How many screens does the Slate cinema have?", "9", None),
    ("thistle", "How many members does the Thistle choir have?", "48", None),
    ("umber", "How many bus routes serve Umberton?", "17", None),
    ("violet", "How many stations does the Violet tram line have?", "26", None),
    ("willow", "How many allotments are in Willow gardens?", "112", None),
    ("yarrow", "How many vineyards grow around Yarrow valley?", "19", None),
]
CHANGED = sum(1 for f in FACTS if f[3] is not None)
FIRST, SECOND = "2026-03-01", "2026-07-01"
CUTOFF = date(2026, 3, 31)


class Pipeline:
    """The files and servers of one miniature pipeline under `root`."""

    def __init__(self, root: Path, tuned_url: str) -> None:
        self.root, self.tuned_url = root, tuned_url
        self.corpus, self.work = root / "corpus", root / "work"
        self.eval = root / "eval.jsonl"
        self.manifest = root / "tuned"
        write_batch(self.corpus, FIRST, [qa(i, q, a) for i, q, a, _ in FACTS])
        self.write_eval(second=False)
        records = load(self.corpus)
        TuningManifest(
            base_model="stand-in",
            remote_model="ft-stand-in",
            trained_at=datetime(2026, 4, 1, tzinfo=UTC),
            data_cutoff=CUTOFF,
            records=[
                TrainedRecord(id=r.id, content_hash=r.content_hash, as_of=r.as_of) for r in records
            ],
            epochs=3,
            training_tokens=36_000,
            tokens_per_s=10.0,  # a re-tune of an hour: affordable, fast enough, dearer than RAG
        ).save(self.manifest)

    def write_eval(self, second: bool) -> None:
        """The eval set follows the corpus: each question's reference is its current answer."""
        lines = [
            {"id": i, "question": q, "reference": (b if second and b else a), "record_id": i}
            for i, q, a, b in FACTS
        ]
        self.eval.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")

    def land_second_batch(self) -> None:
        """The second batch restates the changed facts under their ids; the eval follows."""
        write_batch(self.corpus, SECOND, [qa(i, q, b) for i, q, _, b in FACTS if b is not None])
        self.write_eval(second=True)

    def env(self) -> dict[str, str]:
        """The settings a scheduled job on this pipeline runs with."""
        return {
            "RAGORTUNE_CORPUS_DIR": str(self.corpus),
            "RAGORTUNE_EVAL_PATH": str(self.eval),
            "RAGORTUNE_WORK_DIR": str(self.work),
            "RAGORTUNE_PRICES_PATH": str(ROOT / "data" / "prices.json"),
            "TUNING_BASE_URL": self.tuned_url,
            "TUNING_MODEL": "ft-stand-in",
            "TUNING_MANIFEST_PATH": str(self.manifest),
            "TUNING_MAX_RETRIES": "0",
            "TUNING_TIMEOUT": "10",
        }


def tuned_app(calls: list[str]) -> FastAPI:
    """A fine-tuned model that learned the first batch: it answers those figures, whatever came
    later, and counts what it was asked."""
    first = {q: a for _, q, a, _ in FACTS}
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        question = body["messages"][-1]["content"]
        calls.append(question)
        message = {"role": "assistant", "content": first.get(question, "I do not know.")}
        return JSONResponse(
            {
                "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22},
            }
        )  # fmt: skip

    return app


class Receiver:
    """What a webhook receiver got: each POST's path and JSON body."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.url = ""


@contextmanager
def webhook_receiver(status: int = 200, delay_s: float = 0.0) -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that keeps every POSTed JSON body, answers `status` after
    `delay_s`, and is shut down on exit."""
    got = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length", 0))
            got.posts.append((self.path, json.loads(self.rfile.read(length))))
            time.sleep(delay_s)
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/not-for-logs"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class TableSide:
    """An in-process side that answers from a table (for report tests that need no model)."""

    def __init__(self, name: str, table: dict[str, str]) -> None:
        self.name, self.table = name, table

    def answer(self, question: Question) -> Answer:
        return Answer(
            answerer=self.name,
            text=self.table.get(question.text, ""),
            latency_s=0.01,
            usage=Usage(prompt_tokens=30, completion_tokens=3),
        )


def table_comparison(
    root: Path, extra_question: str | None = None
) -> tuple[Comparison, list[Batch]]:
    """A finished comparison over the two batches: retrieval knows both, the tuned side the first;
    `extra_question` adds an item with that text (to check escaping)."""
    corpus = root / "corpus"
    write_batch(corpus, FIRST, [qa(i, q, a) for i, q, a, _ in FACTS])
    write_batch(corpus, SECOND, [qa(i, q, b) for i, q, _, b in FACTS if b is not None])
    records = current_records(load(corpus))
    items = [
        EvalItem(id=i, question=q, reference=b or a, record_id=i, kind="changed" if b else "stable")
        for i, q, a, b in FACTS
    ]
    if extra_question is not None:
        items.append(EvalItem(id="extra", question=extra_question, reference="1"))
    now = {i.question: i.reference for i in items}
    then = {q: a for _, q, a, _ in FACTS}
    context = Context(
        records=records,
        knowledge=SidesKnowledge(
            index=Knowledge(side="rag", content_hashes=frozenset(r.content_hash for r in records)),
            tuned=Knowledge(side="tuned", cutoff=CUTOFF),
            training_records=len(FACTS),
        ),
        book=PriceBook.load(ROOT / "data" / "prices.json"),
    )
    sides = [TableSide("rag", now), TableSide("tuned", then)]
    return compare(items, sides, context, eval_name="table.jsonl"), batch_timeline(records)
