"""Figures of the Convolutional networks page's live CNN: pure functions from arrays to `go.Figure`, written as
plain dicts (viz.theme.figure_from_dicts): the page redraws them at every live refresh.

Images are drawn as heatmaps with the first row at the top and square pixels; signed maps (filters,
perturbations) on the diverging scale centred on zero, activations and images on grey or sequential scales.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.theme import DIVERGING, OKABE_ITO, SEQUENTIAL_SCALE, downsample, figure_from_dicts, log_axis

GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]  # ink on paper: 0 white, 1 black, as the digits are drawn
NETWORK_COLORS = {"CNN": OKABE_ITO[0], "MLP": OKABE_ITO[1], "CNN, adversarially trained": OKABE_ITO[2]}
CURVE_POINTS = 1000
MAX_TILES = 16  # channels shown per layer


def _title(text: str) -> dict:
    return {"text": text}


def tiles(images: Sequence[np.ndarray], titles: Sequence[str], title: str, columns: int = 8,
          scale: str | Sequence[str] = "grey",
          row_heights: int = 120, rows_of: Sequence[int] | None = None, row_labels: Sequence[str] = ()) -> go.Figure:
    """Small images in a grid, each with its title above it. `scale`: "grey" (0..1 ink), "signed" (diverging,
    symmetric about 0 per image) or "activation" (sequential, 0..max per image), or one of these per image.
    `rows_of`: how many of the images go on each row (default: `columns` per row); `row_labels` names each row
    at its left."""
    count = len(images)
    if rows_of is None:
        rows_of = [min(columns, count - start) for start in range(0, count, columns)] or [0]
    n_rows, n_cols = len(rows_of), max(max(rows_of), 1)
    gap_x, gap_y, left = 0.02, 0.16 / max(n_rows, 1), 0.08 if row_labels else 0.0
    width = (1 - left - gap_x * (n_cols - 1)) / n_cols
    height = (1 - gap_y * (n_rows - 1)) / n_rows
    data, layout, annotations = [], {}, []
    index = 0
    for row, in_row in enumerate(rows_of):
        top = 1 - row * (height + gap_y)
        if row < len(row_labels):
            annotations.append({"text": row_labels[row], "x": 0, "y": top - height / 2, "xref": "paper",
                                "yref": "paper", "showarrow": False, "xanchor": "left", "font": {"size": 13}})
        for col in range(in_row):
            image = np.asarray(images[index], dtype=np.float32)
            axis = "" if index == 0 else str(index + 1)
            x0 = left + col * (width + gap_x)
            trace = {"type": "heatmap", "z": image, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "showscale": False,
                     "hovertemplate": f"{titles[index]}<br>row %{{y}}, column %{{x}}: %{{z:.3f}}<extra></extra>"}
            kind = scale if isinstance(scale, str) else scale[index]
            if kind == "signed":
                bound = float(np.abs(image).max()) or 1.0
                trace.update(colorscale=DIVERGING, zmin=-bound, zmax=bound)
            elif kind == "activation":
                trace.update(colorscale=SEQUENTIAL_SCALE, zmin=0.0, zmax=float(image.max()) or 1.0)
            else:
                trace.update(colorscale=GREYS, zmin=0.0, zmax=1.0)
            data.append(trace)
            layout[f"xaxis{axis}"] = {"domain": [x0, min(1.0, x0 + width)], "visible": False,
                                      "anchor": f"y{axis}", "constrain": "domain"}
            layout[f"yaxis{axis}"] = {"domain": [max(0.0, top - height), top], "visible": False,
                                      "anchor": f"x{axis}", "autorange": "reversed",
                                      "scaleanchor": f"x{axis}", "constrain": "domain"}
            annotations.append({"text": titles[index], "x": x0 + width / 2, "y": top, "xref": "paper",
                                "yref": "paper", "showarrow": False, "yanchor": "bottom", "font": {"size": 12}})
            index += 1
    layout.update(annotations=annotations, height=70 + row_heights * n_rows,
                  margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return figure_from_dicts(data, layout, title)


def feature_maps(maps: Sequence[np.ndarray], image: np.ndarray, title: str) -> go.Figure:
    """The input, then each conv layer's activations (up to MAX_TILES channels), a row per layer."""
    shown = [layer[:MAX_TILES] for layer in maps]
    images = [image, *(channel for layer in shown for channel in layer)]
    titles = ["input", *(f"ch {c + 1}" for layer in shown for c in range(len(layer)))]
    rows = [1, *(len(layer) for layer in shown)]
    labels = ["", *(f"layer {i + 1}<br>{layer.shape[-2]}×{layer.shape[-1]}" for i, layer in enumerate(maps))]
    scales = ["grey"] + ["activation"] * (len(images) - 1)  # the input is an image, not an activation
    return tiles(images, titles, title, scale=scales, rows_of=rows, row_labels=labels, row_heights=100)


def learning_curves(history: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Held-out accuracy (top) and loss (bottom, log) of every network, on one step axis."""
    series = [("test_accuracy", "CNN"), ("mlp_test_accuracy", "MLP"),
              ("robust_test_accuracy", "CNN, adversarially trained")]
    data = []
    for row, suffix in ((1, "accuracy"), (2, "loss")):
        for name, label in series:
            key = name.replace("accuracy", suffix)
            if key not in history:
                continue
            steps, values = downsample(np.asarray(history[key][0]), np.asarray(history[key][1]), CURVE_POINTS)
            data.append({"type": "scatter", "x": steps, "y": values.astype(np.float32), "mode": "lines",
                         "name": label, "legendgroup": label, "showlegend": row == 1,
                         "line": {"color": NETWORK_COLORS[label], "width": 2.5},
                         "hovertemplate": f"{label}<br>step %{{x}}<br>held-out {suffix} %{{y:.4g}}<extra></extra>",
                         "xaxis": "x" if row == 1 else "x2", "yaxis": "y" if row == 1 else "y2"})
    losses = [np.asarray(history[k][1]) for k in ("test_loss", "mlp_test_loss", "robust_test_loss") if k in history]
    layout = {"xaxis": {"domain": [0, 1], "anchor": "y", "matches": "x2", "showticklabels": False},
              "yaxis": {"domain": [0.55, 1], "anchor": "x", "range": [0, 1.02], "tickformat": ".0%",
                        "title": _title("accuracy")},
              "xaxis2": {"domain": [0, 1], "anchor": "y2", "title": _title("step")},
              "yaxis2": {"domain": [0, 0.45], "anchor": "x2", **log_axis(*losses, title=_title("loss"))},
              "height": 440, "hovermode": "x unified", "legend": {"orientation": "h", "y": 1.12},
              "margin": {"l": 80, "b": 60, "t": 90}}
    return figure_from_dicts(data, layout, "Held-out accuracy and loss: the CNN against an MLP of its size")


def probability_bars(classes: Sequence[str], bars: Mapping[str, np.ndarray], title: str,
                     colors: Sequence[str] = OKABE_ITO) -> go.Figure:
    """Grouped bars of class probabilities, one group per class, one bar per entry of `bars`."""
    data = [{"type": "bar", "x": list(classes), "y": np.asarray(values, dtype=np.float32), "name": name,
             "marker": {"color": colors[i % len(colors)]},
             "hovertemplate": f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>"} for i, (name, values) in
            enumerate(bars.items())]
    layout = {"barmode": "group", "yaxis": {"range": [0, 1], "tickformat": ".0%", "title": _title("probability")},
              "xaxis": {"type": "category"}, "height": 300, "legend": {"orientation": "h", "y": -0.2},
              "margin": {"b": 80}}
    return figure_from_dicts(data, layout, title)


def attack_curves(eps_grid: np.ndarray, accuracy: Sequence[tuple[str, np.ndarray]], attack: str, eps: float,
                  step: int) -> go.Figure:
    """Held-out accuracy against eps for each network; the eps chosen on the page as a dashed line."""
    data = [{"type": "scatter", "x": np.asarray(eps_grid, dtype=np.float32), "y": np.asarray(values, np.float32),
             "mode": "lines+markers", "name": name, "line": {"color": NETWORK_COLORS.get(name, "#444"), "width": 2.5},
             "hovertemplate": f"{name}<br>eps %{{x}} grey levels: %{{y:.1%}}<extra></extra>"}
            for name, values in accuracy]
    layout = {"xaxis": {"title": _title("eps (grey levels of 16)")},
              "yaxis": {"range": [0, 1.02], "tickformat": ".0%", "title": _title("accuracy")},
              "shapes": [{"type": "line", "x0": eps, "x1": eps, "y0": 0, "y1": 1, "yref": "paper",
                          "line": {"dash": "dash", "color": "#888"}},
                         {"type": "line", "x0": 0, "x1": 1, "xref": "paper", "y0": 0.5, "y1": 0.5,
                          "line": {"dash": "dot", "color": "#bbb"}}],
              "height": 340, "legend": {"orientation": "h", "y": -0.25}, "margin": {"b": 90}}
    return figure_from_dicts(data, layout, f"Accuracy under {attack.upper()} (measured at step {step:,})")
