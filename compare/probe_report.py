"""The knowledge probe's report: each side's effective cutoff next to the declared and manifest
ones, the curve it rests on, the per-fact ledger and the re-tune plan, as Markdown and CSV."""

from __future__ import annotations

from pathlib import Path

from compare.knowledge import Knowledge
from compare.knowledge_probe import LIKELIHOOD_USED, ProbeResult, SideProbe, save_probe
from compare.ledger import ledger, ledger_csv, stale_count
from compare.retune_plan import RetunePlan
from compare.side_table import side_label


def headline(result: ProbeResult) -> str:
    """What was asked, in one line."""
    changed = sum(h.changed for h in result.facts)
    return (
        f"{len(result.facts)} facts asked ({changed} changed; {result.changed_in_corpus} changed "
        f"in the corpus) over {len(result.batches)} batches, {len(result.sides)} sides, "
        f"{result.seconds:.1f} s"
    )


def side_lines(side: SideProbe, stale: int, knowledge: Knowledge | None = None) -> list[str]:
    """A side's estimate, its likelihood reading, and the cutoffs declared for it."""
    lines = [f"{side_label(side.side)}: {side.estimate.describe()}"]
    if side.by_likelihood is not None:
        lines.append(f"  by likelihood (changed facts only): {side.by_likelihood.describe()}")
    elif side.likelihood != LIKELIHOOD_USED:
        lines.append(f"  likelihood: {side.likelihood}")
    if stale:
        lines.append(f"  gives a superseded version of {stale} facts")
    if knowledge is not None:
        lines.append(
            f"  declared cutoff {knowledge.declared_cutoff or '—'} · manifest cutoff "
            f"{knowledge.manifest_cutoff or '—'} · freshness uses: {knowledge.basis}"
        )
        if (mismatch := knowledge.mismatch()) is not None:
            lines.append(f"  MISMATCH: {mismatch}")
    return lines


def curve_table(side: SideProbe) -> list[str]:
    """The share of facts given as each date had them, as a Markdown table."""
    rows = ["| date | share given as then | facts |", "|---|---|---|"]
    best = side.estimate.best_index
    for i, point in enumerate(side.estimate.curve):
        mark = " **(best)**" if i == best else ""
        rows.append(f"| {point.label}{mark} | {point.share:.2f} | {point.facts} |")
    return rows


def render(
    result: ProbeResult,
    knowledge: dict[str, Knowledge] | None = None,
    plan: RetunePlan | None = None,
) -> str:
    """The whole report as Markdown."""
    knowledge = knowledge or {}
    out = ["# Knowledge probe", "", headline(result), ""]
    for side in result.sides:
        label = side_label(side.side)
        lines = side_lines(side, stale_count(result, side.side), knowledge.get(side.side))
        lines[0] = "estimated cutoff: " + lines[0].removeprefix(f"{label}: ")
        out += [f"## {label}", "", *(f"- {x.strip()}" for x in lines), "", *curve_table(side), ""]
    out += ["## Ledger", "", _ledger_table(result), ""]
    if plan is not None:
        out += ["## Re-tune plan", "", *(f"- {x.strip()}" for x in plan.lines()), ""]
    return "\n".join(out)


def _ledger_table(result: ProbeResult) -> str:
    sides = [s.side for s in result.sides]
    head = "| fact | versions | " + " | ".join(side_label(s) for s in sides) + " |"
    rows = [head, "|" + "---|" * (2 + len(sides))]
    for row in ledger(result):
        cells = [row.cells[s].gives for s in sides]
        versions = "<br>".join(_cell(v) for v in row.versions)
        rows.append(f"| {_cell(row.question)} | {versions} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_probe_report(
    result: ProbeResult,
    out: Path,
    knowledge: dict[str, Knowledge] | None = None,
    plan: RetunePlan | None = None,
) -> tuple[Path, Path, Path]:
    """probe.json, probe.md and ledger.csv in `out`."""
    json_path = save_probe(result, out)
    md_path, csv_path = out / "probe.md", out / "ledger.csv"
    md_path.write_text(render(result, knowledge, plan), encoding="utf-8")
    csv_path.write_text(ledger_csv(result), encoding="utf-8")
    return json_path, md_path, csv_path
