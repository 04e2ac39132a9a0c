"""The scheduled job: rebuild the index, evaluate again, keep the run and raise the re-tune alarm.

Only what could have changed is asked again: the answer cache keys each side on what it answers
from (`Workbench.cache_keys`), so after a rebuild that changed the index the retrieval sides are
asked anew while a side that does not retrieve answers from the cache. The verdict is compared
with the last run over the same eval set and sides (`compare.alarm`); a change is posted to a
webhook when one is configured, and a webhook that fails is reported, never fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from answers import Progress
from compare.alarm import VerdictChange, baseline, message, verdict_change
from compare.comparison import Comparison
from compare.cost import CostSettings
from compare.evalset import EvalItem
from compare.freshness import batch_timeline
from compare.html_report import write_html
from compare.report import write_report
from compare.webhook import post_json
from compare.workbench import Workbench


class CheckOutcome(BaseModel):
    """What one scheduled check did."""

    rebuild: str  # the rebuild's one-line summary
    comparison: Comparison
    change: VerdictChange
    reports: list[Path]
    notified: bool = False  # the webhook answered 2xx
    webhook_error: str | None = None  # why the webhook could not be told


def rebuild_and_check(
    wb: Workbench,
    items: Sequence[EvalItem],
    names: Sequence[str],
    out: Path,
    *,
    full: bool = False,
    cost: CostSettings | None = None,
    concurrency: int | None = None,
    webhook: str | None = None,
    webhook_timeout_s: float = 10.0,
    progress: Progress | None = None,
) -> CheckOutcome:
    """Rebuild, evaluate, report, and post a verdict change to `webhook` (when given)."""
    rebuilt = wb.rebuild_index(full=full)
    comparison = wb.compare(items, names, progress=progress, cost=cost, concurrency=concurrency)
    change = verdict_change(baseline(wb.db(), comparison), comparison)
    json_path, md_path = write_report(comparison, out)
    html_path = write_html(comparison, out / "report.html", batch_timeline(wb.records()))
    outcome = CheckOutcome(
        rebuild=rebuilt.line(),
        comparison=comparison,
        change=change,
        reports=[md_path, json_path, html_path],
    )
    if change.changed and webhook:
        error = post_json(webhook, message(change, comparison), webhook_timeout_s)
        outcome.notified, outcome.webhook_error = error is None, error
    return outcome


def asked_again(c: Comparison) -> str:
    """Per side, how many answers were asked anew and how many came from the cache."""
    parts = [
        f"{s.answerer} {s.answered + s.errors - s.cached} asked, {s.cached} from the cache"
        for s in c.summary.sides
    ]
    return "; ".join(parts)
