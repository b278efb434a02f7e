"""Figures of the network playground. Pure functions: plain arrays in, go.Figure out.

The Playground redraws all four of them once a second for every student watching it
train, so each is written down as plain dicts and made into a figure in one go
(`viz.theme.figure_from_dicts`), without Plotly's per-property validation: adding traces and updating the
layout piece by piece cost ~80 ms of Python per redraw (four figures), ~10x more. The
dicts use Plotly's canonical forms, and tests/test_viz_playground.py checks that
Plotly's own validation leaves every figure exactly as built. Arrays go out as
float32 (Plotly sends them as typed binary), and each neuron is its own small
heatmap rather than tiles on one mostly empty canvas: a tenth of the bytes.

Margins are set to what the axes, legends and colour bars need at the app's font sizes. Plotly
otherwise grows them while it draws and then draws the chart again (counted in the browser for
one control change of this page: 12 drawing passes instead of 8, the decision boundary's 500
points styled 8 times instead of 4). Where more room is needed (a projector's larger text)
Plotly still grows them.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.raster import Cloud, cloud_image, hex_rgb
from viz.theme import (
    DIVERGING, TEST_COLOR, TRAIN_COLOR, class_color, downsample, figure_from_dicts, legend_below, log_axis,
)

VALIDATION_COLOR = "#009E73"  # Okabe-Ito bluish green, apart from the train blue and the test vermillion

TILE, GAP = 24, 10  # neuron tile size and gap between tiles (in grid cells) in the network figure
# Points per training curve, redrawn at every live refresh: more than the ~550 pixels across its plot can show.
CURVE_POINTS = 1000
BLUES = [list(stop) for stop in go.Heatmap(colorscale="Blues").colorscale]  # Plotly's own, as validation spells it


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _title(text: str) -> dict:
    return {"text": text}


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
    if grid_x2 is None:
        return _function_fit(grid_x1, surface, x_train, y_train, x_test, y_test, show_test, title, kinks)
    g1, g2 = _f32(grid_x1), _f32(grid_x2)
    data: list[dict] = []
    if task == "multiclass":
        k = surface.shape[-1]
        winner = surface.argmax(axis=-1)
        confidence = surface.max(axis=-1)
        # Colour by the winning class; fade to white where the network is unsure.
        for c in range(k):
            data.append({"type": "heatmap", "x": g1, "y": g2, "z": _f32(np.where(winner == c, confidence, np.nan)),
                         "zmin": 1.0 / k, "zmax": 1.0, "showscale": False, "opacity": 0.75,
                         "colorscale": [[0, "#ffffff"], [1, class_color(c)]],
                         "hovertemplate": f"class {c}: p=%{{z:.2f}}<extra></extra>"})
    elif task == "regression":
        data.append({"type": "heatmap", "x": g1, "y": g2, "z": _f32(surface), "zmin": -1, "zmax": 1,
                     "colorscale": DIVERGING, "opacity": 0.8,
                     "colorbar": {"title": _title("output"), "thickness": 12},
                     "hovertemplate": "x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>output %{z:.3f}<extra></extra>"})
    else:
        z = _f32(surface)
        data.append({"type": "heatmap", "x": g1, "y": g2, "z": z, "zmin": 0, "zmax": 1,
                     "colorscale": _class_scale(2), "opacity": 0.75,
                     "colorbar": {"title": _title("P(class 1)"), "thickness": 12},
                     "hovertemplate": "x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>P(class 1)=%{z:.2f}<extra></extra>"})
        line_x1, line_x2 = level_line(g1, g2, z, 0.5)
        data.append({"type": "scatter", "x": _f32(line_x1), "y": _f32(line_x2), "mode": "lines",
                     "line": {"color": "#333", "width": 2}, "hoverinfo": "skip", "showlegend": False})
    clouds = _points(x_train, y_train, task, "train", filled=True, traces=data)
    if show_test:
        clouds += _points(x_test, y_test, task, "test", filled=False, traces=data)
    legend_rows = surface.shape[-1] if task == "multiclass" else 2 if task == "binary" else 1
    layout = {
        # Equal units on both axes; "domain": the plot area shrinks to keep them, instead of the axes running
        # past the shaded grid (blank bands above and below it in a wide box).
        "xaxis": {"title": _title("x₁"), "range": [float(g1[0]), float(g1[-1])], "showgrid": False,
                  "constrain": "domain", "constraintoward": "right"},  # next to its colour bar, the room to its left
        "yaxis": {"title": _title("x₂"), "range": [float(g2[0]), float(g2[-1])], "showgrid": False,
                  "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
        # Room for the y axis, the colour bar and the legend (a row per class: train and test side by side).
        "height": 470,
        "margin": {"l": 75, "r": 10 if task == "multiclass" else 95, "t": 50, "b": 78 + 24 * legend_rows},
        "legend": legend_below(x=0, font={"size": 12}, itemwidth=30),
    }
    if clouds:  # over the surface, which is a trace (a picture below the traces would lie under it)
        box = (float(g1[0]), float(g1[-1])), (float(g2[0]), float(g2[-1]))
        layout["images"] = [{**cloud_image(clouds, *box, plot_pixels=BOUNDARY_PIXELS), "layer": "above"}]
    return figure_from_dicts(data, layout, title)


def level_line(grid_x1: np.ndarray, grid_x2: np.ndarray, z: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Where z (rows along x₂, columns along x₁) crosses `level`, by marching squares: straight segments between
    the points where the grid's edges cross it (linear between grid points), separated by NaN (Plotly breaks a
    line there). Drawn as one line instead of a contour trace, which the browser traces itself at every
    redraw (and which sends the whole grid a second time)."""
    g1, g2 = np.asarray(grid_x1, dtype=float), np.asarray(grid_x2, dtype=float)
    z = np.asarray(z, dtype=float) - level
    above = z > 0
    across = above[:, :-1] != above[:, 1:]  # edges along x₁ (between columns) that cross the level
    along = above[:-1, :] != above[1:, :]  # edges along x₂ (between rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = g1[:-1] + z[:, :-1] / (z[:, :-1] - z[:, 1:]) * np.diff(g1)
        y_cross = g2[:-1, None] + z[:-1, :] / (z[:-1, :] - z[1:, :]) * np.diff(g2)[:, None]
    cells = x_cross[:-1].shape
    # Each cell's four edges in turn: bottom, right, top, left; each as (x₁, x₂) of its crossing.
    edges = np.stack([np.stack([x_cross[:-1], np.broadcast_to(g2[:-1, None], cells)], -1),
                      np.stack([np.broadcast_to(g1[None, 1:], cells), y_cross[:, 1:]], -1),
                      np.stack([x_cross[1:], np.broadcast_to(g2[1:, None], cells)], -1),
                      np.stack([np.broadcast_to(g1[None, :-1], cells), y_cross[:, :-1]], -1)], 2)
    crossed = np.stack([across[:-1], along[:, 1:], across[1:], along[:, :-1]], 2)
    count = crossed.sum(-1)
    one = count == 2  # the level passes through the cell once: join its two crossings
    segments = [edges[one][crossed[one]].reshape(-1, 2, 2)]
    two = count == 4  # a saddle: the sign at the centre says which corners the two segments cut off
    if two.any():
        bottom, right, top, left = (edges[two][:, i] for i in range(4))
        centre = (z[:-1, :-1] + z[:-1, 1:] + z[1:, :-1] + z[1:, 1:])[two]
        cut_corner = ((centre > 0) != above[:-1, :-1][two])[:, None, None]  # cut the bottom-left corner off
        segments += [np.where(cut_corner, np.stack([bottom, left], 1), np.stack([bottom, right], 1)),
                     np.where(cut_corner, np.stack([top, right], 1), np.stack([top, left], 1))]
    segments = np.concatenate(segments)
    line = np.full((len(segments), 3, 2), np.nan)
    line[:, :2] = segments
    return line[..., 0].ravel(), line[..., 1].ravel()


MARKER_SIZE = 7
BOUNDARY_PIXELS = 220  # the decision boundary's plot, px, beside the network on a 1,500 px window
REGRESSION_SHADES = 21  # targets in [-1, 1] drawn in this many shades of DIVERGING


def _points(x: np.ndarray, y: np.ndarray, task: str, name: str, filled: bool, traces: list[dict]) -> list[Cloud]:
    """A data set's points as clouds to draw as a picture (viz.raster: the ~500 SVG markers were redrawn at every
    live refresh), after adding to `traces` their legend entries and one undrawn trace that keeps their hover.
    Train points are filled discs with an outline, test points open circles, as Plotly draws those markers."""
    if len(x) == 0:
        return []
    x = _f32(x)
    symbol = "circle" if filled else "circle-open"
    if task == "regression":
        targets = np.clip(np.asarray(y, dtype=float), -1, 1)
        shades = np.round((targets + 1) / 2 * (REGRESSION_SHADES - 1)).astype(int)
        groups = [(shades == k, _shade(k / (REGRESSION_SHADES - 1))) for k in np.unique(shades)]
        outline = "#222222"
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": name,
                       "marker": {"color": _shade(0.5) if filled else outline, "size": MARKER_SIZE, "symbol": symbol,
                                  "line": {"color": outline, "width": 1}}, "hoverinfo": "skip"})
        hover, about = f"{name}: target %{{customdata:.2f}}", _f32(y)
    else:
        groups, outline = [(y == c, class_color(int(c))) for c in np.unique(y)], "#ffffff"
        for c, (_, color) in zip(np.unique(y), groups):
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                           "name": f"{name} class {c}", "legendgroup": name, "hoverinfo": "skip",
                           "marker": {"color": color, "size": MARKER_SIZE, "symbol": symbol,
                                      "line": {"color": "white" if filled else color, "width": 1 if filled else 2}}})
        hover, about = f"{name}, class %{{customdata}}", np.asarray(y)
    traces.append({"type": "scatter", "x": x[:, 0], "y": x[:, 1], "mode": "markers", "name": f"{name} (hover)",
                   "showlegend": False, "customdata": about, "marker": {"size": MARKER_SIZE, "opacity": 0,
                                                                       "maxdisplayed": 1},
                   "hovertemplate": hover + "<br>x₁=%{x:.2f}, x₂=%{y:.2f}<extra></extra>"})
    clouds = []
    for chosen, color in groups:
        if filled:  # a disc, and its 1 px outline around it
            clouds += [Cloud(x[chosen], name, color, MARKER_SIZE, 1.0),
                       Cloud(x[chosen], name, outline, MARKER_SIZE + 1, 1.0, ring=1.0)]
        else:  # an open circle: a 2 px ring
            clouds.append(Cloud(x[chosen], name, color, MARKER_SIZE + 2, 1.0, ring=2.0))
    return clouds


def _shade(at: float) -> str:
    """DIVERGING's colour at `at` in [0, 1], as #rrggbb."""
    stops = np.array([stop for stop, _ in DIVERGING])
    rgb = np.array([hex_rgb(color) for _, color in DIVERGING])
    return "#" + "".join(f"{round(float(np.interp(at, stops, rgb[:, i]))):02x}" for i in range(3))


def _function_fit(grid_x1, curve, x_train, y_train, x_test, y_test, show_test, title, kinks) -> go.Figure:
    data = [{"type": "scatter", "x": _f32(x_train[:, 0]), "y": _f32(y_train), "mode": "markers", "name": "train",
             "marker": {"color": TRAIN_COLOR, "size": 6}}]
    if show_test and len(x_test):
        data.append({"type": "scatter", "x": _f32(x_test[:, 0]), "y": _f32(y_test), "mode": "markers",
                     "name": "test", "marker": {"color": TEST_COLOR, "size": 6, "symbol": "circle-open"}})
    x, y = np.asarray(grid_x1, dtype=float), np.ravel(curve).astype(float)
    if kinks is not None:  # the curve is straight between bends: joining the grid and the bends draws it exactly
        order = np.argsort(np.r_[x, kinks[0]], kind="stable")
        x, y = np.r_[x, kinks[0]][order], np.r_[y, kinks[1]][order]
    data.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": "network",
                 "line": {"color": "#222", "width": 3}})
    if kinks is not None:
        data.append({"type": "scatter", "x": np.asarray(kinks[0], dtype=float),
                     "y": np.asarray(kinks[1], dtype=float), "mode": "markers",
                     "name": f"bends: {len(kinks[0]) + 1} pieces",
                     "marker": {"color": "#d55e00", "size": 7, "symbol": "diamond",
                                "line": {"color": "white", "width": 1}},
                     "hovertemplate": "bend at x₁=%{x:.3f}<extra></extra>"})
    layout = {"xaxis": {"title": _title("x₁")}, "yaxis": {"title": _title("y")}, "height": 470,
              "margin": {"l": 75, "b": 95}, "legend": legend_below()}
    return figure_from_dicts(data, layout, title)


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
    data: list[dict] = []
    centres: list[list[tuple[float, float]]] = []
    for layer, layer_tiles in enumerate(tiles):
        left = layer * (TILE + 3 * GAP)
        top0 = (height - len(layer_tiles) * (TILE + GAP)) // 2
        layer_centres = []
        for unit, tile in enumerate(layer_tiles):
            top = top0 + unit * (TILE + GAP)
            names = unit_names[layer] if layer < len(unit_names) else ()
            label = names[unit] if unit < len(names) else f"unit {unit + 1}"
            data.append({"type": "heatmap", "z": _f32(tile), "x0": left, "dx": 1, "y0": top, "dy": 1,
                         "colorscale": DIVERGING, "zmin": -1, "zmax": 1, "showscale": False,
                         "hovertemplate": f"{label}: scaled output %{{z:.2f}}<extra></extra>"})
            layer_centres.append((left + TILE / 2, top + TILE / 2))
        centres.append(layer_centres)
    data += _links(centres, weights, max_links_per_layer)
    annotations = [{"x": layer * (TILE + 3 * GAP) + TILE / 2, "y": -GAP, "text": f"<b>{name}</b>",
                    "showarrow": False, "yanchor": "bottom", "font": {"size": 13}}
                   for layer, name in enumerate(layer_names)]
    for unit, label in enumerate(unit_names[0]):
        x, y = centres[0][unit]
        annotations.append({"x": x - TILE / 2 - 2, "y": y, "text": label, "showarrow": False, "xanchor": "right",
                            "font": {"size": 12}})
    layout = {"xaxis": {"visible": False, "range": [-3 * GAP, width]},
              "yaxis": {"visible": False, "autorange": "reversed", "range": [height, -3 * GAP]},
              "annotations": annotations, "height": max(260, min(900, 24 * tallest + 120)),
              "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
    return figure_from_dicts(data, layout, title)


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


def _links(centres, weights, max_links: int) -> list[dict]:
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
    return [{"type": "scatter", "x": xs, "y": ys, "mode": "lines", "hoverinfo": "skip", "showlegend": False,
             "line": {"width": 0.6 + 1.6 * bucket, "color": DIVERGING[-1][1] if positive else DIVERGING[0][1]},
             "opacity": 0.35 + 0.12 * bucket}
            for (bucket, positive), (xs, ys) in sorted(buckets.items())]


def _subplot_layout(classification: bool) -> dict:
    """make_subplots' axes and subplot titles for the loss (and accuracy) panels."""
    layout = make_subplots(rows=2 if classification else 1, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=["Loss"] + (["Accuracy"] if classification else [])).to_dict()["layout"]
    layout.pop("template", None)
    return layout


# Worked out once, at import (ui.preload imports this module when the server starts): ~60 ms that the first
# Playground page of a server would otherwise spend before its first chart.
SUBPLOT_LAYOUTS = {classification: _subplot_layout(classification) for classification in (False, True)}


def training_curves(history: dict, classification: bool, error_rate: bool = False,
                    title: str | None = None) -> go.Figure:
    """Minibatch loss (faint), train, validation (dashed) and test loss (log scale), and accuracy when it applies.

    history: name -> (steps, values) arrays, as in a job snapshot. `error_rate`: the "losses" are error rates
    (the perceptron rule's), drawn on a linear axis from 0, where reaching no mistakes shows. A branch and its
    original run compare on it through `viz.forks.with_original`.
    """
    what = "error rate" if error_rate else "loss"
    series = [("loss", f"minibatch {what}", "#b9bec7", 1, 1), ("train_loss", f"train {what}", TRAIN_COLOR, 2.5, 1),
              ("val_loss", f"validation {what}", VALIDATION_COLOR, 2, 1),
              ("test_loss", f"test {what}", TEST_COLOR, 2.5, 1)]
    if classification:
        series += [("train_accuracy", "train accuracy", TRAIN_COLOR, 2.5, 2),
                   ("test_accuracy", "test accuracy", TEST_COLOR, 2.5, 2)]
    data = []
    for name, label, color, width, row in series:
        if name not in history:
            continue
        steps, values = history[name]
        steps, values = downsample(np.asarray(steps), np.asarray(values), CURVE_POINTS)
        # Dashed: the validation loss is what early stopping watches, not a third data set to compare against.
        dash = {"dash": "dash"} if name == "val_loss" else {}
        data.append({"type": "scatter", "x": steps, "y": _f32(values), "mode": "lines", "name": label,
                     "line": {"color": color, "width": width, **dash},
                     "hovertemplate": f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
                     "xaxis": "x" if row == 1 else "x2", "yaxis": "y" if row == 1 else "y2"})
    losses = [np.asarray(history[n][1]) for n in ("loss", "train_loss", "val_loss", "test_loss") if n in history]
    layout = copy.deepcopy(SUBPLOT_LAYOUTS[classification])
    if error_rate:
        highest = max((float(np.nanmax(v)) for v in losses if len(v)), default=0.0)
        layout["yaxis"].update(range=[0, max(0.05, min(1.0, highest * 1.1))], tickformat=".0%", title=_title(what))
        layout["annotations"][0]["text"] = "Error rate"  # the panel's title
    else:
        layout["yaxis"].update(log_axis(*losses, title=_title(what)))
    if classification:
        layout["yaxis2"].update(range=[0, 1.02], title=_title("accuracy"), tickformat=".0%")
    layout["xaxis2" if classification else "xaxis"]["title"] = _title("step")
    layout.update(height=440 if classification else 330, hovermode="x unified",
                  margin={"l": 80, "b": 110} if classification else {"l": 66, "b": 102},
                  legend=legend_below())
    default_title = ("Error rate" if error_rate else "Loss") + (" and accuracy" if classification else "")
    return figure_from_dicts(data, layout, title or default_title)


def confusion_matrix(matrix: np.ndarray, title: str = "Confusion matrix (test set)",
                     labels: Sequence[str] | None = None) -> go.Figure:
    """Rows: true class; columns: predicted class; each cell shows its count and its share of the row.
    `labels` names the classes (default "class 0", "class 1", ...)."""
    matrix = np.asarray(matrix)
    k = len(matrix)
    row_share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    labels = [f"class {c}" for c in range(k)] if labels is None else list(labels)
    text = [[f"{matrix[i, j]}<br>({row_share[i, j]:.0%})" for j in range(k)] for i in range(k)]
    data = [{"type": "heatmap", "z": row_share, "x": labels, "y": labels, "zmin": 0, "zmax": 1,
             "colorscale": BLUES, "text": text, "texttemplate": "%{text}", "showscale": False,
             "hovertemplate": "true %{y}, predicted %{x}: %{text}<extra></extra>"}]
    # Categories, so that labels such as "0".."9" are not read as numbers (and thinned out as ticks).
    layout = {"xaxis": {"title": _title("predicted"), "side": "bottom", "showgrid": False, "type": "category"},
              "yaxis": {"title": _title("true"), "autorange": "reversed", "showgrid": False, "type": "category"},
              "height": max(300, 110 + 36 * k),
              "margin": {"l": 100}}  # (the class names and the title: 95 px)
    return figure_from_dicts(data, layout, title)
