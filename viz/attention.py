"""Figures of the Attention page: pure functions from arrays to `go.Figure`.

Attention matrices are drawn with the query (the position that looks) down
the rows, top to bottom, and the key (the position looked at) along the
columns, so reversal's ideal pattern is the anti-diagonal from top right to
bottom left. Positions, not token labels, are the axis values (a token can
appear twice); the labels are the tick texts.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.theme import (
    DIVERGING, OKABE_ITO, TEST_COLOR, TRAIN_COLOR, downsample, figure_from_dicts, legend_below, log_axis, styled,
)

ATTENTION_SCALE = [[0.0, "#ffffff"], [0.25, "#c6dbef"], [0.6, "#4a90c2"], [1.0, "#08306b"]]
# The model view's row of heads: tall enough for a square matrix of a head, which is at most as wide as the main
# column (~880 px on a 1280 px laptop) shared by the heads of a layer, plus its tick labels and the next row's titles.
MODEL_VIEW_ROW_PX, MAIN_WIDTH_PX, ROW_LABELS_PX = 400, 880, 60
LINE_LEVELS = 6  # line widths/opacities the head view draws in (one trace each)


def head_name(layer: int, head: int) -> str:
    return f"L{layer + 1} H{head + 1}"


def _position_ticks(labels: Sequence[str]) -> dict:
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=list(labels))


def _domain(start: float, end: float) -> list[float]:
    """An axis domain in [0, 1] (sums of spacings land a hair outside)."""
    return [min(1.0, max(0.0, round(start, 9))), min(1.0, max(0.0, round(end, 9)))]


def model_view(attention: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str],
               ideal: np.ndarray | None = None, heads_off: Sequence[tuple[int, int]] = (),
               title: str = "Attention of every layer × head") -> go.Figure:
    """attention (layers, heads, Q, K) as a grid of heatmaps, layer per row, head per column.

    `ideal` (Q, K) bool marks where the task says to look (small dots); heads in
    `heads_off` are titled as switched off. Written as plain dicts (the grid that
    make_subplots would lay out): the page redraws it at every live refresh.
    """
    layers, heads, n_queries, n_keys = attention.shape
    off = {tuple(h) for h in heads_off}
    h_gap = 0.06 / max(1, heads - 1) if heads > 1 else 0.02
    v_gap = 0.12 / max(1, layers - 1) if layers > 1 else 0.05
    width, height = (1 - h_gap * (heads - 1)) / heads, (1 - v_gap * (layers - 1)) / layers
    labels = np.array([[(query_labels[q], key_labels[k]) for k in range(n_keys)] for q in range(n_queries)],
                      dtype=object)
    ideal_q, ideal_k = np.nonzero(ideal) if ideal is not None else ((), ())
    data, layout, titles = [], {}, []
    for layer in range(layers):
        for head in range(heads):
            cell = layer * heads + head + 1
            suffix = "" if cell == 1 else str(cell)
            left, top = head * (width + h_gap), 1 - layer * (height + v_gap)
            name = head_name(layer, head)
            data.append({"type": "heatmap", "z": attention[layer, head].astype(np.float32),
                         "x": np.arange(n_keys), "y": np.arange(n_queries), "coloraxis": "coloraxis",
                         "customdata": labels, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                         "hovertemplate": f"{name}<br>query %{{y}} (%{{customdata[0]}}) → key %{{x}} "
                                          "(%{customdata[1]})<br>attention %{z:.3f}<extra></extra>"})
            if len(ideal_q):
                data.append({"type": "scatter", "x": ideal_k, "y": ideal_q, "mode": "markers", "hoverinfo": "skip",
                             "showlegend": False, "marker": {"size": 5, "color": TEST_COLOR, "symbol": "circle"},
                             "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
            layout[f"xaxis{suffix}"] = {
                "anchor": f"y{suffix}", "domain": _domain(left, left + width), "showgrid": False, "constrain": "domain",
                "showticklabels": True, "tickfont": {"size": 11 if n_keys > 12 else 13}, **_position_ticks(key_labels),
                **({"title": {"text": "key (looked at)"}} if layer == layers - 1 else {})}
            layout[f"yaxis{suffix}"] = {
                "anchor": f"x{suffix}", "domain": _domain(top - height, top), "showgrid": False,
                # square cells: a matrix reads as one (a single head filled the page's width with 8 flat bars)
                "scaleanchor": f"x{suffix}", "constrain": "domain", "constraintoward": "top", "autorange": "reversed",
                "showticklabels": head == 0,
                "tickfont": {"size": 11 if n_queries > 12 else 13}, **_position_ticks(query_labels),
                **({"title": {"text": "query (looks)"}} if head == 0 else {})}
            titles.append({"text": name + (" (off)" if (layer, head) in off else ""), "x": left + width / 2,
                           "y": top, "xref": "paper", "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                           "showarrow": False, "font": {"size": 16}})
    row_px = min(MODEL_VIEW_ROW_PX, max(200, MAIN_WIDTH_PX // heads + ROW_LABELS_PX))
    layout.update(annotations=titles, height=max(320, 60 + row_px * layers),
                  coloraxis={"colorscale": ATTENTION_SCALE, "cmin": 0, "cmax": 1,
                             "colorbar": {"title": {"text": "attention"}, "thickness": 14}})
    return figure_from_dicts(data, layout, title)


def head_lines(attention: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str],
               selected: int | None = None, threshold: float = 0.0, title: str = "Token to token") -> go.Figure:
    """One head's attention (Q, K) as lines from each query token (left) to the key tokens (right).

    A line's width and opacity grow with its weight; weights below `threshold`
    are hidden; with `selected` set, only that query's lines are drawn.
    """
    n_queries, n_keys = attention.shape
    fig = go.Figure()
    xs: list[list[float | None]] = [[] for _ in range(LINE_LEVELS)]
    ys: list[list[float | None]] = [[] for _ in range(LINE_LEVELS)]
    for q in range(n_queries):
        if selected is not None and q != selected:
            continue
        for k in range(n_keys):
            weight = float(attention[q, k])
            if weight < threshold or weight <= 0:
                continue
            level = min(LINE_LEVELS - 1, int(weight * LINE_LEVELS))
            xs[level] += [0.0, 1.0, None]
            ys[level] += [-q, -k, None]
    for level in range(LINE_LEVELS):
        if not xs[level]:
            continue
        strength = (level + 0.5) / LINE_LEVELS
        fig.add_trace(go.Scatter(x=xs[level], y=ys[level], mode="lines", hoverinfo="skip", showlegend=False,
                                 name=f"attention {level / LINE_LEVELS:.2f}–{(level + 1) / LINE_LEVELS:.2f}",
                                 line=dict(color=OKABE_ITO[0], width=0.8 + 7 * strength),
                                 opacity=0.15 + 0.85 * strength))
    query_colors = [TEST_COLOR if q == selected else "#1f2430" for q in range(n_queries)]
    fig.add_trace(go.Scatter(x=[-0.04] * n_queries, y=[-q for q in range(n_queries)], mode="text",
                             text=list(query_labels), textposition="middle left", showlegend=False,
                             textfont=dict(size=17, color=query_colors), hoverinfo="skip", name="queries"))
    fig.add_trace(go.Scatter(x=[1.04] * n_keys, y=[-k for k in range(n_keys)], mode="text", text=list(key_labels),
                             textposition="middle right", showlegend=False, textfont=dict(size=17),
                             hoverinfo="skip", name="keys"))
    fig.update_xaxes(visible=False, range=[-0.3, 1.3])
    fig.update_yaxes(visible=False, range=[-max(n_queries, n_keys) + 0.4, 0.6])
    fig.add_annotation(x=0, y=0.9, text="query (looks)", showarrow=False, yanchor="bottom", font=dict(size=13))
    fig.add_annotation(x=1, y=0.9, text="key (looked at)", showarrow=False, yanchor="bottom", font=dict(size=13))
    fig.update_layout(margin=dict(l=20, r=20, t=70, b=20))
    return styled(fig, title, height=max(320, 90 + 26 * max(n_queries, n_keys)))


def line_count(fig: go.Figure) -> int:
    """Query→key lines drawn in a `head_lines` figure."""
    return sum(sum(1 for x in trace.x if x is None) for trace in fig.data if trace.mode == "lines")


def training_curves(history: Mapping[str, tuple[np.ndarray, np.ndarray]], pattern_name: str,
                    title: str = "Loss, accuracy and attention pattern") -> go.Figure:
    """Loss (log scale, left) against accuracy and the best head's pattern score (0–1, right), by step."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    traces = [("loss", "training loss", TRAIN_COLOR, False, "solid"),
              ("heldout_loss", "held-out loss", TEST_COLOR, False, "solid"),
              ("heldout_sequence_accuracy", "held-out sequences right", OKABE_ITO[2], True, "solid"),
              ("heldout_token_accuracy", "held-out tokens right", OKABE_ITO[2], True, "dot"),
              ("pattern_mass", f"best head's {pattern_name}", OKABE_ITO[3], True, "solid")]
    for name, label, color, right, dash in traces:
        if name not in history or not len(history[name][0]):
            continue
        steps, values = downsample(*history[name])
        fig.add_trace(go.Scatter(x=steps, y=values, name=label, mode="lines", line=dict(color=color, dash=dash,
                                 width=3 if name == "pattern_mass" else 2)), secondary_y=right)
    fig.update_xaxes(title_text="step")
    losses = [history[name][1] for name in ("loss", "heldout_loss") if name in history]
    fig.update_yaxes(log_axis(*losses, title=dict(text="loss (cross-entropy)")), secondary_y=False)
    # Fixed ticks: otherwise Plotly lines the right axis's ticks up with the log axis's.
    fig.update_yaxes(title_text="accuracy · pattern score", range=[0, 1.02], tickmode="linear", tick0=0, dtick=0.2,
                     showgrid=False, secondary_y=True)
    fig.update_layout(legend=legend_below(), margin=dict(r=70, b=110))
    return styled(fig, title, height=460)


def ablation_heatmap(accuracy: np.ndarray, baseline: float, title: str = "Held-out accuracy with one head off"
                     ) -> go.Figure:
    """accuracy (layers, heads): held-out accuracy with that head switched off alone; `baseline` with all on."""
    layers, heads = accuracy.shape
    text = [[f"{accuracy[layer, h]:.1%}<br>({accuracy[layer, h] - baseline:+.1%})" for h in range(heads)]
            for layer in range(layers)]
    fig = go.Figure(go.Heatmap(
        z=accuracy, x=[f"head {h + 1}" for h in range(heads)], y=[f"layer {layer + 1}" for layer in range(layers)],
        text=text, texttemplate="%{text}", textfont=dict(size=16), zmin=0, zmax=1, colorscale="Viridis",
        colorbar=dict(title="accuracy", thickness=14),
        hovertemplate="%{y}, %{x} off<br>accuracy %{z:.3f}<extra></extra>"))
    fig.update_xaxes(showgrid=False, side="top")
    fig.update_yaxes(showgrid=False, autorange="reversed")
    fig.update_layout(margin=dict(t=90))
    return styled(fig, f"{title} (all on: {baseline:.1%})", height=max(260, 140 + 90 * layers))


def positional_view(encoding: np.ndarray, similarity: np.ndarray, title: str = "Positional encodings"
                    ) -> go.Figure:
    """encoding (positions, d_model) and its dot products between positions (positions, positions)."""
    positions = np.arange(encoding.shape[0])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.14,
                        subplot_titles=["encoding of each position", "dot product between positions"])
    bound = float(np.abs(encoding).max()) or 1.0
    left_end = fig.layout.xaxis.domain[1]
    fig.add_trace(go.Heatmap(z=encoding, x=np.arange(encoding.shape[1]), y=positions, colorscale=DIVERGING,
                             zmin=-bound, zmax=bound, colorbar=dict(x=left_end + 0.01, xanchor="left", thickness=12),
                             hovertemplate="position %{y}, dim %{x}: %{z:.3f}<extra></extra>"), row=1, col=1)
    sim_bound = float(np.abs(similarity).max()) or 1.0
    fig.add_trace(go.Heatmap(z=similarity, x=positions, y=positions, colorscale=DIVERGING, zmin=-sim_bound,
                             zmax=sim_bound, colorbar=dict(x=1.0, thickness=12),
                             hovertemplate="positions %{y} · %{x}: %{z:.2f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text="dimension", showgrid=False, row=1, col=1)
    fig.update_xaxes(title_text="position", showgrid=False, row=1, col=2)
    fig.update_yaxes(title_text="position", showgrid=False, autorange="reversed")
    return styled(fig, title, height=420)
