"""Figures of the Convolutional networks page's worked sections: the arithmetic of a stack (a window sliding
over a padded grid, and what one unit sees), the kernel sandbox, and upsampling's checkerboard.

Grids are drawn in cell coordinates (column x, row y, row 0 at the top), one cell a unit square, so padding
sits at −1, −2, ... and at n, n+1, ... Every figure is built from plain dicts (viz.theme.figure_from_dicts):
each is redrawn on every change of a control.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from engine.cnn.arithmetic import StackReport, receptive_field, window_taps
from engine.cnn.upsampling import BORDER, CONSTANT_INPUT, METHODS, UpsamplingStudy
from viz.theme import DIVERGING, OKABE_ITO, SEQUENTIAL_SCALE, figure_from_dicts, frame_player

CELL_COLOR, PADDING_COLOR, SEEN_COLOR = "#eef0f4", "#b9bec8", "#f5b660"
WINDOW_COLOR, UNIT_COLOR = OKABE_ITO[0], OKABE_ITO[5]
CELL_GAP_UP_TO = 40  # cells a side drawn with a gap between them; larger grids would be all gaps
MAX_WINDOW_STOPS = 8  # rows (and columns) of output positions the animation visits: at most 8 x 8 frames
GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
PLAIN_SCALE = [[0, CELL_COLOR], [1, CELL_COLOR]]
SEEN_SCALE = [[0, CELL_COLOR], [0.5, CELL_COLOR], [0.5, SEEN_COLOR], [1, SEEN_COLOR]]
PANEL_TITLE_SIZE = 15
HEIGHT = 900  # the stack figure: two rows of square grids, a slider between them
SLIDER_Y = 0.555
UPSAMPLING_TITLES = {"transposed3": "transposed, kernel 3", "transposed4": "transposed, kernel 4",
                     "resize_conv": "resize, then 3×3 conv"}


def _axis(lo: float, hi: float, anchor: str, domain: Sequence[float], reversed_: bool = False, **extra) -> dict:
    axis = {"range": [hi, lo] if reversed_ else [lo, hi], "anchor": anchor, "domain": list(domain),
            "showgrid": False, "zeroline": False, "ticks": "", "showticklabels": False, "constrain": "domain"}
    return {**axis, **extra}


def _grid_axes(layout: dict, panel: int, lo: float, hi: float, x_domain, y_domain) -> None:
    """Square cells: the y axis (rows, 0 at the top) is scaled to the x axis of the same panel."""
    suffix = "" if panel == 1 else str(panel)
    layout[f"xaxis{suffix}"] = _axis(lo, hi, f"y{suffix}", x_domain)
    layout[f"yaxis{suffix}"] = _axis(lo, hi, f"x{suffix}", y_domain, reversed_=True,
                                     scaleanchor=f"x{suffix}", scaleratio=1)


def _on(panel: int) -> dict:
    suffix = "" if panel == 1 else str(panel)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _cells(name: str, z: np.ndarray, first: int, colorscale: list, panel: int, hover: str) -> dict:
    """A grid of cells whose top-left cell is (first, first), coloured by z, 0 or 1 (a byte a cell)."""
    gap = 1 if z.shape[0] <= CELL_GAP_UP_TO else 0
    return {"type": "heatmap", "name": name, "z": z.astype(np.uint8), "x0": first, "dx": 1, "y0": first, "dy": 1,
            "zmin": 0, "zmax": 1, "colorscale": colorscale, "showscale": False, "xgap": gap, "ygap": gap,
            "hovertemplate": hover, **_on(panel)}


def _outline(top: float, bottom: float, left: float, right: float) -> tuple[list, list]:
    """The border of cells top..bottom x left..right (inclusive): a closed path around their edges."""
    x = [left - 0.5, right + 0.5, right + 0.5, left - 0.5, left - 0.5]
    y = [top - 0.5, top - 0.5, bottom + 0.5, bottom + 0.5, top - 0.5]
    return x, y


def _outline_trace(box, panel: int, color: str, name: str, dash: str = "solid") -> dict:
    x, y = _outline(*box)
    return {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": name, "showlegend": False,
            "hoverinfo": "skip", "line": {"color": color, "width": 3, "dash": dash}, **_on(panel)}


def _panel_title(text: str, x_domain, y_top: float) -> dict:
    return {"text": text, "x": (x_domain[0] + x_domain[1]) / 2, "xanchor": "center", "xref": "paper",
            "y": y_top, "yanchor": "bottom", "yref": "paper", "showarrow": False,
            "font": {"size": PANEL_TITLE_SIZE}}


def _stops(count: int) -> list[int]:
    return np.unique(np.linspace(0, count - 1, min(count, MAX_WINDOW_STOPS)).round().astype(int)).tolist()


# ------------------------------------------------------------------------- the stack
def stack_figure(report: StackReport, layer_index: int, unit: tuple[int, int]) -> go.Figure:
    """Top: layer `layer_index` (0-based, a row of `report`; past the last row: the last) sliding its window
    over its padded input, taps marked, padding shaded, and the output cell each position makes; the animation
    visits up to 8 x 8 positions, corners included. Bottom: what output unit `unit` = (row, col) of the last
    layer worked out sees of the network's input (the cells it depends on filled, the textbook field dashed),
    beside that layer's output, whose cells can be clicked ("click a unit": x is the column, y the row)."""
    if not report.rows:
        raise ValueError(f"nothing to draw: {report.problem}")
    # The page's layer slider spans every layer; a stack stopped by a problem has fewer rows to show.
    row = report.rows[min(max(layer_index, 0), len(report.rows) - 1)]
    layer, n, m, p = row.layer, row.in_size, row.out_size, row.layer.padding
    last = report.rows[-1]
    # A clicked unit survives a change of the stack that shrinks the output: it is kept inside it.
    unit = (min(max(unit[0], 0), last.out_size - 1), min(max(unit[1], 0), last.out_size - 1))
    left, right = (0.0, 0.58), (0.68, 1.0)
    top, bottom = (0.58, 0.96), (0.0, 0.38)  # the slider sits between the rows
    layout: dict = {"height": HEIGHT, "showlegend": False, "margin": {"l": 20, "r": 20, "t": 70, "b": 20},
                    "hovermode": "closest"}
    _grid_axes(layout, 1, -p - 0.5, n + p - 0.5, left, top)
    _grid_axes(layout, 2, -0.5, m - 0.5, right, top)

    padded = np.zeros((n + 2 * p, n + 2 * p))
    padded[p:p + n, p:p + n] = 1
    data = [_cells("layer input", padded, -p, [[0, PADDING_COLOR], [1, CELL_COLOR]], 1,
                    "row %{y}, column %{x}<extra></extra>"),
            _cells("layer output", np.ones((m, m)), 0, PLAIN_SCALE, 2,
                   "output row %{y}, column %{x}<extra></extra>")]
    positions = [(r, c) for r in _stops(m) for c in _stops(m)]

    def window_traces(r: int, c: int) -> list[dict]:
        taps = np.array(window_taps(layer, r, c), dtype=np.int8)  # −3..70: one byte each, not eight
        span = (taps[:, 0].min(), taps[:, 0].max(), taps[:, 1].min(), taps[:, 1].max())
        window_x, window_y = _outline(*span)
        cell_x, cell_y = _outline(r, r, c, c)
        return [{"type": "scatter", "x": taps[:, 1], "y": taps[:, 0]},
                {"type": "scatter", "x": window_x, "y": window_y},
                {"type": "scatter", "x": cell_x, "y": cell_y}]

    first = window_traces(*positions[0])
    cell_px = (HEIGHT - 90) * (top[1] - top[0]) / (n + 2 * p)  # at most: a narrow page makes cells smaller
    tap_size = float(np.clip(0.6 * cell_px, 4, 12))
    first[0].update(mode="markers", name="taps", marker={"size": tap_size, "color": WINDOW_COLOR},
                    hovertemplate="tap at row %{y}, column %{x}<extra></extra>", **_on(1))
    first[1].update(mode="lines", name="window", line={"color": WINDOW_COLOR, "width": 3}, hoverinfo="skip",
                    **_on(1))
    first[2].update(mode="lines", name="output cell", line={"color": WINDOW_COLOR, "width": 3},
                    hoverinfo="skip", **_on(2))
    moving = list(range(len(data), len(data) + 3))
    data += first

    _grid_axes(layout, 3, 0, 1, left, bottom)  # ranges set below, once the field is known
    _grid_axes(layout, 4, -0.5, last.out_size - 0.5, right, bottom)
    field = receptive_field(report.n, report.layers[:len(report.rows)], *unit)
    seen = np.zeros((report.n, report.n))
    seen[np.ix_(field.rows, field.cols)] = 1
    lo = min(-0.5, field.box[0] - 0.5, field.box[2] - 0.5)
    hi = max(report.n - 0.5, field.box[1] + 0.5, field.box[3] + 0.5)
    layout["xaxis3"]["range"], layout["yaxis3"]["range"] = [lo - 0.3, hi + 0.3], [hi + 0.3, lo - 0.3]
    data += [_cells("cells seen", seen, 0, SEEN_SCALE, 3,
                    "input row %{y}, column %{x}<extra></extra>"),
             _outline_trace(field.box, 3, UNIT_COLOR, "receptive field", dash="dash"),
             _cells("last output", np.ones((last.out_size, last.out_size)), 0, PLAIN_SCALE, 4,
                    "row %{y}, column %{x}<extra></extra>"),
             _outline_trace((unit[0], unit[0], unit[1], unit[1]), 4, UNIT_COLOR, "chosen unit")]
    grid = np.arange(last.out_size, dtype=np.uint8)
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    # Hover and click find a cell without its marker being drawn (one drawn marker, not thousands of nodes).
    data.append({"type": "scatter", "x": cols.ravel(), "y": rows.ravel(), "mode": "markers",
                 "name": "click a unit", "marker": {"size": 10, "opacity": 0, "maxdisplayed": 1},
                 "unselected": {"marker": {"opacity": 0}}, "selected": {"marker": {"opacity": 0}},
                 "hovertemplate": "click: what unit (%{y}, %{x}) sees<extra></extra>", **_on(4)})

    size = field.box[1] - field.box[0] + 1
    padded_by = f", padded by {p} (grey)" if p else ""
    layout["annotations"] = [
        _panel_title(f"Layer {row.index} ({layer.describe()})<br>its {n}×{n} input{padded_by}", left, top[1]),
        _panel_title(f"its {m}×{m} output", right, top[1]),
        _panel_title(f"What unit ({unit[0]}, {unit[1]}) of layer {last.index} sees<br>{size}×{size} of the "
                     f"{report.n}×{report.n} input (dashed), jump {last.jump}", left, bottom[1]),
        _panel_title(f"Layer {last.index}'s {last.out_size}×{last.out_size} output<br>click a unit",
                     right, bottom[1])]
    frames = [{"name": f"({r}, {c})", "data": window_traces(r, c), "traces": moving} for r, c in positions]
    if len(frames) > 1:
        _slider(layout, frames)
    return figure_from_dicts(data, layout, f"Layer {row.index}: output size {row.formula}",
                             frames if len(frames) > 1 else ())


def _slider(layout: dict, frames: list[dict]) -> None:
    """A play button and a slider over the window's positions (as viz.optimizers' race)."""
    play = {"frame": {"duration": 350, "redraw": False}, "transition": {"duration": 0}, "fromcurrent": True,
            "mode": "immediate"}
    layout.update(frame_player([f["name"] for f in frames], play, active=0, prefix="output ", play_label="▶ Slide",
                               y=SLIDER_Y, below_px=0))


# ------------------------------------------------------------------------ the sandbox
def kernel_figure(image: np.ndarray, kernel: np.ndarray, output: np.ndarray, names: tuple[str, str]) -> go.Figure:
    """Input | the 3x3 kernel with its numbers in the cells | output. `names` = (image name, kernel name).
    Signed outputs (an edge detector's) are drawn on the diverging scale, centred on zero; the rest in grey."""
    image, kernel, output = (np.asarray(a, dtype=np.float32) for a in (image, kernel, output))
    image_name, kernel_name = names
    rows, cols = image.shape
    domains = ((0.0, 0.36), (0.41, 0.59), (0.64, 1.0))
    layout: dict = {"height": 430, "margin": {"l": 10, "r": 10, "t": 80, "b": 10}}
    for panel, (domain, (r, c)) in enumerate(zip(domains, ((rows, cols), (3, 3), (rows, cols))), start=1):
        suffix = "" if panel == 1 else str(panel)
        layout[f"xaxis{suffix}"] = _axis(-0.5, c - 0.5, f"y{suffix}", domain)
        layout[f"yaxis{suffix}"] = _axis(-0.5, r - 0.5, f"x{suffix}", (0.0, 1.0), reversed_=True,
                                         scaleanchor=f"x{suffix}", scaleratio=1)
    bound = float(np.abs(kernel).max()) or 1.0
    text = [[f"{v:g}" if float(v).is_integer() else f"{v:.3g}" for v in kernel_row] for kernel_row in kernel]
    signed = bool((output < 0).any())
    out_bound = float(np.abs(output).max()) or 1.0
    out_scale = ({"colorscale": DIVERGING, "zmin": -out_bound, "zmax": out_bound} if signed else
                 {"colorscale": GRAY, "zmin": 0.0, "zmax": max(out_bound, 1.0)})
    data = [{"type": "heatmap", "name": "input", "z": image, "colorscale": GRAY, "zmin": 0, "zmax": 1,
             "showscale": False, "hovertemplate": "row %{y}, column %{x}: %{z:.2f}<extra></extra>", **_on(1)},
            {"type": "heatmap", "name": "kernel", "z": kernel, "colorscale": DIVERGING, "zmin": -bound,
             "zmax": bound, "showscale": False, "text": text, "texttemplate": "%{text}", "textfont": {"size": 16},
             "xgap": 2, "ygap": 2, "hovertemplate": "weight %{text}<extra></extra>", **_on(2)},
            {"type": "heatmap", "name": "output", "z": output, **out_scale,
             "colorbar": {"thickness": 12, "len": 0.8},
             "hovertemplate": "row %{y}, column %{x}: %{z:.3g}<extra></extra>", **_on(3)}]
    layout["annotations"] = [_panel_title(f"{image_name}", domains[0], 1.0),
                             _panel_title(kernel_name, domains[1], 1.0),
                             _panel_title("output" + (" (signed)" if signed else ""), domains[2], 1.0)]
    return figure_from_dicts(data, layout, f"{kernel_name} on {image_name}")


# ---------------------------------------------------------------------- upsampling
def upsampling_figure(result: UpsamplingStudy, weighting: str = "ones",
                      input_name: str = CONSTANT_INPUT) -> go.Figure:
    """The input map, then each method's 2n x 2n output, titled with the method and its checkerboard (the
    relative spread of a constant map's output inside the dashed interior; 0: no pattern)."""
    inputs = result.inputs[input_name]
    n = inputs.shape[0]
    panels = 1 + len(METHODS)
    width, gap = 0.2, (1.0 - 0.2 * panels) / (panels - 1)
    domains = [(i * (width + gap), i * (width + gap) + width) for i in range(panels)]
    third_line = 0 if input_name == CONSTANT_INPUT else 30  # px: the panels' titles say what was measured on
    layout: dict = {"height": 400 + third_line, "showlegend": False,
                    "margin": {"l": 10, "r": 10, "t": 110 + third_line, "b": 10}}
    data = [{"type": "heatmap", "name": "input", "z": inputs.astype(np.float32), "colorscale": SEQUENTIAL_SCALE,
             "showscale": False, "hovertemplate": "row %{y}, column %{x}: %{z:.3g}<extra></extra>", **_on(1)}]
    titles = [f"input, {n}×{n}"]
    for panel, method in enumerate(METHODS, start=2):
        output = result.output(method, weighting, input_name).astype(np.float32)
        data.append({"type": "heatmap", "name": method, "z": output, "colorscale": SEQUENTIAL_SCALE, "showscale": False,
                     "hovertemplate": "row %{y}, column %{x}: %{z:.3g}<extra></extra>", **_on(panel)})
        interior = (BORDER, 2 * n - 1 - BORDER, BORDER, 2 * n - 1 - BORDER)
        data.append(_outline_trace(interior, panel, "#ffffff", "interior", dash="dash"))
        # (on a line of its own: after the checkerboard, the last panel's title ran past the figure's edge)
        measured_on = "" if input_name == CONSTANT_INPUT else "<br>(on the constant map)"
        titles.append(f"{UPSAMPLING_TITLES[method]}<br>checkerboard "
                      f"{result.checkerboard[(method, weighting)]:.2f}{measured_on}")
    for panel, domain in enumerate(domains, start=1):
        size = n if panel == 1 else 2 * n
        suffix = "" if panel == 1 else str(panel)
        layout[f"xaxis{suffix}"] = _axis(-0.5, size - 0.5, f"y{suffix}", domain)
        layout[f"yaxis{suffix}"] = _axis(-0.5, size - 0.5, f"x{suffix}", (0.0, 1.0), reversed_=True,
                                         scaleanchor=f"x{suffix}", scaleratio=1)
    layout["annotations"] = [_panel_title(text, domain, 1.0) for text, domain in zip(titles, domains)]
    weights = "all-ones weights" if weighting == "ones" else "random weights"
    return figure_from_dicts(data, layout, f"Upsampling the {input_name} {n}×{n} map by 2, {weights}")
