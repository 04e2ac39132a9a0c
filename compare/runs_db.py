"""The runs database (one SQLite file): the answer cache, so a re-run asks only what changed, and
the run history, to follow quality over time."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from answers import Answer, Question

SCHEMA = """
CREATE TABLE IF NOT EXISTS answer_cache (
    key TEXT PRIMARY KEY, answerer TEXT, question TEXT, answer TEXT, created_at TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT, eval_name TEXT, answerers TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS comparisons (run_id TEXT PRIMARY KEY, comparison TEXT);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT, item_id TEXT, answerer TEXT, answer TEXT, metrics TEXT,
    PRIMARY KEY (run_id, item_id, answerer)
);
"""


class RunRecord(BaseModel):
    """One past run as the history keeps it: when, on which eval, which sides, and its headline
    numbers (`{side: headline metric}`, `{side: the same on unseen facts}`, the verdict)."""

    run_id: str
    started_at: datetime
    eval_name: str
    answerers: list[str]
    verdict: str | None = None
    headline: dict[str, float] = Field(default_factory=dict)
    headline_unseen: dict[str, float] = Field(default_factory=dict)
    metric: str = "token_f1"


class ResultRow(BaseModel):
    """One stored answer of a run, with its scores."""

    item_id: str
    answerer: str
    answer: Answer
    metrics: dict[str, float]


def cache_key(configuration: str, question: Question) -> str:
    """Key of one (answerer configuration, question) pair."""
    return hashlib.sha256(f"{configuration}\x1f{question.key()}".encode()).hexdigest()


class RunsDatabase:
    """One SQLite file; safe to share between threads (a lock serialises access)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.executescript(SCHEMA)

    def cached(self, configuration: str, question: Question) -> Answer | None:
        """A previously stored answer for this configuration and question."""
        with self._lock:
            row = self._db.execute(
                "SELECT answer FROM answer_cache WHERE key = ?",
                (cache_key(configuration, question),),
            ).fetchone()
        return Answer.model_validate_json(row[0]) if row else None

    def remember(self, configuration: str, question: Question, answer: Answer) -> None:
        """Store a successful answer (failures are never cached: they should be retried)."""
        if not answer.ok:
            return
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answer_cache VALUES (?, ?, ?, ?, ?)",
                (
                    cache_key(configuration, question),
                    answer.answerer,
                    question.text,
                    answer.model_dump_json(),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def save_run(
        self, record: RunRecord, results: Sequence[ResultRow], comparison_json: str = ""
    ) -> None:
        """Keep a finished run, its per-answer results and (as JSON) everything derived from it."""
        summary = record.model_dump(
            mode="json", include={"verdict", "headline", "headline_unseen", "metric"}
        )
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
                (
                    record.run_id,
                    record.started_at.isoformat(),
                    record.eval_name,
                    json.dumps(record.answerers),
                    json.dumps(summary),
                ),
            )
            if comparison_json:
                self._db.execute(
                    "INSERT OR REPLACE INTO comparisons VALUES (?, ?)",
                    (record.run_id, comparison_json),
                )
            self._db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        record.run_id,
                        r.item_id,
                        r.answerer,
                        r.answer.model_dump_json(),
                        json.dumps(r.metrics),
                    )
                    for r in results
                ],
            )

    def runs(self) -> list[RunRecord]:
        """Every stored run, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, started_at, eval_name, answerers, summary FROM runs ORDER BY started_at"
            ).fetchall()
        return [_record(*row) for row in rows]

    def results(self, run_id: str) -> list[ResultRow]:
        """The stored answers and scores of one run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, answerer, answer, metrics FROM results WHERE run_id = ?", (run_id,)
            ).fetchall()
        return [
            ResultRow(
                item_id=item,
                answerer=name,
                answer=Answer.model_validate_json(answer),
                metrics=json.loads(metrics),
            )
            for item, name, answer, metrics in rows
        ]

    def comparison_json(self, run_id: str | None = None) -> str | None:
        """The stored comparison of a run (default: the newest run that has one), as JSON."""
        query = "SELECT c.comparison FROM comparisons c JOIN runs r USING (run_id)"
        with self._lock:
            if run_id is None:
                row = self._db.execute(query + " ORDER BY r.started_at DESC LIMIT 1").fetchone()
            else:
                row = self._db.execute(query + " WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _record(run_id: str, started: str, eval_name: str, answerers: str, summary: str) -> RunRecord:
    """A stored row as a `RunRecord`; rows written before the record model kept `side.metric` keys."""
    data = json.loads(summary) or {}
    if "headline" not in data:  # the flat form: {"verdict", "rag.token_f1", "rag.token_f1.unseen"}
        flat = {k: v for k, v in data.items() if isinstance(v, int | float)}
        data = {
            "verdict": data.get("verdict"),
            "headline": {k.split(".")[0]: v for k, v in flat.items() if k.count(".") == 1},
            "headline_unseen": {k.split(".")[0]: v for k, v in flat.items() if k.count(".") == 2},
        }
    return RunRecord(
        run_id=run_id,
        started_at=datetime.fromisoformat(started),
        eval_name=eval_name,
        answerers=json.loads(answerers),
        **data,
    )
