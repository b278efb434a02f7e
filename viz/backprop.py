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
from viz.theme import DIVERGING, OKABE_ITO, PRESENTATION_SMALL_FONT_SIZE, figure_from_dicts

POSITIVE, NEGATIVE = "#0b4f8a", "#b35806"
# Above this many weights (on a projector, PROJECTOR_DENSE_EDGES), only the edges into the unit or layer in focus
# carry labels: their labels would not fit between the units.
DENSE_EDGES, PROJECTOR_DENSE_EDGES = 12, 6
# Where an edge's label (and the marker a click finds it by) goes: one of these fractions of the way along the edge,
# on it or LABEL_SHIFTS steps above or below it, where its box clears every unit and every other label
# (label_places), in a plot area of at least PLOT_PX (px wide, and high if not the layout's: the graph's column on a
# 1280 px screen; on a projector, presentation mode's graph on a 1280 x 720 one). Larger screens give more room.
LABEL_AT = (0.4, 0.5, 0.3, 0.6, 0.35, 0.45, 0.55, 0.65, 0.25, 0.7, 0.75, 0.2, 0.8)
# (whole steps first, then quarter steps between them: a 720p projector's 2-2-1 has room for its four two-line
# labels between the input and hidden units only in a quarter step's window)
LABEL_SHIFTS = (0, 1, -1, 2, -2, 3, -3, *sorted((q / 4 * sign for q in range(1, 12) if q % 4 for sign in (1, -1)),
                                                key=abs))
LABEL_FONT_PX, PLOT_PX = 11, (460, None)
PROJECTOR_LABEL_FONT_PX, PROJECTOR_PLOT_PX = PRESENTATION_SMALL_FONT_SIZE, (665, 310)
UNIT_PX, UNIT_FONT_PX = 92, 13  # the units' markers' diameter and text
# On a projector a unit grows to fill up to this share of the room between units (in the plot it is placed for) and
# at most PROJECTOR_UNIT_PX, its text with it: a unit's numbers are what a class reads from the back of the room.
PROJECTOR_UNIT_ROOM, PROJECTOR_UNIT_PX = 0.85, 120
LABEL_ROUNDS = 4
NODE_COLOR, REACHED_COLOR, CURRENT_COLOR = "#eef1f5", "#fff3d6", OKABE_ITO[1]
EDGE_MARKER_PX, LEADER_COLOR = 14, "#9aa1ab"  # the clickable marker on an edge; the line to its label, if off it


def positions(arch: Architecture) -> list[list[tuple[float, float]]]:
    """(x, y) of every unit, layer by layer: layers one apart, units centred."""
    return [[(float(layer), (size - 1) / 2 - j) for j in range(size)] for layer, size in enumerate(arch.sizes)]


def network_graph(arch: Architecture, flat, p: Pass, example: int, *, forward_to: int,
                  deltas: set[tuple[int, int]], current: tuple | None, quiz: tuple | None = None,
                  height: int = 520, projector: bool = False) -> go.Figure:
    """`forward_to`: the last layer whose a and z are shown; `deltas`: the units (layer, j) whose δ is shown;
    `current`: ("unit", l, j) or ("edge", l, j, i) to outline; `quiz`: an edge whose gradient is hidden;
    `projector`: the edges' labels sized and placed for presentation mode."""
    where = positions(arch)
    layers = arch.unpack(flat)
    dense = sum(w.size for w, _ in layers) > (PROJECTOR_DENSE_EDGES if projector else DENSE_EDGES)
    largest = max(1e-9, max(float(np.abs(w).max()) for w, _ in layers))
    rows = max(arch.sizes)
    height = max(height, 130 * rows + 60)
    data, ends, texts, hovers, edge_data, outlines = [], [], [], [], [], []
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
                hovers.append(text)
                if dense and not (is_current or current in (("unit", layer, j), ("forward", layer))):
                    text = ""  # out of focus: the hover still says it
                ends.append(((x0, y0), (x1, y1)))
                texts.append(text)
                edge_data.append(["edge", layer, j, i])
                outlines.append(CURRENT_COLOR if is_current else "#ffffff")
    font_px, (plot_width, plot_height) = (PROJECTOR_LABEL_FONT_PX, PROJECTOR_PLOT_PX) if projector else \
        (LABEL_FONT_PX, PLOT_PX)
    scale = (plot_width / (len(arch.sizes) - 0.2), (plot_height or height - 50) / (rows + 0.2))  # px per unit
    unit_px = UNIT_PX
    if projector:
        unit_px = int(min(PROJECTOR_UNIT_PX, max(UNIT_PX, PROJECTOR_UNIT_ROOM * min(scale))))
    x_range, y_range = [-0.4, len(arch.sizes) - 0.6], [-(rows - 1) / 2 - 0.6, (rows - 1) / 2 + 0.6]
    places = label_places(ends, texts, [xy for units in where for xy in units], scale, font_px, unit_px,
                          bounds=(x_range[0], y_range[0], x_range[1], y_range[1]))
    mid_x = [x0 + t * (x1 - x0) for ((x0, _), (x1, _)), (t, _) in zip(ends, places)]
    mid_y = [y0 + t * (y1 - y0) for ((_, y0), (_, y1)), (t, _) in zip(ends, places)]
    # Clickable markers on the edges; their labels are annotations, which can have a background.
    data.append({"type": "scatter", "x": mid_x, "y": mid_y, "mode": "markers", "hovertext": hovers,
                 "customdata": edge_data, "name": "edges", "showlegend": False,
                 "marker": {"size": EDGE_MARKER_PX, "color": "rgba(255,255,255,0)",
                            "line": {"color": outlines, "width": 2}},
                 "hovertemplate": "%{hovertext}<extra>click: its formula</extra>"})
    # A label off its edge hangs from the edge's marker by a thin leader (its box centred at the leader's end), so
    # it is not read as the weight of an edge it happens to stand near.
    labels = [{"x": x, "y": y, "text": text, "font": {"size": font_px}, "showarrow": bool(shift), "ax": 0,
               "ay": -shift, "axref": "pixel", "ayref": "pixel", "arrowhead": 0, "arrowwidth": 1,
               "arrowcolor": LEADER_COLOR, "standoff": EDGE_MARKER_PX / 2, "bgcolor": "rgba(255,255,255,0.9)",
               "borderpad": 1, "bordercolor": color if color != "#ffffff" else "rgba(0,0,0,0)"}
              for x, y, (_, shift), text, color in zip(mid_x, mid_y, places, texts, outlines) if text]
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
                 "textfont": {"size": round(UNIT_FONT_PX * unit_px / UNIT_PX)}, "customdata": node_data,
                 "name": "units", "showlegend": False,
                 "marker": {"size": unit_px, "color": node_fill, "line": {"color": node_line, "width": 3}},
                 "hovertemplate": "%{text}<extra>click: its formulas</extra>"})
    layout = {"height": height,
              "xaxis": {"visible": False, "range": x_range}, "yaxis": {"visible": False, "range": y_range},
              "margin": {"t": 40, "b": 10, "l": 10, "r": 10}, "dragmode": False, "clickmode": "event+select",
              "annotations": labels}
    return figure_from_dicts(data, layout, f"Example {example + 1}: y = {number(p.y[example])}, "
                                           f"loss {number(p.losses[example])}")


def label_box(text: str, font_px: float) -> tuple[float, float]:
    """(width, height) in px that plotly.js gives an annotation of `text` ("<br>" between lines), a little
    generously: a character of its sans-serif font half the font's size wide on average (0.45 measured in Chromium
    for these labels), a line 1.2 of it high, and the border."""
    lines = text.split("<br>")
    return max(map(len, lines)) * 0.5 * font_px + 4, len(lines) * 1.2 * font_px + 4


def label_places(edges: list[tuple[tuple[float, float], tuple[float, float]]], texts: list[str],
                 units: list[tuple[float, float]], scale: tuple[float, float], font_px: float,
                 unit_px: float = UNIT_PX,
                 bounds: tuple[float, float, float, float] | None = None) -> list[tuple[float, float]]:
    """For each edge ((x0, y0), (x1, y1)), where its label goes: (the fraction of the way along it, px up from the
    edge), one of LABEL_AT on the edge or LABEL_SHIFTS of the label's half height (and a gap) above or below it.
    Each label in turn takes, of the places at which its box (label_box) reaches into no unit's circle, no other
    label and not out of the plot's `bounds` (left, bottom, right, top, in data units: a label below the lowest
    unit was cut off), the first that covers least of the other edges (else the place where it reaches in or out
    least), and the labels take turns again while one moves (a label placed early may block a later one's only
    free place). `scale`: px per unit of x and of y; `unit_px`: the units' diameter. An edge without a text gets
    (LABEL_AT[0], 0)."""
    along = np.array(LABEL_AT)
    centres = np.array(units, dtype=float) * scale
    segments = np.array([(x0, y0, x1, y1) for (x0, y0), (x1, y1) in edges], dtype=float).reshape(-1, 4) \
        * np.tile(scale, 2)
    candidates: list[tuple[list[tuple[float, float]], np.ndarray, np.ndarray, np.ndarray] | None] = []
    for ((x0, y0), (x1, y1)), text in zip(edges, texts):
        if not text:
            candidates.append(None)
            continue
        width, height = label_box(text, font_px)
        shifts = np.array(LABEL_SHIFTS) * (height / 2 + 6)  # one step clears the edge's marker (14 px)
        x = np.tile((x0 + along * (x1 - x0)) * scale[0], len(shifts))
        y = np.add.outer(shifts, (y0 + along * (y1 - y0)) * scale[1]).ravel()
        boxes = np.column_stack([x - width / 2, y - height / 2, x + width / 2, y + height / 2])
        places = [(float(t), float(shift)) for shift in shifts for t in along]
        outside = 0.0 if bounds is None else _outside(boxes, np.array(bounds, dtype=float) * np.tile(scale, 2))
        foreign = np.delete(segments, len(candidates), axis=0)
        candidates.append((places, boxes, _into_circles(boxes, centres, unit_px) + outside, _crossing(boxes, foreign)))
    labelled = [index for index, candidate in enumerate(candidates) if candidate is not None]
    # In the edges' order, then the labels with the fewest places clear of the units first (where four two-line
    # labels share the room between two layers, the order decides whether each finds one): the better of the two.
    fewest_first = sorted(labelled, key=lambda index: int((candidates[index][2] <= 0).sum()))
    chosen = min((_placed(candidates, order) for order in (labelled, fewest_first)), key=lambda c: c[1])[0]
    return [candidate[0][chosen[index]] if candidate else (LABEL_AT[0], 0.0)
            for index, candidate in enumerate(candidates)]


def _placed(candidates: list, order: list[int]) -> tuple[dict[int, int], tuple[float, float]]:
    """label_places' turns, the labels taking theirs in `order`: each label's candidate, and how far the labels
    reach into the units, each other and out of the plot, in all, then how much of other edges they cover."""
    chosen: dict[int, int] = {}  # label -> its candidate
    for _ in range(LABEL_ROUNDS):
        moved = False
        for index in order:
            _, boxes, into_units, crossing = candidates[index]
            others = [candidates[other][1][pick] for other, pick in chosen.items() if other != index]
            reach = into_units + _into_boxes(boxes, np.array(others).reshape(-1, 4))
            free = np.flatnonzero(reach <= 0)
            # where it can, clear of all that and covering as little of another edge as it can (a label lying on
            # another edge reads as that edge's), the earliest such place
            best = int(free[np.argmin(crossing[free])]) if len(free) else int(np.argmin(reach))
            if index not in chosen or (reach[best], crossing[best]) < (reach[chosen[index]], crossing[chosen[index]]):
                moved = moved or index in chosen
                chosen[index] = best
        if not moved:
            break
    boxes = np.array([candidates[index][1][pick] for index, pick in chosen.items()]).reshape(-1, 4)
    overlaps = _into_boxes(boxes, boxes) - np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])  # (self)
    hard = sum(candidates[index][2][pick] for index, pick in chosen.items()) + overlaps.sum()
    return chosen, (float(hard), float(sum(candidates[index][3][pick] for index, pick in chosen.items())))


def _into_circles(boxes: np.ndarray, centres: np.ndarray, diameter: float) -> np.ndarray:
    """For each box (left, bottom, right, top), how far the units' circles (`diameter` px wide, at `centres`) reach
    into it, summed: 0 when they stay outside."""
    nearest_x = np.clip(centres[None, :, 0], boxes[:, None, 0], boxes[:, None, 2])
    nearest_y = np.clip(centres[None, :, 1], boxes[:, None, 1], boxes[:, None, 3])
    distance = np.hypot(centres[None, :, 0] - nearest_x, centres[None, :, 1] - nearest_y)
    return np.maximum(0.0, diameter / 2 - distance).sum(axis=1)


def _outside(boxes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """For each box (left, bottom, right, top), how far it reaches out of `bounds` (the same), summed over sides."""
    return (np.maximum(0.0, bounds[0] - boxes[:, 0]) + np.maximum(0.0, bounds[1] - boxes[:, 1])
            + np.maximum(0.0, boxes[:, 2] - bounds[2]) + np.maximum(0.0, boxes[:, 3] - bounds[3]))


def _crossing(boxes: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """For each box (left, bottom, right, top), the length of the `segments` (x0, y0, x1, y1) inside it, summed
    (Liang-Barsky clipping)."""
    if not len(segments):
        return np.zeros(len(boxes))
    x0, y0, x1, y1 = (segments[None, :, k] for k in range(4))
    enter, leave = np.zeros((len(boxes), len(segments))), np.ones((len(boxes), len(segments)))
    for start, delta, low, high in ((x0, x1 - x0, boxes[:, 0, None], boxes[:, 2, None]),
                                    (y0, y1 - y0, boxes[:, 1, None], boxes[:, 3, None])):
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = (low - start) / delta, (high - start) / delta
        parallel = delta == 0  # (inside the slab or not at all)
        inside = (low <= start) & (start <= high)
        enter = np.maximum(enter, np.where(parallel, np.where(inside, 0.0, 2.0), np.minimum(a, b)))
        leave = np.minimum(leave, np.where(parallel, np.where(inside, 1.0, -1.0), np.maximum(a, b)))
    return (np.maximum(0.0, leave - enter) * np.hypot(x1 - x0, y1 - y0)).sum(axis=1)


def _into_boxes(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each box, how far the `others` reach into it, summed: for each, the smaller of their overlaps across
    and up; 0 when apart."""
    across = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    up = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return np.maximum(0.0, np.minimum(across, up)).sum(axis=1)


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
