"""The Evaluate tab: run the eval set and read quality with confidence intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from compare.comparison import Comparison
from compare.cost import CostSettings
from compare.diff import diff_runs, question_rows, side_rows
from compare.estimate import RunEstimate, estimate_for
from compare.freshness import batch_timeline
from compare.html_report import render_html
from compare.make_eval import write_eval
from compare.side_table import SIDE_NAMES
from compare.workbench import Workbench
from corpus.facts import FactHistory
from ui import charts, frames
from ui.state import (
    METRIC,
    METRIC_LABELS,
    apply_settings,
    eval_load,
    fact_index,
    settings_key,
    spread,
)


def run_evaluation(
    wb: Workbench, items: Sequence[Any], names: list[str], concurrency: int | None = None
) -> None:
    """Run the chosen questions through the chosen sides with a progress bar; keep the result."""
    ss = st.session_state
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{done}/{total} · {what}")

    ss.comparison = wb.compare(
        list(items),
        names,
        progress=progress,
        cost=ss.cost,
        advice=ss.advice,
        concurrency=concurrency,
    )
    bar.empty()


def render_evaluate(wb: Workbench, key: str) -> None:
    """Run the eval set, then per-question answers, quality with CIs, gaps, latency and history."""
    render_eval_source(wb)
    loaded = eval_load(wb)
    items = list(loaded.items)
    if loaded.rejects and items:
        st.warning(
            f"{len(loaded.rejects)} lines of the eval set are not questions and are left out; "
            f"{len(items)} questions load. Each line, what is wrong and how to fix it:",
            icon="⚠️",
        )
        st.dataframe(frames.rejects_frame(loaded.rejects), hide_index=True, width="stretch")
    if not items:
        first = loaded.rejects[0] if loaded.rejects else None
        st.error(
            f"No question to ask: {first.message} — {first.hint}"
            if first
            else "The eval set holds no question: make one from the corpus or pick another."
        )
        if len(loaded.rejects) > 1:
            st.dataframe(frames.rejects_frame(loaded.rejects), hide_index=True, width="stretch")
        return
    left, mid, conc, right = st.columns([3, 3, 2, 2])
    names = left.multiselect(
        "Sides",
        wb.answerer_names,
        default=wb.default_sides,
        format_func=charts.side_label,
        key="eval_names",
    )
    if len(items) > 1:
        n = mid.slider(
            "Questions",
            1,
            len(items),
            min(10, len(items)),
            key="eval_n",
            help="A few questions keep a demo fast; the whole set gives tighter intervals.",
        )
    else:  # a slider needs two ends
        n = len(items)
        mid.caption("1 question")
    concurrency = conc.number_input(
        "Asked at once",
        1,
        64,
        wb.settings.compare.concurrency,
        key="eval_concurrency",
        help="Questions asked at once per side behind an HTTP endpoint (and the judge). "
        "In-process sides answer one at a time. Order and scores are the same at any setting. "
        "4 suits the local model server (one request at a time, 8 waiting); a remote endpoint "
        "answers 300 ms calls 15x faster at 16.",
    )
    right.write("")
    if names:
        render_estimate(wb, spread(items, n), names)
    if right.button("Run evaluation", type="primary", key="run_eval", disabled=not names):
        run_evaluation(wb, spread(items, n), names, int(concurrency))
    comparison: Comparison | None = st.session_state.comparison
    if comparison is None:
        st.info("No evaluation yet. Answers are cached, so re-running only asks what changed.")
    else:
        render_results(comparison, fact_index(key, wb))
        render_download(wb, comparison)
    render_history(wb)


def render_estimate(wb: Workbench, items: Sequence[Any], names: list[str]) -> None:
    """The expected cost of the run about to start, per side, before anything is asked."""
    cost: CostSettings = st.session_state.cost
    path = wb.settings.compare.eval_path
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    # a finished run fills the cache and measures the sides; a rebuild changes the cache keys
    parts = (settings_key(wb.settings), f"{path}:{stamp}", len(items), cost.model_dump_json())
    key = "|".join(map(str, (*parts, len(wb.history()), wb.cache_keys(names))))
    try:
        made = _estimate(key, wb, items, names, cost)
    except Exception as err:  # an estimate must never keep a run from starting
        st.caption(f"Cost estimate unavailable: {err}")
        return
    st.caption(
        f"**Estimated cost of this run:** {made.line()}. Prompts: the question (plus "
        f"{made.k} passages of about {made.passage_tokens:.0f} tokens for a retrieving side); "
        "answers as long as the references or as measured in the last run."
    )


@st.cache_data(show_spinner="Estimating the cost…", max_entries=32)
def _estimate(
    key: str, _wb: Workbench, _items: Sequence[Any], names: list[str], _cost: CostSettings
) -> RunEstimate:
    return estimate_for(_wb, _items, names, _cost)


def render_download(wb: Workbench, c: Comparison) -> None:
    """The run as one self-contained HTML file to share."""
    st.download_button(
        "Download the report (HTML)",
        render_html(c, batch_timeline(wb.records())),
        file_name=f"rag-or-tune-{c.run.run_id}.html",
        mime="text/html",
        key="report_html",
        help="One file with the verdict and its criteria, quality with intervals, freshness, "
        "cost and every question; it needs no network to open.",
    )


def render_eval_source(wb: Workbench) -> None:
    """Which eval set runs, and a generator that writes one from the corpus."""
    path = wb.settings.compare.eval_path
    choices = eval_files(path, wb.settings.compare.work_dir)
    if st.session_state.get("eval_file") != path:
        # the picker follows the setting, which "Make eval set" and the Settings tab change too
        st.session_state.eval_file = path
    st.selectbox(
        "Eval set",
        choices,
        format_func=lambda p: f"{p.name}  ({p.parent})",
        key="eval_file",
        on_change=_use_picked_eval,
        help="The demo's questions, its multiple-choice questions about news passages, and the "
        "sets made here from the corpus.",
    )
    if st.session_state.get("made_eval"):  # outside the expander, which closes on the rerun
        st.success(st.session_state.made_eval)
    with st.expander("Make an eval set from the corpus"):
        st.caption(
            "A sample stratified by batch, language and kind of fact (stable / changed / new), each "
            "question reworded so it is not the training text; a changed fact is asked today and "
            "as of the day its older answer held."
        )
        a, b, c = st.columns(3)
        size = a.number_input("Items", 5, 2000, 40, key="make_size")
        seed = b.number_input("Seed", 0, 10**6, 0, key="make_seed")
        endpoint = c.toggle(
            "Reword through the endpoint",
            False,
            key="make_endpoint",
            help="Off: offline rules (new question frame, synonyms). On: the tuning endpoint "
            "rewrites each question; a copy or a leaked answer falls back to the rules.",
        )
        if st.button("Make eval set", key="make_eval"):
            with st.spinner("Sampling and rewording…"):
                made = wb.make_eval(int(size), int(seed), endpoint=endpoint)
            out = wb.settings.compare.work_dir / "evals" / f"generated-{int(seed)}.jsonl"
            write_eval(made, out)
            st.session_state.made_eval = made.summary()
            apply_settings(compare_eval_path=out)
            st.rerun()


def _use_picked_eval() -> None:
    """The eval file picked becomes the session's setting (runs before the next script run)."""
    apply_settings(compare_eval_path=st.session_state.eval_file)


def eval_files(current: Path, work_dir: Path) -> list[Path]:
    """The eval files to choose from: the current one, the demo's, and the generated ones."""
    found = [
        current,
        *sorted(Path("data/eval").glob("*.jsonl")),
        *sorted((work_dir / "evals").glob("*.jsonl")),
    ]
    return list(dict.fromkeys(found))


def render_results(c: Comparison, facts: Mapping[str, FactHistory] | None = None) -> None:
    """Headline tiles, charts and the per-question table of one comparison."""
    run = c.run
    st.caption(
        f"Run `{run.run_id}` · {len(run.items)} questions · {run.started_at:%Y-%m-%d %H:%M} UTC"
    )
    headline = c.advice.inputs.metric
    tiles = st.columns(len(run.answerers) + (c.summary.chance is not None))
    for tile, name in zip(tiles, run.answerers, strict=False):
        q = c.summary.quality_of(name, headline)
        side = next(s for s in c.summary.sides if s.answerer == name)
        value = f"{q.overall.mean:.3f}" if q else "—"
        note = (
            f"{side.errors} errors" if side.errors else f"p50 {side.latency_p50_s * 1000:,.0f} ms"
        )
        tile.metric(
            f"{charts.side_label(name)} · {METRIC_LABELS.get(headline, headline)}",
            value,
            note,
            delta_color="off",
            delta_arrow="off",
        )
    if c.summary.chance is not None:
        tiles[-1].metric(
            "Chance (multiple choice)",
            f"{c.summary.chance:.3f}",
            "1 / number of choices",
            delta_color="off",
            delta_arrow="off",
        )
    present = c.summary.metrics()
    metric = (
        st.segmented_control(
            "Quality metric",
            present,
            default=headline if headline in present else METRIC,
            format_func=lambda m: METRIC_LABELS.get(m, m),
            key="eval_metric",
            help="token F1: words shared with the reference; answer contains reference: the "
            "reference (or an alias) stated as whole words, the accuracy of PopQA-style studies "
            "and the fairer measure when answers are passages; choice accuracy: multiple-choice "
            "items; figures: share of the reference's numbers the answer states (what goes stale "
            "when a fact changes).",
        )
        or METRIC
    )
    quality, gaps, latency = st.columns([5, 4, 3])
    with quality:
        st.markdown("**Quality by what each side knows** (95% CI)")
        st.altair_chart(
            charts.quality_chart(frames.quality_frame(c, metric), metric), width="stretch"
        )
    with gaps:
        st.markdown("**Gaps between sides** (paired 95% CI; crossing 0 = noise)")
        frame = frames.gap_frame(c, metric)
        if frame.empty:
            st.caption("Pick two or more answerers to compare them.")
        else:
            st.altair_chart(charts.gap_chart(frame, metric), width="stretch")
    with latency:
        st.markdown("**Latency** answering p50 / p95, and the wait for a busy model")
        st.altair_chart(charts.latency_chart(frames.latency_frame(c)), width="stretch")
    kinds = frames.kind_frame(c, metric)
    if not kinds.empty:
        chart_column, note_column = st.columns([5, 7])
        with chart_column:
            st.markdown("**Quality by kind of fact** (95% CI)")
            order = list(dict.fromkeys(kinds["split"]))
            st.altair_chart(charts.quality_chart(kinds, metric, order), width="stretch")
        with note_column:
            st.markdown("**How to read it**")
            st.caption(
                "Stable facts never changed; changed facts were restated in a later batch "
                "(a new price, a new limit); new facts arrived after the older batches. A model "
                "tuned on the older batches answers changed facts with the old figures and new "
                "facts not at all; retrieval answers from whatever the index last built. Switch "
                "the metric to *figures stated* to see stale numbers that token F1 forgives."
            )
    st.markdown(
        "**Per question** — every side side by side; ⚠ marks an answer that gives a "
        "superseded version of its fact"
    )
    suffix = frames.metric_short(metric)
    config: dict[str, Any] = {
        "question": st.column_config.TextColumn(width="medium", pinned=True),
        "reference": st.column_config.TextColumn(width="small"),
        "kind": st.column_config.TextColumn(width="small"),
    }
    for n in run.answerers:
        label = charts.side_label(n)
        config[label] = st.column_config.TextColumn(width="medium")
        config[f"{label} {suffix}"] = st.column_config.ProgressColumn(
            format="%.2f", min_value=0.0, max_value=1.0, width="small"
        )
    st.dataframe(
        frames.question_frame(c, facts, metric),
        hide_index=True,
        width="stretch",
        column_config=config,
    )


def render_history(wb: Workbench) -> None:
    """Past runs and their headline quality, to follow quality over time."""
    runs = wb.history()
    if not runs:
        return
    st.subheader(f"Run history ({len(runs)})")
    table, points = frames.history_frames(runs)
    left, right = st.columns([3, 2])
    left.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=min(220, 38 + 35 * len(table)),  # no empty rows under a short history
        column_config={
            charts.side_label(n): st.column_config.NumberColumn(format="%.3f") for n in SIDE_NAMES
        },
    )
    if len(points) > 1:
        metric = runs[-1].metric
        right.altair_chart(charts.history_chart(points, metric), width="stretch")
    if len(runs) > 1:
        render_diff(wb, [r.run_id for r in runs])


def render_diff(wb: Workbench, run_ids: list[str]) -> None:
    """Two runs side by side: questions fixed and broken, metric change, verdict and criteria."""
    st.markdown("**Compare two runs**")
    left, right = st.columns(2)
    newest_first = list(reversed(run_ids))
    a = left.selectbox("Earlier run (A)", newest_first, index=1, key="diff_a")
    b = right.selectbox("Later run (B)", newest_first, index=0, key="diff_b")
    db = wb.db()
    before, after = db.comparison_json(a), db.comparison_json(b)
    if a == b or before is None or after is None:
        st.caption("Pick two different runs that kept their results.")
        return
    d = diff_runs(Comparison.model_validate_json(before), Comparison.model_validate_json(after))
    if d.verdict_changed:
        st.warning(f"Verdict changed: {d.headline_a} → {d.headline_b}")
    else:
        st.caption(f"Verdict unchanged: {d.headline_b}")
    if d.criteria:
        st.dataframe([c.model_dump() for c in d.criteria], hide_index=True, width="stretch")
    st.caption(
        f"{d.shared} shared questions; {len(d.only_a)} only in A, {len(d.only_b)} only in B "
        f"({d.metric}; a score of {d.right_at:g} or more counts as right)."
    )
    st.dataframe(side_rows(d), hide_index=True, width="stretch")
    moved = question_rows(d)
    if moved:
        with st.expander(f"Questions that moved ({len(moved)})"):
            st.dataframe(moved, hide_index=True, width="stretch")
