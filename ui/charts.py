"""Altair charts for the app: every chart takes a plain DataFrame and colours each side the same way."""

from __future__ import annotations

import altair as alt
import pandas as pd

from compare.side_table import SIDE_TABLE, side_for, side_label

__all__ = ["SIDE_COLORS", "side_label"]

# One label and one colour per side (from the side table), used by every chart and header.
SIDE_COLORS = {s.label: s.color for s in SIDE_TABLE}
SPLIT_ORDER = ["all questions", "facts it knows", "facts it has not seen"]
# what each freshness view is the knowledge of
KNOWLEDGE_LABELS = {
    "index": "Retrieval index",
    "tuned": "Tuned model",
    side_for("previous", retrieves=False): "Previous tuned model",
}


def _side_color(field: str = "side") -> alt.Color:
    labels = list(SIDE_COLORS)
    return alt.Color(
        f"{field}:N",
        title=None,
        scale=alt.Scale(domain=labels, range=[SIDE_COLORS[x] for x in labels]),
        legend=alt.Legend(orient="top"),
    )


def quality_chart(df: pd.DataFrame, metric: str, order: list[str] | None = None) -> alt.LayerChart:
    """Grouped bars of mean quality per side and split, with 95% CI error bars.

    Columns: side, split, mean, low, high, n. `order` is the splits' order (default SPLIT_ORDER).
    """
    base = alt.Chart(df).encode(
        x=alt.X("split:N", sort=order or SPLIT_ORDER, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("side:N", sort=list(SIDE_COLORS)),
    )
    bars = base.mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(
        y=alt.Y("mean:Q", title=f"mean {metric}", scale=alt.Scale(domain=[0, 1])),
        color=_side_color(),
        tooltip=["side", "split", alt.Tooltip("mean:Q", format=".3f"), "low", "high", "n"],
    )
    errors = base.mark_errorbar(ticks=True, color="#333").encode(
        y=alt.Y("low:Q", title=f"mean {metric}"), y2="high:Q"
    )
    return (bars + errors).properties(height=280)


def gap_chart(df: pd.DataFrame, metric: str) -> alt.LayerChart:
    """Pairwise differences with paired-bootstrap CIs; an interval that crosses zero is noise.

    Columns: pair, mean, low, high, beyond_noise.
    """
    base = alt.Chart(df).encode(y=alt.Y("pair:N", title=None, axis=alt.Axis(labelLimit=220)))
    rule = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("low:Q", title=f"difference in {metric} (95% CI)"),
        x2="high:Q",
        color=alt.Color(
            "beyond_noise:N",
            title="beyond noise",
            scale=alt.Scale(domain=["yes", "no"], range=["#2b9348", "#9e9e9e"]),
            legend=alt.Legend(orient="top"),
        ),
    )
    point = base.mark_point(filled=True, size=90, color="#222").encode(
        x="mean:Q", tooltip=["pair", alt.Tooltip("mean:Q", format="+.3f"), "low", "high"]
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return (rule + point + zero).properties(height=alt.Step(44))


def latency_chart(df: pd.DataFrame) -> alt.Chart:
    """Answering p50 and p95 per side, and the median wait for a busy model. Columns: side, stat,
    ms."""
    return (
        alt.Chart(df)
        .mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
        .encode(
            x=alt.X(
                "stat:N", title=None, sort=["p50", "p95", "wait p50"], axis=alt.Axis(labelAngle=0)
            ),
            xOffset=alt.XOffset("side:N", sort=list(SIDE_COLORS)),
            y=alt.Y("ms:Q", title="latency (ms)"),
            color=_side_color(),
            tooltip=["side", "stat", alt.Tooltip("ms:Q", format=",.0f")],
        )
        .properties(height=280)
    )


def timeline_chart(batches: pd.DataFrame, marks: pd.DataFrame) -> alt.LayerChart:
    """Records per corpus batch over time, with rules at the index build and the tuning cutoff.

    batches: date, records, batch; marks: date, what.
    """
    bars = (
        alt.Chart(batches)
        .mark_bar(size=28, color="#5b6770", cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
        .encode(
            x=alt.X("date:T", title="corpus batch date"),
            y=alt.Y("records:Q", title="records"),
            tooltip=["batch", alt.Tooltip("date:T"), "records"],
        )
    )
    layers: list[alt.Chart] = [bars]
    if not marks.empty:
        color = alt.Color(
            "what:N",
            title=None,
            scale=alt.Scale(domain=["index built", "tuning cutoff"], range=["#1c83e1", "#ff8c1a"]),
            legend=alt.Legend(orient="top"),
        )
        rules = (
            alt.Chart(marks)
            .mark_rule(strokeWidth=3, strokeDash=[6, 3])
            .encode(x="date:T", color=color, tooltip=["what", alt.Tooltip("date:T")])
        )
        layers.append(rules)
    return alt.LayerChart(layer=layers).properties(height=260)


def cost_curve_chart(df: pd.DataFrame, volume: int) -> alt.LayerChart:
    """Monthly cost against queries per month per side (log x), with a rule at the planned volume.

    Columns: side, queries_per_month, usd_per_month.
    """
    lines = (
        alt.Chart(df)
        .mark_line(strokeWidth=3)
        .encode(
            x=alt.X("queries_per_month:Q", title="queries per month", scale=alt.Scale(type="log")),
            y=alt.Y("usd_per_month:Q", title="USD per month"),
            color=_side_color(),
            tooltip=[
                "side",
                alt.Tooltip("queries_per_month:Q", format=","),
                alt.Tooltip("usd_per_month:Q", format="$,.2f"),
            ],
        )
    )
    planned = (
        alt.Chart(pd.DataFrame({"x": [max(volume, 1)]}))
        .mark_rule(strokeDash=[4, 4], color="#555")
        .encode(x="x:Q")
    )
    return (lines + planned).properties(height=300)


def history_chart(df: pd.DataFrame, metric: str) -> alt.Chart:
    """Headline quality per side over past runs. Columns: started_at, side, value."""
    return (
        alt.Chart(df)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            # a date-time format: with one run Vega-Lite would otherwise label milliseconds
            x=alt.X(
                "started_at:T",
                title="run started",
                axis=alt.Axis(format="%d %b %H:%M", labelAngle=0, tickCount=5),
            ),
            y=alt.Y("value:Q", title=f"mean {metric}", scale=alt.Scale(domain=[0, 1])),
            color=_side_color(),
            tooltip=[
                "side",
                alt.Tooltip("started_at:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("value:Q", format=".3f"),
            ],
        )
        .properties(height=220)
    )


def probe_curve_chart(df: pd.DataFrame) -> alt.LayerChart:
    """Per side, the share of probed facts it gives as each date had them: the peak is its
    effective cutoff.

    Columns: side, date (a batch, or "before the corpus"), order, share.
    """
    base = alt.Chart(df).encode(
        x=alt.X("date:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(
            "share:Q", title="facts given as that date had them", scale=alt.Scale(domain=[0, 1])
        ),
        color=_side_color(),
        tooltip=["side", "date", alt.Tooltip("share:Q", format=".2f")],
    )
    return alt.LayerChart(
        layer=[base.mark_line(), base.mark_point(filled=True, size=70)]
    ).properties(height=240)
