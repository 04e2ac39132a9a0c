"""Local SQLite: the answer cache (a re-run only asks what changed) and the run history."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compare.answer import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS answer_cache (
    key TEXT PRIMARY KEY, answerer TEXT, question TEXT, answer TEXT, created_at TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT, eval_name TEXT, answerers TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT, item_id TEXT, answerer TEXT, answer TEXT, metrics TEXT,
    PRIMARY KEY (run_id, item_id, answerer)
);
"""


def cache_key(configuration: str, question: str) -> str:
    """Key of one (answerer configuration, question) pair."""
    return hashlib.sha256(f"{configuration}\x1f{question}".encode()).hexdigest()


class Store:
    """One SQLite file; safe to share between threads (a lock serialises writes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)

    def cached(self, configuration: str, question: str) -> Answer | None:
        """A previously stored answer for this configuration and question."""
        with self._lock:
            row = self._db.execute(
                "SELECT answer FROM answer_cache WHERE key = ?",
                (cache_key(configuration, question),),
            ).fetchone()
        return Answer.model_validate_json(row[0]) if row else None

    def remember(self, configuration: str, question: str, answer: Answer) -> None:
        """Store a successful answer (failures are never cached: they should be retried)."""
        if not answer.ok:
            return
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answer_cache VALUES (?, ?, ?, ?, ?)",
                (
                    cache_key(configuration, question),
                    answer.answerer,
                    question,
                    answer.model_dump_json(),
                    _now(),
                ),
            )

    def save_run(
        self,
        run_id: str,
        started_at: datetime,
        eval_name: str,
        answerers: list[str],
        summary: dict[str, Any],
        results: list[tuple[str, str, Answer, dict[str, float]]],
    ) -> None:
        """Keep a finished run and its per-answer results."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
                (
                    run_id,
                    started_at.isoformat(),
                    eval_name,
                    json.dumps(answerers),
                    json.dumps(summary),
                ),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                [
                    (run_id, item, name, ans.model_dump_json(), json.dumps(m))
                    for item, name, ans, m in results
                ],
            )

    def runs(self) -> list[dict[str, Any]]:
        """Every stored run, oldest first, with its summary."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, started_at, eval_name, answerers, summary FROM runs ORDER BY started_at"
            ).fetchall()
        return [
            {
                "run_id": r[0],
                "started_at": r[1],
                "eval_name": r[2],
                "answerers": json.loads(r[3]),
                "summary": json.loads(r[4]),
            }
            for r in rows
        ]

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat()
