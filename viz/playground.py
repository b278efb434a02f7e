"""Figures of the network playground. Pure functions: plain arrays in, go.Figure out."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.theme import (DIVERGING, TEST_COLOR, TRAIN_COLOR, class_color, downsample, styled)

TILE, GAP = 24, 10  # neuron tile size and gap between tiles (in grid cells) in the network figure


def _class_scale(n_classes: int) -> list:
    """Probability of class 1 from class 0's colour through white to class 1's."""
    return [[0.0, class_color(0)], [0.5, "#f7f7f7"], [1.0, class_color(1)]]


def decision_boundary(grid_x1: np.ndarray, grid_x2: np.ndarray | None, surface: np.ndarray, task: str,
                      x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      show_test: bool = True, title: str = "Output",
                      kinks: tuple[np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """The network's output over the input plane with the data on top.

    surface: (n2, n1) P(class 1) for binary, (n2, n1, k) probabilities for
    multiclass, (n2, n1) values for regression; for 1-D data (grid_x2 None) a
    curve of length n1, and optionally the (x, y) points where a piecewise-linear
    network bends, marked and joined exactly.
    """
    fig = go.Figure()
    if grid_x2 is None:
        return _function_fit(fig, grid_x1, surface, x_train, y_train, x_test, y_test, show_test, title, kinks)
    if task == "multiclass":
        k = surface.shape[-1]
        winner = surface.argmax(axis=-1)
        confidence = surface.max(axis=-1)
        # Colour by the winning class; fade to white where the network is unsure.
        for c in range(k):
            z = np.where(winner == c, confidence, np.nan)
            fig.add_trace(go.Heatmap(x=grid_x1, y=grid_x2, z=z, zmin=1.0 / k, zmax=1.0, showscale=False,
                                     colorscale=[[0, "#ffffff"], [1, class_color(c)]], opacity=0.75,
                                     hovertemplate=f"class {c}: p=%{{z:.2f}}<extra></extra>"))
    elif task == "regression":
        fig.add_trace(go.Heatmap(x=grid_x1, y=grid_x2, z=surface, zmin=-1, zmax=1, colorscale=DIVERGING,
                                 opacity=0.8, colorbar=dict(title="output", thickness=12),
                                 hovertemplate="x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>output %{z:.3f}<extra></extra>"))
    else:
        fig.add_trace(go.Heatmap(x=grid_x1, y=grid_x2, z=surface, zmin=0, zmax=1, colorscale=_class_scale(2),
                                 opacity=0.75, colorbar=dict(title="P(class 1)", thickness=12),
                                 hovertemplate="x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>P(class 1)=%{z:.2f}<extra></extra>"))
        fig.add_trace(go.Contour(x=grid_x1, y=grid_x2, z=surface, showscale=False, contours=dict(
            start=0.5, end=0.5, size=1, coloring="none"), line=dict(color="#333", width=2), hoverinfo="skip",
            showlegend=False))
    _add_points(fig, x_train, y_train, task, "train", filled=True)
    if show_test:
        _add_points(fig, x_test, y_test, task, "test", filled=False)
    fig.update_xaxes(title="x₁", range=[grid_x1[0], grid_x1[-1]], showgrid=False)
    fig.update_yaxes(title="x₂", range=[grid_x2[0], grid_x2[-1]], showgrid=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(height=470, margin=dict(l=50, r=10, t=50, b=40),
                      legend=dict(orientation="h", y=-0.2, x=0, font=dict(size=12), itemwidth=30))
    return styled(fig, title)


def _add_points(fig: go.Figure, x: np.ndarray, y: np.ndarray, task: str, name: str, filled: bool) -> None:
    if len(x) == 0:
        return
    symbol = "circle" if filled else "circle-open"
    if task == "regression":
        fig.add_trace(go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name=name, marker=dict(
            color=y, colorscale=DIVERGING, cmin=-1, cmax=1, size=7, symbol=symbol,
            line=dict(color="#222", width=1)), hovertemplate=f"{name}: target %{{marker.color:.2f}}<extra></extra>"))
        return
    for c in np.unique(y):
        mask = y == c
        fig.add_trace(go.Scatter(
            x=x[mask, 0], y=x[mask, 1], mode="markers", name=f"{name} class {c}", legendgroup=name,
            marker=dict(color=class_color(int(c)), size=7, symbol=symbol,
                        line=dict(color="white" if filled else class_color(int(c)), width=1 if filled else 2)),
            hovertemplate=f"{name}, class {c}<br>x₁=%{{x:.2f}}, x₂=%{{y:.2f}}<extra></extra>"))


def _function_fit(fig, grid_x1, curve, x_train, y_train, x_test, y_test, show_test, title, kinks) -> go.Figure:
    fig.add_trace(go.Scatter(x=x_train[:, 0], y=y_train, mode="markers", name="train",
                             marker=dict(color=TRAIN_COLOR, size=6)))
    if show_test and len(x_test):
        fig.add_trace(go.Scatter(x=x_test[:, 0], y=y_test, mode="markers", name="test",
                                 marker=dict(color=TEST_COLOR, size=6, symbol="circle-open")))
    x, y = np.asarray(grid_x1, dtype=float), np.ravel(curve).astype(float)
    if kinks is not None:  # the curve is straight between bends: joining the grid and the bends draws it exactly
        order = np.argsort(np.r_[x, kinks[0]], kind="stable")
        x, y = np.r_[x, kinks[0]][order], np.r_[y, kinks[1]][order]
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="network", line=dict(color="#222", width=3)))
    if kinks is not None:
        fig.add_trace(go.Scatter(x=kinks[0], y=kinks[1], mode="markers", name=f"bends: {len(kinks[0]) + 1} pieces",
                                 marker=dict(color="#d55e00", size=7, symbol="diamond", line=dict(color="white",
                                                                                                  width=1)),
                                 hovertemplate="bend at x₁=%{x:.3f}<extra></extra>"))
    fig.update_xaxes(title="x₁")
    fig.update_yaxes(title="y")
    fig.update_layout(height=470, legend=dict(orientation="h", y=-0.2))
    return styled(fig, title)


def network_diagram(layer_names: Sequence[str], unit_names: Sequence[Sequence[str]],
                    neuron_grids: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                    max_links_per_layer: int = 300, title: str = "Network") -> go.Figure:
    """Every neuron drawn as a small heatmap of its output over the input plane
    (as TensorFlow Playground does), linked to the next layer by lines whose
    width is the weight's magnitude and whose colour is its sign (blue −, orange +).

    neuron_grids[l]: (units, h, w) for 2-D inputs or (units, n) for 1-D inputs.
    weights[l]: (units in layer l+1, units in layer l).
    """
    tiles = [_as_tiles(grid) for grid in neuron_grids]
    n_layers = len(tiles)
    tallest = max(len(t) for t in tiles)
    height = tallest * (TILE + GAP)
    width = n_layers * (TILE + 3 * GAP)
    canvas = np.full((height, width), np.nan)
    centres: list[list[tuple[float, float]]] = []
    for layer, layer_tiles in enumerate(tiles):
        left = layer * (TILE + 3 * GAP)
        top0 = (height - len(layer_tiles) * (TILE + GAP)) // 2
        layer_centres = []
        for unit, tile in enumerate(layer_tiles):
            top = top0 + unit * (TILE + GAP)
            canvas[top:top + TILE, left:left + TILE] = tile
            layer_centres.append((left + TILE / 2, top + TILE / 2))
        centres.append(layer_centres)
    fig = go.Figure(go.Heatmap(z=canvas, colorscale=DIVERGING, zmin=-1, zmax=1, showscale=False,
                               hovertemplate="scaled output %{z:.2f}<extra></extra>", hoverongaps=False))
    _add_links(fig, centres, weights, max_links_per_layer)
    for layer, name in enumerate(layer_names):
        fig.add_annotation(x=layer * (TILE + 3 * GAP) + TILE / 2, y=-GAP, text=f"<b>{name}</b>", showarrow=False,
                           yanchor="bottom", font=dict(size=13))
    for unit, label in enumerate(unit_names[0]):
        x, y = centres[0][unit]
        fig.add_annotation(x=x - TILE / 2 - 2, y=y, text=label, showarrow=False, xanchor="right",
                           font=dict(size=12))
    fig.update_xaxes(visible=False, range=[-3 * GAP, width])
    fig.update_yaxes(visible=False, autorange="reversed", range=[height, -3 * GAP])
    fig.update_layout(height=max(260, min(900, 24 * tallest + 120)), margin=dict(l=10, r=10, t=50, b=10))
    return styled(fig, title)


def _as_tiles(grid: np.ndarray) -> list[np.ndarray]:
    """Each unit's output scaled to [-1, 1] (by its own max |value|) and resampled to TILE×TILE."""
    tiles = []
    for unit in grid:
        image = unit if unit.ndim == 2 else np.tile(unit[None, :], (TILE, 1))
        rows = np.linspace(0, image.shape[0] - 1, TILE).round().astype(int)
        cols = np.linspace(0, image.shape[1] - 1, TILE).round().astype(int)
        image = image[np.ix_(rows, cols)]
        scale = np.abs(image).max()
        tiles.append(image / scale if scale > 1e-12 else image)
    return tiles


def _add_links(fig: go.Figure, centres, weights, max_links: int) -> None:
    """Links bucketed by |w| into a few widths per sign, so a big network needs ~10 traces, not thousands."""
    magnitude_max = max((float(np.abs(w).max()) for w in weights if w.size), default=1.0) or 1.0
    buckets: dict[tuple[int, bool], tuple[list, list]] = {}
    for layer, w in enumerate(weights):
        flat = np.abs(w).ravel()
        keep = np.argsort(flat)[::-1][:max_links]
        for index in keep:
            dest, src = divmod(int(index), w.shape[1])
            value = float(w[dest, src])
            bucket = min(4, int(5 * abs(value) / magnitude_max))
            xs, ys = buckets.setdefault((bucket, value >= 0), ([], []))
            (x0, y0), (x1, y1) = centres[layer][src], centres[layer + 1][dest]
            xs += [x0 + TILE / 2, x1 - TILE / 2, None]
            ys += [y0, y1, None]
    for (bucket, positive), (xs, ys) in sorted(buckets.items()):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(width=0.6 + 1.6 * bucket, color=DIVERGING[-1][1] if positive
                                           else DIVERGING[0][1]), opacity=0.35 + 0.12 * bucket))


def training_curves(history: dict, classification: bool, title: str = "Loss and accuracy") -> go.Figure:
    """Minibatch loss (faint), train and test loss (log scale), and accuracy when it applies.

    history: name -> (steps, values) arrays, as in a job snapshot.
    """
    rows = 2 if classification else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["Loss"] + (["Accuracy"] if classification else []))
    series = [("loss", "minibatch loss", "#b9bec7", 1, 1), ("train_loss", "train loss", TRAIN_COLOR, 2.5, 1),
              ("test_loss", "test loss", TEST_COLOR, 2.5, 1)]
    if classification:
        series += [("train_accuracy", "train accuracy", TRAIN_COLOR, 2.5, 2),
                   ("test_accuracy", "test accuracy", TEST_COLOR, 2.5, 2)]
    for name, label, color, width, row in series:
        if name not in history:
            continue
        steps, values = history[name]
        steps, values = downsample(np.asarray(steps), np.asarray(values))
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=label, line=dict(color=color, width=width),
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"),
                      row=row, col=1)
    losses = [np.asarray(history[n][1]) for n in ("loss", "train_loss", "test_loss") if n in history]
    positive = np.concatenate(losses)[np.concatenate(losses) > 0] if losses else np.empty(0)
    decades = np.log10(positive.max() / positive.min()) if len(positive) else 0.0
    # One tick per decade once the curve spans one; Plotly's in-between "2, 5" labels clutter it.
    fig.update_yaxes(type="log", row=1, col=1, title="loss", dtick=1 if decades >= 1 else None)
    if classification:
        fig.update_yaxes(range=[0, 1.02], row=2, col=1, title="accuracy", tickformat=".0%")
    fig.update_xaxes(title="step", row=rows, col=1)
    fig.update_layout(height=440 if classification else 330, legend=dict(orientation="h", y=-0.28 if classification
                      else -0.4), margin=dict(b=70), hovermode="x unified")
    return styled(fig, title)


def confusion_matrix(matrix: np.ndarray, title: str = "Confusion matrix (test set)") -> go.Figure:
    """Rows: true class; columns: predicted class; each cell shows its count and its share of the row."""
    matrix = np.asarray(matrix)
    k = len(matrix)
    row_share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    labels = [f"class {c}" for c in range(k)]
    text = [[f"{matrix[i, j]}<br>({row_share[i, j]:.0%})" for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(z=row_share, x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues", text=text,
                               texttemplate="%{text}", showscale=False,
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_xaxes(title="predicted", side="bottom", showgrid=False)
    fig.update_yaxes(title="true", autorange="reversed", showgrid=False)
    fig.update_layout(height=300)
    return styled(fig, title)
