"""The per-fact ledger of a probe: each fact's versions with their dates, and which version each
side gives — stale answers marked — as rows for a table and as CSV."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel

from compare.knowledge_probe import ProbeResult, Reading
from compare.side_table import side_label
from compare.versions_given import answer_key
from corpus.facts import FactHistory, FactVersion


class LedgerCell(BaseModel):
    """What one side gives for one fact."""

    gives: str  # "v2 · current", "v1 · STALE (held … → …)", "states no version", "error: …"
    stale: bool = False
    likeliest: str = ""  # the likeliest version by log-likelihood, where it was read
    answer: str = ""


class LedgerRow(BaseModel):
    """One fact: its versions and every side's reading."""

    fact_id: str
    question: str
    versions: list[str]  # "v1 2021-03-01 → 2021-09-01: Dr Ottilie Varncombe"
    cells: dict[str, LedgerCell]  # side -> what it gives


def version_label(history: FactHistory, index: int) -> str:
    """'v2' — versions are numbered from the oldest."""
    return f"v{index + 1}" if 0 <= index < len(history.versions) else "v?"


def held(version: FactVersion) -> str:
    """'2021-03-01 → 2021-09-01', or '2021-09-01 → now' for the current one."""
    return f"{version.first_seen or 'undated'} → {version.until or 'now'}"


def cell(history: FactHistory, reading: Reading) -> LedgerCell:
    """A side's reading of a fact, a superseded version marked stale."""
    if reading.error:
        return LedgerCell(gives=f"error: {reading.error[:80]}", answer="")
    likeliest = ""
    if reading.likeliest is not None:
        likeliest = version_label(history, reading.likeliest)
        if _is_stale(history, reading.likeliest):
            likeliest += " · stale"
    if reading.given is None:
        return LedgerCell(gives="states no version", likeliest=likeliest, answer=reading.answer)
    version = history.versions[reading.given]
    label = version_label(history, reading.given)
    if _is_stale(history, reading.given):
        return LedgerCell(
            gives=f"{label} · STALE (held {held(version)})",
            stale=True,
            likeliest=likeliest,
            answer=reading.answer,
        )
    return LedgerCell(gives=f"{label} · current", likeliest=likeliest, answer=reading.answer)


def _is_stale(history: FactHistory, index: int) -> bool:
    return answer_key(history.versions[index].answer) != answer_key(history.current.answer)


def ledger(result: ProbeResult) -> list[LedgerRow]:
    """One row per fact asked, in the probe's order."""
    rows = []
    for i, history in enumerate(result.facts):
        rows.append(
            LedgerRow(
                fact_id=history.fact_id,
                question=history.question,
                versions=[
                    f"{version_label(history, k)} {held(v)}: {v.answer}"
                    for k, v in enumerate(history.versions)
                ],
                cells={s.side: cell(history, s.readings[i]) for s in result.sides},
            )
        )
    return rows


def ledger_csv(result: ProbeResult) -> str:
    """The ledger as CSV: the fact, its versions, then per side what it gives, whether that is
    stale, the likeliest version and the answer itself."""
    out = io.StringIO()
    writer = csv.writer(out)
    sides = [s.side for s in result.sides]
    head = ["fact_id", "question", "versions"]
    for side in sides:
        label = side_label(side)
        head += [f"{label}: gives", f"{label}: stale", f"{label}: likeliest", f"{label}: answer"]
    writer.writerow(head)
    for row in ledger(result):
        line = [row.fact_id, row.question, " | ".join(row.versions)]
        for side in sides:
            c = row.cells[side]
            line += [c.gives, "yes" if c.stale else "", c.likeliest, c.answer]
        writer.writerow(line)
    return out.getvalue()


def stale_count(result: ProbeResult, side: str) -> int:
    """How many facts a side answers with a superseded version."""
    probe = result.side(side)
    if probe is None:
        return 0
    return sum(
        r.given is not None and _is_stale(h, r.given)
        for h, r in zip(result.facts, probe.readings, strict=True)
    )
