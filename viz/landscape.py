"""Figures of the loss landscape. Pure functions: plain arrays in, go.Figure out.

Each is written down as plain dicts in Plotly's canonical form and made into a figure in one go
(`viz.theme.figure_from_dicts`): a control change or a new picture while training rebuilds them, and
building them with make_subplots, add_trace and update_layout cost several times more Python (most of it
Plotly's per-property validation). tests/test_viz_landscape.py checks that validation leaves each as built.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go

from viz.theme import SEQUENTIAL_SCALE, TEST_COLOR, TRAIN_COLOR, downsample, figure_from_dicts, legend_below

LOSS_COLORS = {"train": TRAIN_COLOR, "test": TEST_COLOR}
PATH_COLOR, CURRENT_COLOR = "#ffffff", "#D55E00"


def _log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks for log10(loss): at 1, 2, 5 × powers of ten inside [low, high]."""
    values = [m * 10.0**e for e in range(int(np.floor(low)) - 1, int(np.ceil(high)) + 1) for m in (1, 2, 5)]
    inside = [v for v in values if low - 1e-9 <= np.log10(v) <= high + 1e-9]
    return [float(np.log10(v)) for v in inside], [f"{v:g}" for v in inside]


def _colour_values(surface: np.ndarray, log_scale: bool) -> tuple[np.ndarray, dict]:
    """What the colours encode, and a colour bar that reads in loss units either way."""
    surface = np.where(np.isfinite(surface), surface, np.nan)  # a diverged network: leave those cells blank
    if not np.isfinite(surface).any() or not log_scale:
        return surface, {"title": {"text": "loss"}, "thickness": 14}
    z = np.log10(np.maximum(surface, 1e-12))
    ticks, labels = _log_ticks(float(np.nanmin(z)), float(np.nanmax(z)))
    return z, {"title": {"text": "loss (log)"}, "thickness": 14, "tickvals": ticks, "ticktext": labels}


def loss_curve(alphas: np.ndarray, losses: Mapping[str, np.ndarray], log_scale: bool = False,
               marks: Mapping[str, float] | None = None, x_title: str = "α",
               title: str = "Loss along a line") -> go.Figure:
    """Train and test loss along one direction, with labelled points (e.g. initial and current weights)."""
    data = [{"type": "scatter", "x": alphas, "y": values, "mode": "lines", "name": f"{name} loss",
             "line": {"color": LOSS_COLORS[name], "width": 3},
             "hovertemplate": f"α=%{{x:.3f}}<br>{name} loss %{{y:.4g}}<extra></extra>"}
            for name, values in losses.items()]
    marks = marks or {}
    # What fig.add_vline(x, annotation_text=label, annotation_position="top") adds.
    shapes = [{"type": "line", "x0": alpha, "x1": alpha, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
               "line": {"color": "#555", "dash": "dot", "width": 1.5}} for alpha in marks.values()]
    annotations = [{"text": label, "showarrow": False, "x": alpha, "xanchor": "center", "xref": "x", "y": 1,
                    "yanchor": "bottom", "yref": "y domain"} for label, alpha in marks.items()]
    layout = {"height": 480, "xaxis": {"title": {"text": x_title}},
              "yaxis": {"title": {"text": "loss"}, "type": "log" if log_scale else "linear"},
              "legend": {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}}
    if marks:
        layout.update(shapes=shapes, annotations=annotations)
    return figure_from_dicts(data, layout, title)


def _path_traces(coordinates: np.ndarray, steps: np.ndarray, z: np.ndarray | None = None) -> list[dict]:
    """The projected trajectory: a line from the start, a marker at the start."""
    index = np.arange(len(steps))
    if len(index) > 2000:
        index = np.unique(np.linspace(0, len(steps) - 1, 2000).round().astype(int))
    x, y, s = coordinates[index, 0], coordinates[index, 1], steps[index]
    hover = "step %{customdata}<br>α=%{x:.3g}, β=%{y:.3g}<extra>path</extra>"
    if z is None:
        return [{"type": "scatter", "x": x, "y": y, "customdata": s, "mode": "lines+markers",
                 "name": "training path (projected)", "line": {"color": PATH_COLOR, "width": 3},
                 "marker": {"size": 5, "color": PATH_COLOR, "line": {"color": "#222", "width": 1}},
                 "hovertemplate": hover},
                {"type": "scatter", "x": x[:1], "y": y[:1], "mode": "markers", "name": f"step {s[0]}",
                 "hoverinfo": "skip",
                 "marker": {"symbol": "circle", "size": 13, "color": "#000", "line": {"color": "#fff", "width": 2}}}]
    return [{"type": "scatter3d", "x": x, "y": y, "z": z[index], "customdata": s, "mode": "lines+markers",
             "name": "training path (on plane)", "line": {"color": "#222", "width": 6},
             "marker": {"size": 2.5, "color": "#222"},
             "hovertemplate": "step %{customdata}<br>loss %{z:.4g}<extra>path</extra>"}]


def loss_contour(alphas: np.ndarray, betas: np.ndarray, surface: np.ndarray, log_scale: bool = False,
                 path_coordinates: np.ndarray | None = None, path_steps: np.ndarray | None = None,
                 axis_titles: tuple[str, str] = ("α", "β"), title: str = "Loss landscape") -> go.Figure:
    """Filled contours of the loss over the plane, the current weights at the centre (0, 0).

    surface: (len(betas), len(alphas)), rows following β. A trajectory's
    projection, when given, is drawn on top; the axes stay on the grid, so a
    path leaving it is visibly cut at the edge."""
    z, colorbar = _colour_values(surface, log_scale)
    data = [{"type": "contour", "x": alphas, "y": betas, "z": z, "colorscale": SEQUENTIAL_SCALE, "ncontours": 24,
             "colorbar": colorbar, "line": {"width": 0.5, "color": "rgba(255,255,255,0.45)"}, "customdata": surface,
             "hovertemplate": "α=%{x:.3g}<br>β=%{y:.3g}<br>loss %{customdata:.4g}<extra></extra>"}]
    if path_coordinates is not None and len(path_coordinates):
        data += _path_traces(np.asarray(path_coordinates), np.asarray(path_steps))
    data.append({"type": "scatter", "x": [0.0], "y": [0.0], "mode": "markers", "name": "current weights",
                 "hoverinfo": "skip", "marker": {"symbol": "star", "size": 18, "color": CURRENT_COLOR,
                                                 "line": {"color": "#fff", "width": 1.5}}})
    # Both axes measure distance in weight space: equal scales keep the picture's geometry honest.
    layout = {"height": 540, "margin": {"l": 60, "r": 10, "t": 50, "b": 40},
              "xaxis": {"title": {"text": axis_titles[0]}, "range": [alphas[0], alphas[-1]], "showgrid": False,
                        "constrain": "domain"},
              "yaxis": {"title": {"text": axis_titles[1]}, "range": [betas[0], betas[-1]], "showgrid": False,
                        "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
              "legend": legend_below(x=0, font={"size": 13})}
    return figure_from_dicts(data, layout, title)


def loss_surface_3d(alphas: np.ndarray, betas: np.ndarray, surface: np.ndarray, log_scale: bool = False,
                    path_coordinates: np.ndarray | None = None, path_steps: np.ndarray | None = None,
                    path_loss: np.ndarray | None = None, axis_titles: tuple[str, str] = ("α", "β"),
                    title: str = "Loss landscape") -> go.Figure:
    """The loss as a height field; a trajectory's projection rides on the surface (its plane loss)."""
    colour, colorbar = _colour_values(surface, log_scale)
    data = [{"type": "surface", "x": alphas, "y": betas, "z": surface, "surfacecolor": colour,
             "colorscale": SEQUENTIAL_SCALE, "colorbar": {**colorbar, "len": 0.6, "thickness": 12},
             "customdata": surface, "name": "loss",
             "hovertemplate": "α=%{x:.3g}<br>β=%{y:.3g}<br>loss %{z:.4g}<extra></extra>",
             "contours": {"z": {"show": True, "usecolormap": True, "project": {"z": True}, "width": 1}}}]
    if path_coordinates is not None and path_loss is not None and len(path_coordinates):
        data += _path_traces(np.asarray(path_coordinates), np.asarray(path_steps), np.asarray(path_loss))
    centre = surface[len(betas) // 2, len(alphas) // 2]
    data.append({"type": "scatter3d", "x": [0.0], "y": [0.0], "z": [centre], "mode": "markers",
                 "name": "current weights", "hoverinfo": "skip",
                 "marker": {"size": 7, "color": CURRENT_COLOR, "symbol": "diamond"}})
    scene = {"xaxis": {"title": {"text": axis_titles[0].split(" (")[0]}},
             "yaxis": {"title": {"text": axis_titles[1].split(" (")[0]}},
             "zaxis": {"title": {"text": "loss"}, "type": "log" if log_scale else "linear"},
             "camera": {"eye": {"x": 1.25, "y": -1.25, "z": 0.8}}, "aspectmode": "manual",
             "aspectratio": {"x": 1, "y": 1, "z": 0.7}}
    layout = {"height": 560, "margin": {"l": 0, "r": 0, "t": 50, "b": 0}, "showlegend": False, "scene": scene}
    return figure_from_dicts(data, layout, title)


def path_loss_comparison(steps: np.ndarray, true_loss: np.ndarray, plane_loss: np.ndarray, off_plane: np.ndarray,
                         log_scale: bool = False, title: str = "Along the training path: true loss vs. the plotted "
                                                                "plane") -> go.Figure:
    """What the picture hides: the loss the network really had at each recorded step next to the
    surface's value where that step is drawn, and how far the weights were from the plane."""
    x, true_y = downsample(np.asarray(steps), np.asarray(true_loss))
    _, plane_y = downsample(np.asarray(steps), np.asarray(plane_loss))
    _, distance = downsample(np.asarray(steps), np.asarray(off_plane))
    data = [{"type": "scatter", "x": x, "y": true_y, "mode": "lines", "name": "true loss at the recorded weights",
             "line": {"color": TRAIN_COLOR, "width": 3}, "xaxis": "x", "yaxis": "y"},
            {"type": "scatter", "x": x, "y": plane_y, "mode": "lines", "name": "surface value at the projected point",
             "line": {"color": TEST_COLOR, "width": 3, "dash": "dash"}, "xaxis": "x", "yaxis": "y"},
            {"type": "scatter", "x": x, "y": distance, "mode": "lines", "name": "distance from the plane",
             "line": {"color": "#555", "width": 2}, "fill": "tozeroy", "fillcolor": "rgba(85,85,85,0.15)",
             "xaxis": "x2", "yaxis": "y2"}]
    layout = {
        # What make_subplots(rows=2, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.08) lays out.
        "xaxis": {"anchor": "y", "domain": [0.0, 1.0], "matches": "x2", "showticklabels": False},
        "xaxis2": {"anchor": "y2", "domain": [0.0, 1.0], "title": {"text": "step"}},
        "yaxis": {"anchor": "x", "domain": [0.402, 1.0], "title": {"text": "loss"},
                  "type": "log" if log_scale else "linear"},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 0.322], "title": {"text": "‖θ − plane‖"}, "rangemode": "tozero"},
        "height": 460, "margin": {"l": 60, "r": 20, "t": 80, "b": 45},
        "legend": {"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom", "font": {"size": 13}},
    }
    return figure_from_dicts(data, layout, title)


def hessian_spectrum(eigenvalues: np.ndarray, learning_rate: float | None, stable_step: float | None,
                     rule: str = "2/λmax", title: str = "Curvature at the current weights") -> go.Figure:
    """Top Hessian eigenvalues as bars, and the step-size axis: the learning rate against the largest
    step that is stable on the local quadratic."""
    values = np.asarray(eigenvalues, dtype=float)
    data = [{"type": "bar", "x": [f"λ{i + 1}" for i in range(len(values))], "y": values,
             "marker": {"color": ["#0072B2" if v >= 0 else "#D55E00" for v in values]},
             "text": [f"{v:.3g}" for v in values], "textposition": "outside", "cliponaxis": False,
             "hovertemplate": "%{x} = %{y:.5g}<extra></extra>", "showlegend": False, "xaxis": "x", "yaxis": "y"}]
    # What make_subplots(rows=2, row_heights=[0.68, 0.32], vertical_spacing=0.26, subplot_titles=...) lays out.
    layout = {
        "xaxis": {"anchor": "y", "domain": [0.0, 1.0]},
        "xaxis2": {"anchor": "y2", "domain": [0.0, 1.0]},
        "yaxis": {"anchor": "x", "domain": [0.4968, 1.0], "title": {"text": "eigenvalue"}, "rangemode": "tozero"},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 0.2368], "visible": False, "range": [0, 1.3]},
        "annotations": [{"text": text, "x": 0.5, "xanchor": "center", "xref": "paper", "y": top, "yanchor": "bottom",
                         "yref": "paper", "showarrow": False, "font": {"size": 16}}
                        for text, top in (("top Hessian eigenvalues", 1.0), ("step size (log scale)", 0.2368))],
        "height": 460, "margin": {"l": 60, "r": 20, "t": 70, "b": 40},
    }
    points = {k: v for k, v in (("learning rate η", learning_rate), (rule, stable_step))
              if v is not None and np.isfinite(v) and v > 0}
    if points:
        low, high = np.log10(min(points.values())) - 0.7, np.log10(max(points.values())) + 0.7
        if stable_step is not None and np.isfinite(stable_step) and stable_step > 0:
            layout["shapes"] = [{"type": "rect", "x0": x0, "x1": x1, "xref": "x2", "y0": 0, "y1": 1,
                                 "yref": "y2 domain", "fillcolor": fill, "line": {"width": 0}, "layer": "below"}
                                for x0, x1, fill in ((10**low, stable_step, "rgba(0,158,115,0.18)"),
                                                     (stable_step, 10**high, "rgba(213,94,0,0.15)"))]
        # The learning rate's label above its mark, the stable step's below: apart however close the two come,
        # and free to run past the strip's ends (near them a centred label was cut at the plot's edge).
        for (name, value), colour, symbol, side in zip(points.items(), ("#000000", "#D55E00"),
                                                       ("triangle-up", "line-ns"), ("top", "bottom")):
            data.append({"type": "scatter", "x": [value], "y": [0.5], "mode": "markers+text", "cliponaxis": False,
                         "text": [f"{name} = {value:.3g}"], "textposition": f"{side} center", "name": name,
                         "showlegend": False, "marker": {"size": 16, "color": colour, "symbol": symbol,
                                                         "line": {"width": 3, "color": colour}},
                         "hovertemplate": f"{name} = %{{x:.4g}}<extra></extra>", "xaxis": "x2", "yaxis": "y2"})
        layout["xaxis2"].update(type="log", range=[low, high], dtick=1)
    return figure_from_dicts(data, layout, title)


def landscape_figure(view, kind: str, which: str, log_scale: bool = False, title: str = "Loss landscape") -> go.Figure:
    """The figure for an `engine.landscape.views.LandscapeView`: a curve for a line, else a contour
    (kind "contour") or a 3-D surface of the `which` loss, with the projected path where there is one."""
    if view.betas is None:
        return loss_curve(view.alphas, view.losses, log_scale, view.marks, view.axis_titles[0], title)
    path = view.path
    common = dict(log_scale=log_scale, axis_titles=view.axis_titles, title=title,
                  path_coordinates=None if path is None else path.coordinates,
                  path_steps=None if path is None else path.steps)
    if kind == "contour":
        return loss_contour(view.alphas, view.betas, view.losses[which], **common)
    return loss_surface_3d(view.alphas, view.betas, view.losses[which],
                           path_loss=None if path is None else path.plane_loss[which], **common)
