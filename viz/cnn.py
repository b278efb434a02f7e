"""Figures of the Convolutional networks page's live CNN: pure functions from arrays to `go.Figure`, written as
plain dicts (viz.theme.figure_from_dicts): the page redraws them at every live refresh.

Images are drawn as heatmaps with the first row at the top and square pixels; signed maps (filters,
perturbations) on the diverging scale centred on zero, activations and images on grey or sequential scales.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.theme import (DIVERGING, OKABE_ITO, SEQUENTIAL_SCALE, awaiting_training, downsample, figure_from_dicts,
                        legend_below, log_axis)

GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]  # ink on paper: 0 white, 1 black, as the digits are drawn
NETWORK_COLORS = {"CNN": OKABE_ITO[0], "MLP": OKABE_ITO[1], "CNN, adversarially trained": OKABE_ITO[2]}
CURVE_POINTS = 1000
MAX_TILES = 16  # channels shown per layer


def _title(text: str) -> dict:
    return {"text": text}


def tiles(images: Sequence[np.ndarray], titles: Sequence[str], title: str, scales: Sequence[str],
          height: int = 260) -> go.Figure:
    """A few images side by side, each with its title above it and its own scale: "grey" (0..1 ink),
    "signed" (diverging, symmetric about 0) or "activation" (sequential, 0..its largest value)."""
    count = len(images)
    gap = 0.03
    width = (1 - gap * (count - 1)) / count
    data, layout, annotations = [], {}, []
    for index, (image, name, scale) in enumerate(zip(images, titles, scales)):
        image = np.asarray(image, dtype=np.float32)
        axis = "" if index == 0 else str(index + 1)
        x0 = index * (width + gap)
        trace = {"type": "heatmap", "z": image, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "showscale": False,
                 "hovertemplate": f"{name}<br>row %{{y}}, column %{{x}}: %{{z:.3f}}<extra></extra>"}
        if scale == "signed":
            bound = float(np.abs(image).max()) or 1.0
            trace.update(colorscale=DIVERGING, zmin=-bound, zmax=bound)
        elif scale == "activation":
            trace.update(colorscale=SEQUENTIAL_SCALE, zmin=0.0, zmax=float(image.max()) or 1.0)
        else:
            trace.update(colorscale=GREYS, zmin=0.0, zmax=1.0)
        data.append(trace)
        layout[f"xaxis{axis}"] = {"domain": [x0, min(1.0, x0 + width)], "visible": False, "anchor": f"y{axis}",
                                  "constrain": "domain"}
        layout[f"yaxis{axis}"] = {"domain": [0.0, 1.0], "visible": False, "anchor": f"x{axis}",
                                  "autorange": "reversed", "scaleanchor": f"x{axis}", "constrain": "domain"}
        annotations.append({"text": name, "x": x0 + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                            "showarrow": False, "yanchor": "bottom", "font": {"size": 12}})
    layout.update(annotations=annotations, height=height, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return figure_from_dicts(data, layout, title)


SCALES = {"grey": (GREYS, 0.0, 1.0), "signed": (DIVERGING, -1.0, 1.0), "activation": (SEQUENTIAL_SCALE, 0.0, 1.0)}


def _normalized(image: np.ndarray, scale: str) -> np.ndarray:
    """An image on its scale's fixed range: "signed" divided by its largest |value|, "activation" by its
    largest value (each map on its own scale, as separate colour bars would show it), "grey" as it is."""
    image = np.asarray(image, dtype=np.float32)
    if scale == "grey":
        return image
    peak = float(np.abs(image).max()) if scale == "signed" else float(image.max())
    return image / peak if peak > 0 else np.zeros_like(image)


def mosaic(rows: Sequence[tuple[str, Sequence[np.ndarray], Sequence[str], str]], title: str, side: int = 0,
           row_height: int = 110) -> go.Figure:
    """Rows of small images, each row ONE heatmap (images side by side, a transparent column between them),
    so that dozens of feature maps cost plotly.js a few traces, not one subplot each. A row is (its label,
    its images, a title per image (the x ticks), its scale: "grey", "signed" or "activation", each image
    normalized alone). Images smaller than `side` are enlarged by whole pixels (a pooled map shown at the
    size of the input it covers)."""
    data, layout = [], {}
    n_rows = len(rows)
    gap = 0.12 / max(n_rows, 1)
    height = (1 - gap * (n_rows - 1)) / n_rows
    widest = 0
    for index, (label, images, titles, scale) in enumerate(rows):
        cells = []
        for image in images:
            image = _normalized(image, scale)
            factor = max(1, side // image.shape[0]) if side else 1
            cells.append(np.kron(image, np.ones((factor, factor), dtype=np.float32)))
        size = cells[0].shape[1]
        blank = np.full((cells[0].shape[0], 1), np.nan, dtype=np.float32)
        z = np.hstack([part for cell in cells for part in (cell, blank)][:-1])
        widest = max(widest, z.shape[1])
        colorscale, low, high = SCALES[scale]
        axis = "" if index == 0 else str(index + 1)
        top = 1 - index * (height + gap)
        data.append({"type": "heatmap", "z": z, "colorscale": colorscale, "zmin": low, "zmax": high,
                     "showscale": False, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "hoverongaps": False,
                     "hovertemplate": f"{label}<br>%{{z:.2f}} of its largest<extra></extra>"
                     if scale != "grey" else f"{label}<br>%{{z:.2f}}<extra></extra>"})
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "domain": [0.1, 1.0], "showgrid": False, "zeroline": False,
                                  "tickmode": "array", "tickvals": [i * (size + 1) + (size - 1) / 2
                                                                    for i in range(len(cells))],
                                  "ticktext": list(titles), "ticks": "", "side": "top", "constrain": "domain"}
        layout[f"yaxis{axis}"] = {"anchor": f"x{axis}", "domain": [max(0.0, top - height), top],
                                  "autorange": "reversed", "visible": False, "scaleanchor": f"x{axis}",
                                  "constrain": "domain"}
        layout.setdefault("annotations", []).append(
            {"text": label, "x": 0, "y": top - height / 2, "xref": "paper", "yref": "paper", "showarrow": False,
             "xanchor": "left", "font": {"size": 13}})
    for index in range(n_rows):  # one pixel width for every row: the rows line up
        layout["xaxis" if index == 0 else f"xaxis{index + 1}"]["range"] = [-0.5, widest - 0.5]
    layout.update(height=60 + row_height * n_rows, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return figure_from_dicts(data, layout, title)


def feature_maps(maps: Sequence[np.ndarray], image: np.ndarray, title: str) -> go.Figure:
    """The input, then each conv layer's activations (up to MAX_TILES channels, each on its own scale), a row
    per layer, pooled maps enlarged to the input's size."""
    side = image.shape[0]
    rows = [("input", [image], [""], "grey")]
    rows += [(f"layer {i + 1}<br>{layer.shape[-2]}×{layer.shape[-1]}", list(layer[:MAX_TILES]),
              [str(c + 1) for c in range(min(len(layer), MAX_TILES))], "activation") for i, layer in enumerate(maps)]
    return mosaic(rows, title, side=side)


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
              "height": 440, "hovermode": "x unified", "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
              "margin": {"l": 80, "b": 60, "t": 90}}
    # Before training (step 0 alone draws no line): say what will be drawn, not an empty -1 .. 1 step axis.
    if all(len(trace["x"]) < 2 for trace in data):
        awaiting_training(layout, "Press Train (or Step): both networks' held-out accuracy and loss are drawn here "
                                  "as they learn", ("xaxis2",))
    return figure_from_dicts(data, layout, "Held-out accuracy and loss: the CNN against an MLP of its size")


def probability_bars(classes: Sequence[str], bars: Mapping[str, np.ndarray], title: str,
                     colors: Sequence[str] = OKABE_ITO) -> go.Figure:
    """Grouped bars of class probabilities, one group per class, one bar per entry of `bars`."""
    data = [{"type": "bar", "x": list(classes), "y": np.asarray(values, dtype=np.float32), "name": name,
             "marker": {"color": colors[i % len(colors)]},
             "hovertemplate": f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>"} for i, (name, values) in
            enumerate(bars.items())]
    layout = {"barmode": "group", "yaxis": {"range": [0, 1], "tickformat": ".0%", "title": _title("probability")},
              "xaxis": {"type": "category"}, "height": 300, "legend": legend_below(),
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
              "height": 340, "legend": legend_below(), "margin": {"b": 90}}
    return figure_from_dicts(data, layout, f"Accuracy under {attack.upper()} (measured at step {step:,})")
