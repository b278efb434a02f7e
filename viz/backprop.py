"""Figures of the Backprop-by-hand page: the network as a graph with its numbers, and the function it computes
over the data. Plain dicts (viz.theme.figure_from_dicts): both redraw at every edit.

Edges are blue for positive weights and orange for negative, as wide as the weight is large; a unit shows a and
z once the forward pass has reached it and δ once the backward pass has; an edge shows w, and ∂L/∂w once the
unit above it has its δ. The stage's element is outlined."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from engine.backprop.formulas import number, unit_name
from engine.backprop.network import Architecture, Pass
from viz.theme import DIVERGING, OKABE_ITO, figure_from_dicts

POSITIVE, NEGATIVE = "#0b4f8a", "#b35806"
DENSE_EDGES = 12  # above this many weights, only the edges into the unit or layer in focus carry labels
CLOSE_LABELS = 0.25  # labels of one layer's edges nearer than this (in y) stand beside their markers, not on them
LABEL_GAP_PX = 9  # between a label beside its marker and the marker's centre (the marker is 14 px wide)
LABEL_DROP_PX = 12  # a falling edge's label beside its marker moves this far down, a rising one's up: off the circles
NODE_COLOR, REACHED_COLOR, CURRENT_COLOR = "#eef1f5", "#fff3d6", OKABE_ITO[1]


def positions(arch: Architecture) -> list[list[tuple[float, float]]]:
    """(x, y) of every unit, layer by layer: layers one apart, units centred."""
    return [[(float(layer), (size - 1) / 2 - j) for j in range(size)] for layer, size in enumerate(arch.sizes)]


def network_graph(arch: Architecture, flat, p: Pass, example: int, *, forward_to: int,
                  deltas: set[tuple[int, int]], current: tuple | None, quiz: tuple | None = None,
                  height: int = 520) -> go.Figure:
    """`forward_to`: the last layer whose a and z are shown; `deltas`: the units (layer, j) whose δ is shown;
    `current`: ("unit", l, j) or ("edge", l, j, i) to outline; `quiz`: an edge whose gradient is hidden."""
    where = positions(arch)
    layers = arch.unpack(flat)
    dense = sum(w.size for w, _ in layers) > DENSE_EDGES
    largest = max(1e-9, max(float(np.abs(w).max()) for w, _ in layers))
    data, mid_x, mid_y, mid_text, mid_hover, mid_data, mid_line, mid_rise = [], [], [], [], [], [], [], []
    for layer, (w, _) in enumerate(layers, start=1):
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                (x0, y0), (x1, y1) = where[layer - 1][i], where[layer][j]
                is_current = current == ("edge", layer, j, i) or quiz == ("edge", layer, j, i)
                data.append({"type": "scatter", "x": [x0, x1], "y": [y0, y1], "mode": "lines", "hoverinfo": "skip",
                             "showlegend": False,
                             "line": {"color": CURRENT_COLOR if is_current else
                                      POSITIVE if w[j, i] >= 0 else NEGATIVE,
                                      "width": 1 + 5 * abs(w[j, i]) / largest}})
                gradient = float(p.grad_w[layer - 1][example, j, i])
                text = f"w {number(w[j, i])}"
                if (layer, j) in deltas:
                    text += "<br>∂L/∂w ?" if quiz == ("edge", layer, j, i) else f"<br>∂L/∂w {number(gradient)}"
                # labels at 40% of the way, so the labels of edges that meet at a unit do not overlap there
                mid_hover.append(text)
                if dense and not (is_current or current in (("unit", layer, j), ("forward", layer))):
                    text = ""  # out of focus: the hover still says it
                mid_x.append(x0 + 0.4 * (x1 - x0))
                mid_y.append(y0 + 0.4 * (y1 - y0))
                mid_text.append(text)
                mid_data.append(["edge", layer, j, i])
                mid_line.append(CURRENT_COLOR if is_current else "#ffffff")
                mid_rise.append(float(np.sign(y1 - y0)))
    # Clickable markers on the edges; their labels are annotations, which can have a background.
    data.append({"type": "scatter", "x": mid_x, "y": mid_y, "mode": "markers", "hovertext": mid_hover,
                 "customdata": mid_data, "name": "edges", "showlegend": False,
                 "marker": {"size": 14, "color": "rgba(255,255,255,0)", "line": {"color": mid_line, "width": 2}},
                 "hovertemplate": "%{hovertext}<extra>click: its formula</extra>"})
    sides = _label_sides([edge[1] for edge in mid_data], mid_y, mid_rise, [bool(text) for text in mid_text])
    labels = [{"x": x, "y": y, "text": text, "showarrow": False, "font": {"size": 11},
               "xanchor": side, "xshift": {"right": -LABEL_GAP_PX, "left": LABEL_GAP_PX}.get(side, 0),
               "yshift": {"right": -LABEL_DROP_PX, "left": LABEL_DROP_PX}.get(side, 0),
               "bgcolor": "rgba(255,255,255,0.9)", "borderpad": 1,
               "bordercolor": color if color != "#ffffff" else "rgba(0,0,0,0)"}
              for x, y, text, color, side in zip(mid_x, mid_y, mid_text, mid_line, sides) if text]
    node_x, node_y, node_text, node_data, node_fill, node_line = [], [], [], [], [], []
    for layer, units in enumerate(where):
        for j, (x, y) in enumerate(units):
            lines = [f"<b>{unit_name(arch, layer, j)}</b>"]
            if layer == 0:
                lines.append(number(p.z[0][example, j]))
            elif layer <= forward_to:
                lines += [f"a {number(p.a[layer - 1][example, j])}", f"z {number(p.z[layer][example, j])}"]
            if (layer, j) in deltas:
                lines.append(f"δ {number(p.delta[layer - 1][example, j])}")
            node_x.append(x)
            node_y.append(y)
            node_text.append("<br>".join(lines))
            node_data.append(["unit", layer, j, 0])
            node_fill.append(REACHED_COLOR if 0 < layer <= forward_to else NODE_COLOR)
            node_line.append(CURRENT_COLOR if current in (("unit", layer, j), ("forward", layer)) else "#5f6672")
    data.append({"type": "scatter", "x": node_x, "y": node_y, "mode": "markers+text", "text": node_text,
                 "textfont": {"size": 13}, "customdata": node_data, "name": "units", "showlegend": False,
                 "marker": {"size": 92, "color": node_fill, "line": {"color": node_line, "width": 3}},
                 "hovertemplate": "%{text}<extra>click: its formulas</extra>"})
    rows = max(arch.sizes)
    layout = {"height": max(height, 130 * rows + 60),
              "xaxis": {"visible": False, "range": [-0.4, len(arch.sizes) - 0.6]},
              "yaxis": {"visible": False, "range": [-(rows - 1) / 2 - 0.6, (rows - 1) / 2 + 0.6]},
              "margin": {"t": 40, "b": 10, "l": 10, "r": 10}, "dragmode": False, "clickmode": "event+select",
              "annotations": labels}
    return figure_from_dicts(data, layout, f"Example {example + 1}: y = {number(p.y[example])}, "
                                           f"loss {number(p.losses[example])}")


def _label_sides(layers: list[int], ys: list[float], rises: list[float], shown: list[bool]) -> list[str]:
    """Each edge label's xanchor. A falling and a rising edge of one layer whose labels (at 40% of the way) are
    nearer than CLOSE_LABELS in y, such as XOR's crossing pair (0.2 apart: two-line labels overlap on a projector),
    have theirs beside their markers: the falling edge's to the left, the rising edge's to the right (and
    LABEL_DROP_PX down or up: seen in Chromium, XOR's pair then clears the input units' circles). Every other
    label stands on its marker; a horizontal edge's too (to its left or right it would cover a unit). Only labels
    `shown` count: in a dense network an edge out of focus has none to make room for."""
    sides = ["center"] * len(ys)
    for a in range(len(ys)):
        for b in range(a + 1, len(ys)):
            if shown[a] and shown[b] and layers[a] == layers[b] and rises[a] * rises[b] < 0 \
                    and abs(ys[a] - ys[b]) < CLOSE_LABELS:
                for edge in (a, b):
                    sides[edge] = "right" if rises[edge] < 0 else "left"
    return sides


def decision_surface(arch: Architecture, surface: np.ndarray, extent, x: np.ndarray, y: np.ndarray, loss: float,
                     height: int = 420) -> go.Figure:
    """The network's output over the data's square (probability of class 1, or the regression's value), with the
    training points."""
    x_min, x_max, y_min, y_max = extent
    cells = surface.shape[0]
    classify = arch.loss == "bce"
    data = [{"type": "heatmap", "x": np.linspace(x_min, x_max, cells), "y": np.linspace(y_min, y_max, cells),
             "z": surface, "colorscale": DIVERGING, **({"zmin": 0.0, "zmax": 1.0} if classify else {}),
             "colorbar": {"title": {"text": "p(class 1)" if classify else "output"}, "thickness": 12},
             "hovertemplate": "(%{x:.2f}, %{y:.2f}): %{z:.3f}<extra></extra>"}]
    if classify:
        data.append({"type": "contour", "x": np.linspace(x_min, x_max, cells), "y": np.linspace(y_min, y_max, cells),
                     "z": surface, "contours": {"start": 0.5, "end": 0.5, "size": 1, "coloring": "none"},
                     "line": {"color": "#1f2430", "width": 2}, "showscale": False, "hoverinfo": "skip",
                     "showlegend": False})
    # each point in the colour the surface has where the network is right about it
    colors = np.where(y > 0.5, DIVERGING[-1][1], DIVERGING[0][1]) if classify else "#1f2430"
    data.append({"type": "scatter", "x": x[:, 0], "y": x[:, 1], "mode": "markers", "showlegend": False,
                 "marker": {"size": 9, "color": colors, "line": {"color": "white", "width": 1.5}},
                 "hovertemplate": "(%{x:.2f}, %{y:.2f})<extra></extra>"})
    # Equal scales by narrowing the plot (constrain "domain"), not by widening the given ranges.
    layout = {"height": height, "xaxis": {"title": {"text": "x1"}, "range": [x_min, x_max], "constrain": "domain"},
              "yaxis": {"title": {"text": "x2"}, "range": [y_min, y_max], "scaleanchor": "x", "constrain": "domain"},
              "margin": {"t": 50, "b": 50}}
    return figure_from_dicts(data, layout, f"What it computes (loss {number(loss)})")
