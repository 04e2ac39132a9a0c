"""The knowledge probe in the app: run it, each side's declared, manifest and estimated cutoffs,
the curve they rest on, the per-fact ledger and the re-tune plan's training file."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from answers.redact import redact
from compare.knowledge_probe import ProbeResult, ProbeSettings
from compare.ledger import ledger, ledger_csv, stale_count
from compare.probe_report import headline
from compare.retune_plan import DEFAULT_GROUPS, GROUPS, TITLES, RetunePlan, plan_records
from compare.side_table import side_label
from compare.workbench import Workbench
from corpus.export import TARGETS, export_records
from ui import charts


def render_probe(wb: Workbench, freshness_views: list[Any]) -> None:
    """The probe section of the Freshness & cost tab."""
    st.subheader("What the model really knows")
    st.caption(
        "Asks each model closed-book about facts with histories: which version of a changed "
        "fact it gives, whether it knows an unchanged one. The date whose versions it matches "
        "best is its effective cutoff (Cheng et al. 2024, Dated Data)."
    )
    _probe_form(wb)
    result = wb.last_probe()
    if result is None:
        st.info("No probe yet: run it to see each model's effective cutoff and the ledger.")
        return
    st.markdown(f"**Last probe:** {headline(result)} · {result.made_at:%Y-%m-%d %H:%M} UTC")
    st.markdown(
        "\n".join(
            f"- **{side_label(side.side)}** — effective cutoff {side.estimate.describe()}"
            for side in result.sides
        )
    )
    st.dataframe(cutoff_frame(result, freshness_views), hide_index=True, width="stretch")
    for view in freshness_views:
        if getattr(view, "mismatch", None):
            st.warning(f"{charts.KNOWLEDGE_LABELS.get(view.side, view.side)}: {view.mismatch}")
    curve = curve_frame(result)
    if not curve.empty:
        st.altair_chart(charts.probe_curve_chart(curve), width="stretch")
    render_ledger(result, key="costs")
    _plan(wb, result)


def _probe_form(wb: Workbench) -> None:
    with st.form("probe_form"):
        left, right = st.columns([1, 3])
        facts = left.number_input(
            "Facts to ask", 1, 5000, wb.settings.compare.probe_facts, key="probe_facts"
        )
        names = right.multiselect(
            "Sides",
            wb.answerer_names,
            default=wb.probe_side_names,
            format_func=side_label,
            key="probe_sides",
        )
        if not st.form_submit_button("Run the knowledge probe", type="primary"):
            return
    bar = st.progress(0.0, text="asking…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total if total else 1.0, text=what)

    try:
        wb.probe(names, ProbeSettings(facts=int(facts)), progress=progress)
    except Exception as err:  # the edge: a failed probe is a message, not a crash
        st.error(redact(f"The probe could not run: {type(err).__name__}: {err}"))
    bar.empty()


def cutoff_frame(result: ProbeResult, views: list[Any]) -> pd.DataFrame:
    """Per side probed: the declared and manifest cutoffs, the estimate, and what freshness uses."""
    by_side = {v.side: v for v in views}
    rows = []
    for side in result.sides:
        view = by_side.get(side.side)
        rows.append(
            {
                "side": side_label(side.side),
                "declared cutoff": str(view.declared_cutoff or "—") if view else "—",
                "manifest cutoff": str(view.manifest_cutoff or "—") if view else "—",
                "estimated (answers)": side.estimate.describe(),
                "by likelihood": side.by_likelihood.describe()
                if side.by_likelihood
                else side.likelihood,
                "stale facts": stale_count(result, side.side),
                "freshness uses": view.basis if view else "—",
            }
        )
    return pd.DataFrame(rows)


def curve_frame(result: ProbeResult) -> pd.DataFrame:
    """side, date label, order, share: each side's curve of answers matching each date."""
    return pd.DataFrame(
        [
            {"side": side_label(s.side), "date": p.label, "order": i, "share": p.share}
            for s in result.sides
            for i, p in enumerate(s.estimate.curve)
        ]
    )


def render_ledger(result: ProbeResult, key: str) -> None:
    """Each fact's versions and what every side gives, stale answers marked; CSV download."""
    st.markdown("**Per-fact ledger** — which version each side gives (STALE: superseded)")
    rows = [
        {
            "question": row.question,
            "versions": "\n".join(row.versions),
            **{side_label(s): c.gives for s, c in row.cells.items()},
        }
        for row in ledger(result)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.download_button(
        "Download the ledger (CSV)",
        data=ledger_csv(result),
        file_name="ledger.csv",
        mime="text/csv",
        key=f"ledger_csv_{key}",
    )


def _plan(wb: Workbench, result: ProbeResult) -> None:
    st.markdown("**Re-tune plan** — the records newer than the tuned model's cutoff")
    plan = cached_plan(wb.settings.fingerprint(), result.made_at.isoformat(), wb, result)
    if isinstance(plan, str):
        st.info(plan)
        return
    st.caption(plan.lines()[0])
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "group": g.title,
                    "records": len(g.record_ids),
                    "facts": g.facts,
                    "asked": g.asked,
                    "what the research says": g.research,
                }
                for g in plan.groups
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    _plan_file(wb, plan)


@st.cache_data(show_spinner="Planning the re-tune…", max_entries=4)
def cached_plan(key: str, made_at: str, _wb: Workbench, _result: ProbeResult) -> RetunePlan | str:
    """The plan for one probe (cached per settings and probe); why there is none, as text."""
    try:
        return _wb.retune_plan(_result)
    except ValueError as err:
        return str(err)


def _plan_file(wb: Workbench, plan: RetunePlan) -> None:
    a, b, c = st.columns([2, 2, 1])
    groups = a.multiselect(
        "Train on",
        list(GROUPS),
        default=list(DEFAULT_GROUPS),
        format_func=lambda g: TITLES[g],
        key="plan_groups",
    )
    target = b.selectbox("Format", list(TARGETS), key="plan_target")
    paraphrases = c.number_input("Paraphrases", 0, 6, 2, key="plan_paraphrases")
    chosen = plan_records(plan, wb.records(), groups, int(paraphrases))
    written = export_records(chosen, target)
    st.download_button(
        f"Download the training file ({len(written.lines)} lines)",
        data="".join(f"{line}\n" for line in written.lines),
        file_name=f"retune-{target}.jsonl",
        mime="application/jsonl",
        disabled=not written.lines,
        key="plan_download",
    )
    if written.problems:
        st.warning(f"{len(written.problems)} record(s) could not be converted to {target}")
