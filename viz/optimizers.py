"""Figures of optimizer trajectories on 2-D surfaces, and of GD's step-size regimes.

Pure functions: engine data in, `go.Figure` out. Colours come from
`viz.theme.optimizer_color`, so an optimizer looks the same on every page.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from engine.optimizers.surfaces import Surface
from engine.optimizers.theory import EigenDirection
from engine.optimizers.trajectory import Trajectory, left_region_at
from viz.raster import content_key, kept_picture
from viz.theme import PLAYER_BELOW_PX, TEMPLATE, figure_from_dicts, frame_player, legend_below, log_axis, \
    optimizer_color

# Light greys under the paths, so every optimizer colour stands out on them.
SURFACE_SCALE = [[0.0, "#fbfbfc"], [0.5, "#dfe3e8"], [1.0, "#a9b1bc"]]
CONTOUR_LEVELS = 28
CONTOUR_LINE = (60, 70, 85, 0.35)  # r, g, b, opacity of the level lines
REGIME_COLORS = {"monotone": "#009E73", "oscillating": "#E69F00", "diverging": "#D55E00", "escaping": "#CC79A7"}
LOG_FLOOR = 1e-16  # f − f* and distances below this are drawn at this value (a log axis has no zero)
MAX_FRAMES = 50
# Every trace of every animation frame is sent at each change and kept by plotly.js: a race of many optimizers gets
# fewer frames, so the contour weighs about the same whatever the race (~230 KB).
FRAME_TRACE_BUDGET = 300
MAX_FRAME_POINTS = 500
# A path draws a step's dot only this far (a fraction of the view's width or height) from the last dot drawn:
# closer dots draw over each other (a dot is ~1% of the view wide), and a run that converged piles a hundred
# steps onto one spot, each an SVG marker the browser styles and lays out again at every change (the default
# race: 604 dots -> 180, the same picture).
MIN_DOT_GAP = 0.003


# ----------------------------------------------------------------- helpers
def surface_values(surface: Surface, values: np.ndarray) -> np.ndarray:
    """What the colour (and 3-D height) shows: log10(f − f* + 1e-3) for wide-range surfaces, else f."""
    if surface.log_scale:
        return np.log10(np.maximum(values - surface.f_min, 0.0) + 1e-3)
    return values


def view_exit(points: np.ndarray, x_range, y_range) -> tuple[np.ndarray, int] | None:
    """Where a path leaves the view for good: (the point on the view's edge, the step it left at).

    The step is `engine.optimizers.trajectory.left_region_at`, the one the summary table names. None when the
    path ends inside the view or never was in it.
    """
    left_at = left_region_at(points, x_range, y_range)
    if not left_at:
        return None
    a, b = points[left_at - 1], points[left_at]
    d = b - a
    t_exit = 1.0
    # Liang–Barsky: the largest t in [0, 1] for which a + t d is still inside the box.
    for axis, (lo, hi) in enumerate((x_range, y_range)):
        if d[axis] > 0:
            t_exit = min(t_exit, (hi - a[axis]) / d[axis])
        elif d[axis] < 0:
            t_exit = min(t_exit, (lo - a[axis]) / d[axis])
    # Clamped: a rounding error past the edge would hide the marker there (plotly.js hides points off the axes).
    edge = np.clip(a + max(t_exit, 0.0) * d, [x_range[0], y_range[0]], [x_range[1], y_range[1]])
    return edge, left_at


def _visible_path(traj: Trajectory, x_range, y_range) -> tuple[np.ndarray, np.ndarray]:
    """The path's points up to where it leaves the view for good, then the edge point; and their steps."""
    exit_ = view_exit(traj.points, x_range, y_range)
    steps = np.arange(len(traj.points))
    if exit_ is None:
        return traj.points, steps
    edge, left_at = exit_
    return np.vstack([traj.points[:left_at], edge]), np.append(steps[:left_at], left_at)


def _hover_data(traj: Trajectory, steps: np.ndarray) -> np.ndarray:
    """(step, f) per drawn point; the edge point a diverging path is cut at shows the f it jumped to."""
    return np.column_stack([steps, traj.losses[np.minimum(steps, len(traj.losses) - 1)]])


def _frame_points(n: int) -> np.ndarray:
    """Every stride-th point (and the last), at most ~MAX_FRAME_POINTS: the points an animated path draws."""
    stride = max(1, math.ceil(n / MAX_FRAME_POINTS))
    return np.unique(np.append(np.arange(0, n, stride), n - 1))


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def _apart(pts: np.ndarray, keep: np.ndarray, x_range, y_range) -> np.ndarray:
    """Of the points `keep` indexes, the first, the last, and each one at least MIN_DOT_GAP of the view away from
    the one kept before it."""
    if len(keep) <= 2:
        return keep
    scaled = (pts[keep] / [x_range[1] - x_range[0], y_range[1] - y_range[0]]).tolist()
    chosen, (last_x, last_y) = [0], scaled[0]
    for i, (x, y) in enumerate(scaled[1:-1], start=1):
        if math.hypot(x - last_x, y - last_y) >= MIN_DOT_GAP:
            chosen.append(i)
            last_x, last_y = x, y
    chosen.append(len(keep) - 1)
    return keep[chosen]


def _divergence_label(traj: Trajectory, x_range, y_range) -> tuple[np.ndarray, str] | None:
    """Where a diverged run's ✕ goes (where it left the view, else where it stopped, kept in view) and what
    it says: the run's `divergence`, in the words of the summary table. None for a run that did not diverge."""
    if traj.diverged_at is None:
        return None
    exit_ = view_exit(traj.points, x_range, y_range)
    if exit_ is not None:
        return exit_[0], traj.divergence
    return np.clip(traj.points[-1], [x_range[0], y_range[0]], [x_range[1], y_range[1]]), traj.divergence


def inward_text_position(point, x_range, y_range) -> str:
    """A `textposition` that puts a label on the inside of the view from `point`, away from the nearer side
    both ways: a label at the edge then never runs over the tick labels (or the legend above the plot)."""
    vertical = "top" if point[1] < np.mean(y_range) else "bottom"
    horizontal = "right" if point[0] < np.mean(x_range) else "left"
    return f"{vertical} {horizontal}"


def _colorbar(surface: Surface, z: np.ndarray) -> dict:
    if not surface.log_scale:
        return dict(title=dict(text="f", side="right"), thickness=14)
    ticks = np.arange(math.floor(z.min()), math.ceil(z.max()) + 1)
    return dict(title=dict(text="f − f*", side="right"), thickness=14, tickvals=ticks,
                ticktext=[f"{10.0**t:g}" for t in ticks])


def _point_markers(surface: Surface, start, three_d: bool = False) -> list[dict]:
    """Start (black disc), known minima (white stars) and saddle points (white diamonds), as trace dicts."""
    groups = [("start", [start], "circle", "#1f2430", 13), ("minimum", surface.minima, "star", "white", 18),
              ("saddle point", surface.saddles, "diamond", "white", 12)]
    traces = []
    for name, pts, symbol, color, size in groups:
        if not pts:
            continue
        pts = np.asarray(pts, dtype=float)
        marker = {"symbol": symbol if not three_d else "diamond" if symbol != "circle" else "circle",
                  "color": color, "size": size if not three_d else 6, "line": {"color": "#1f2430", "width": 1.5}}
        trace = {"x": pts[:, 0], "y": pts[:, 1], "mode": "markers", "name": name, "marker": marker,
                 "hovertemplate": f"{name}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>"}
        if three_d:
            z = surface_values(surface, np.array([surface.value_at(p) for p in pts]))
            traces.append({"type": "scatter3d", **trace, "z": z})
        else:
            traces.append({"type": "scatter", **trace, "cliponaxis": False})
    return traces


# ----------------------------------------------------------------- contour + trajectories
def contour_bands(z: np.ndarray, levels: int = CONTOUR_LEVELS) -> np.ndarray:
    """The band index (0 .. levels-1) of each value, for `levels` equal bands between z's min and max."""
    lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
    scaled = (z - lo) / (hi - lo) if hi > lo else np.zeros_like(z)
    return np.clip(np.floor(np.nan_to_num(scaled, nan=1.0) * levels), 0, levels - 1).astype(int)


def contour_image(z: np.ndarray, levels: int = CONTOUR_LEVELS) -> str:
    """A filled-contour picture of z (rows = increasing y) as a PNG data URI: each band filled
    with SURFACE_SCALE's colour at its middle, and a thin line wherever the band changes. Drawn once per
    surface (viz.raster.kept_picture): every control change but a new function keeps it (13 ms a drawing)."""
    return kept_picture(("contour", content_key(z), levels), lambda: _contour_pixels(z, levels))


def _contour_pixels(z: np.ndarray, levels: int) -> np.ndarray:
    bands = contour_bands(z, levels)
    stops = np.array([p for p, _ in SURFACE_SCALE])
    rgb_stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in SURFACE_SCALE], dtype=float)
    middles = (np.arange(levels) + 0.5) / levels
    palette = np.column_stack([np.interp(middles, stops, rgb_stops[:, i]) for i in range(3)])
    pixels = palette[bands]
    edge = np.zeros(bands.shape, dtype=bool)
    edge[:, 1:] |= bands[:, 1:] != bands[:, :-1]
    edge[1:, :] |= bands[1:, :] != bands[:-1, :]
    *line, alpha = CONTOUR_LINE
    pixels[edge] = (1 - alpha) * pixels[edge] + alpha * np.array(line, dtype=float)
    return pixels[::-1].round().astype(np.uint8)  # image rows run top (max y) to bottom


def trajectory_contour(surface: Surface, trajectories: Sequence[Trajectory], start, *, resolution: int = 400,
                       click_grid: int = 45, animate: bool = True, height: int = 620) -> go.Figure:
    """Contour of f with every optimizer's path, a step slider with a play button, and
    (with `click_grid` > 0) an invisible grid of points a click can select as a new start.

    Built from plain dicts (viz.theme.figure_from_dicts): it is redrawn on every control change, and
    Plotly's validation of its ~500 traces and frames cost more than the whole race."""
    x_range, y_range = surface.x_range, surface.y_range
    data = []
    if click_grid:
        gx, gy = np.meshgrid(np.linspace(*x_range, click_grid), np.linspace(*y_range, click_grid))
        # Hover and click find a point without its marker being drawn: one drawn marker instead of ~2,000
        # invisible SVG nodes, which took the browser longer to lay out than the rest of the chart.
        data.append({"type": "scatter", "x": gx.ravel(), "y": gy.ravel(), "mode": "markers",
                     "name": "click to start here", "showlegend": False,
                     "marker": {"size": 9, "opacity": 0, "maxdisplayed": 1},
                     "unselected": {"marker": {"opacity": 0}}, "selected": {"marker": {"opacity": 0}},
                     "hovertemplate": "click: start here<br>(%{x:.2f}, %{y:.2f})<extra></extra>"})

    path_traces, head_traces, visible = [], [], []
    for traj in trajectories:
        color = optimizer_color(traj.kind)
        pts, steps = _visible_path(traj, x_range, y_range)
        keep = _apart(pts, _frame_points(len(pts)) if animate else _thin(len(pts), 2000), x_range, y_range)
        visible.append((pts, steps, keep))
        path_traces.append(len(data))
        data.append({"type": "scatter", "x": pts[keep, 0], "y": pts[keep, 1],
                     "customdata": _hover_data(traj, steps[keep]), "mode": "lines+markers",
                     "name": traj.label + (" ✕" if traj.diverged_at is not None else ""), "legendgroup": traj.kind,
                     "line": {"color": color, "width": 2.6},
                     "marker": {"size": 5, "color": color, "line": {"color": "rgba(31,36,48,0.6)", "width": 0.6}},
                     "unselected": {"marker": {"opacity": 1}},
                     "hovertemplate": f"<b>{traj.label}</b><br>step %{{customdata[0]}}<br>(%{{x:.4g}}, %{{y:.4g}})"
                                      "<br>f = %{customdata[1]:.4g}<extra></extra>"})
    for traj, (pts, _, _) in zip(trajectories, visible):
        head_traces.append(len(data))
        data.append({"type": "scatter", "x": pts[-1:, 0], "y": pts[-1:, 1], "mode": "markers",
                     "legendgroup": traj.kind, "showlegend": False, "hoverinfo": "skip", "cliponaxis": False,
                     "marker": {"size": 11, "color": optimizer_color(traj.kind),
                                "line": {"color": "white", "width": 1.5}}})
    data += _point_markers(surface, start)
    for traj in trajectories:
        label = _divergence_label(traj, x_range, y_range)
        if label is None:
            continue
        (px, py), text = label
        data.append({"type": "scatter", "x": [float(px)], "y": [float(py)], "mode": "markers+text",
                     "name": f"{traj.label}: {text}", "legendgroup": traj.kind, "showlegend": False,
                     "cliponaxis": False, "text": [text],
                     "textposition": inward_text_position((px, py), x_range, y_range),
                     "textfont": {"size": 12, "color": "#1f2430"},
                     "marker": {"symbol": "x", "size": 15, "color": optimizer_color(traj.kind),
                                "line": {"color": "#1f2430", "width": 1}},
                     "hovertemplate": f"{traj.label}: {text}<extra></extra>"})

    layout = {
        # The filled contour is a picture behind the axes, not a contour trace: plotly.js drops
        # contour and heatmap traces from view as soon as an animation starts (plotly.js #4491).
        "images": [{"source": contour_image(surface_values(surface, surface.grid(resolution)[2])),
                    "xref": "x", "yref": "y", "x": x_range[0], "y": y_range[1], "sizex": x_range[1] - x_range[0],
                    "sizey": y_range[1] - y_range[0], "sizing": "stretch", "layer": "below"}],
        # The top margin keeps the legend (above the plot) below the chart's toolbar, which sits at the top: room for
        # two rows (at a 1024 px projector's presentation sizes its six entries take two, which pushed the margin).
        "height": height, "hovermode": "closest", "margin": {"l": 60, "r": 20, "t": 80, "b": 50},
        "xaxis": {"range": list(x_range), "title": {"text": "x", "standoff": 4}, "constrain": "domain",
                  "showgrid": False, "ticks": "outside"},
        "yaxis": {"range": list(y_range), "title": {"text": "y", "standoff": 4}, "showgrid": False,
                  "scaleanchor": "x", "scaleratio": 1, "constrain": "domain", "ticks": "outside"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0},
    }
    frames = []
    if animate and trajectories:
        frames = _animation(layout, visible, path_traces, head_traces)
    return figure_from_dicts(data, layout, None, frames)


def _animation(layout: dict, visible, path_traces, head_traces) -> list[dict]:
    """Frames that grow every path step by step; a slider to scrub and a play button (added to `layout`).

    A frame draws a prefix of the same points the full path trace holds (`visible`: each path's points, their
    steps and the indices of those drawn; so the trace's hover data still lines up), in float32 to keep the page
    light.
    """
    last = max(int(steps[-1]) for _, steps, _ in visible)
    frames_wanted = min(last, MAX_FRAMES, max(10, FRAME_TRACE_BUDGET // (2 * len(visible))))
    frame_steps = np.unique(np.linspace(0, last, frames_wanted + 1).round().astype(int))
    kept = [(pts[keep].astype(np.float32), steps[keep], pts.astype(np.float32), steps)
            for pts, steps, keep in visible]
    frames = []
    for k in frame_steps:
        paths, heads = [], []
        for kept_pts, kept_steps, pts, steps in kept:
            upto = int(np.searchsorted(kept_steps, k, side="right"))
            paths.append({"type": "scatter", "x": kept_pts[:upto, 0], "y": kept_pts[:upto, 1]})
            now = max(int(np.searchsorted(steps, k, side="right")) - 1, 0)
            heads.append({"type": "scatter", "x": pts[now:now + 1, 0], "y": pts[now:now + 1, 1]})
        frames.append({"data": paths + heads, "traces": path_traces + head_traces, "name": str(k)})
    play = {"frame": {"duration": 60, "redraw": False}, "transition": {"duration": 0}, "fromcurrent": True,
            "mode": "immediate"}
    layout.update(
        frame_player([f["name"] for f in frames], play, active=len(frames) - 1, prefix="step "),
        # Room for the buttons and the slider without pushing: pushed, the plot's height changed, and plotly.js
        # went round that loop (a lesson's Rosenbrock race at 1500 px).
        margin={**layout["margin"], "b": PLAYER_BELOW_PX + 86},
    )
    return frames


# ----------------------------------------------------------------- 3-D surface
def _eye_behind(surface: Surface, start) -> dict:
    """A camera above and behind the start point, looking across it towards the middle of the plot."""
    cx, cy = np.mean(surface.x_range), np.mean(surface.y_range)
    angle = math.atan2((start[1] - cy) / np.ptp(surface.y_range), (start[0] - cx) / np.ptp(surface.x_range))
    return dict(x=1.45 * math.cos(angle), y=1.45 * math.sin(angle), z=1.15)


def trajectory_surface_3d(surface: Surface, trajectories: Sequence[Trajectory], start, *, resolution: int = 80,
                          height: int = 620) -> go.Figure:
    xs, ys, values = surface.grid(resolution)
    z = surface_values(surface, values)
    fig = go.Figure(go.Surface(x=xs, y=ys, z=z, colorscale="Viridis", opacity=0.85, showscale=True,
                               colorbar=dict(_colorbar(surface, z), len=0.6), hoverinfo="skip", name="f",
                               contours=dict(z=dict(show=True, usecolormap=True, project_z=True, width=1))))
    lift = 0.01 * (float(z.max()) - float(z.min()))
    for traj in trajectories:
        pts, steps = _visible_path(traj, surface.x_range, surface.y_range)
        keep = _thin(len(pts), 1500)
        pz = surface_values(surface, np.array([surface.value_at(p) for p in pts[keep]])) + lift
        color = optimizer_color(traj.kind)
        fig.add_trace(go.Scatter3d(
            x=pts[keep, 0], y=pts[keep, 1], z=pz, mode="lines+markers", name=traj.label, customdata=steps[keep],
            line=dict(color=color, width=6), marker=dict(size=2.5, color=color),
            hovertemplate=f"<b>{traj.label}</b><br>step %{{customdata}}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>"))
    for trace in _point_markers(surface, start, three_d=True):
        fig.add_trace(trace)
    z_title = "log₁₀(f − f* + 10⁻³)" if surface.log_scale else "f"
    fig.update_layout(
        template=TEMPLATE, height=height, margin=dict(l=0, r=0, t=40, b=0),
        scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title=z_title, aspectmode="manual",
                   aspectratio=dict(x=1, y=1, z=0.55), camera=dict(eye=_eye_behind(surface, start))),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
    )
    return fig


# ----------------------------------------------------------------- loss and distance against step
def loss_and_distance(surface: Surface, trajectories: Sequence[Trajectory], height: int = 620) -> go.Figure:
    """f − f* (log) and distance to the nearest minimum (log) against step; f itself where f has no minimum.
    Two rows sharing the step axis, built from plain dicts (redrawn on every control change)."""
    has_min = surface.f_min is not None
    ref = "minimum" if surface.minima else "saddle point"
    data, drawn = [], {1: [], 2: []}  # row -> the values drawn there, for the log axes' ticks
    for traj in trajectories:
        color = optimizer_color(traj.kind)
        steps = np.arange(len(traj.losses))
        loss = np.maximum(traj.losses - surface.f_min, LOG_FLOOR) if has_min else traj.losses
        dist = np.maximum(traj.distances, LOG_FLOOR)
        drawn[1].append(loss)
        drawn[2].append(dist)
        keep = _thin(len(steps), 2000)
        for row, y in ((1, loss), (2, dist)):
            axes = {"xaxis": "x" if row == 1 else "x2", "yaxis": "y" if row == 1 else "y2"}
            data.append({"type": "scatter", "x": steps[keep], "y": y[keep], "mode": "lines", "name": traj.label,
                         "legendgroup": traj.kind, "showlegend": row == 1, "line": {"color": color, "width": 2.4},
                         "hovertemplate": f"<b>{traj.label}</b><br>step %{{x}}<br>%{{y:.3g}}<extra></extra>", **axes})
            if traj.diverged_at is not None:
                data.append({"type": "scatter", "x": [int(steps[-1])], "y": [float(y[-1])], "mode": "markers",
                             "legendgroup": traj.kind, "showlegend": False,
                             "marker": {"symbol": "x", "size": 13, "color": color,
                                        "line": {"color": "#1f2430", "width": 1}},
                             "hovertemplate": f"{traj.label}: {traj.divergence}; stopped at step {traj.diverged_at}"
                                              "<extra></extra>", **axes})
    titles = ("f − f*" if has_min else "f", f"distance to the nearest {ref}")
    layout = {
        # What plotly.subplots.make_subplots(rows=2, shared_xaxes=True, vertical_spacing=0.1) lays out.
        "xaxis": {"anchor": "y", "domain": [0.0, 1.0], "matches": "x2", "showticklabels": False},
        "xaxis2": {"anchor": "y2", "domain": [0.0, 1.0], "title": {"text": "step"}},
        "yaxis": {"anchor": "x", "domain": [0.55, 1.0], **(log_axis(*drawn[1]) if has_min else {})},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 0.45], **log_axis(*drawn[2])},
        "annotations": [{"text": text, "x": 0.5, "xanchor": "center", "xref": "paper", "y": top, "yanchor": "bottom",
                         "yref": "paper", "showarrow": False, "font": {"size": 16}}
                        for text, top in zip(titles, (1.0, 0.45))],
        "height": height, "hovermode": "closest", "showlegend": False,
        # r: room for the last step's label at the axis' end (at 10 px its overhang pushed the margin, which moved
        # the ticks, which took the overhang away: plotly.js went round that loop, seconds of a frozen tab)
        "margin": {"t": 40, "l": 70, "r": 30},
    }
    return figure_from_dicts(data, layout, None)


# ----------------------------------------------------------------- GD step-size regimes
def regime_chart(directions: Sequence[EigenDirection], learning_rates: dict[str, tuple[str, float]],
                 height: int = 300) -> go.Figure:
    """One bar per eigen-direction over a log η axis, coloured by what GD does there
    (monotone below η_opt = 1/λ, oscillating up to 2η_opt, diverging beyond), with
    a vertical line at each optimizer's η. `learning_rates`: label -> (optimizer kind, η)."""
    positive = [d for d in directions if d.eigenvalue > 0]
    etas = [eta for _, eta in learning_rates.values() if eta > 0]
    lo = min([d.eta_opt for d in positive] + etas) / 5 if positive or etas else 1e-3
    hi = max([d.eta_max for d in positive] + etas) * 5 if positive or etas else 10.0
    fig = go.Figure()
    names, shown = [], set()
    for index, d in enumerate(directions, start=1):
        name = f"direction {index}<br>λ = {d.eigenvalue:.3g}"
        names.append(name)
        if d.eigenvalue > 0:
            spans = [("monotone", lo, d.eta_opt), ("oscillating", d.eta_opt, d.eta_max), ("diverging", d.eta_max, hi)]
        else:
            spans = [("escaping", lo, hi)]  # negative curvature: |1 - ηλ| > 1 for every η
        for regime, a, b in spans:
            fig.add_trace(go.Bar(
                y=[name], x=[math.log10(b) - math.log10(a)], base=[math.log10(a)], orientation="h",
                marker=dict(color=REGIME_COLORS[regime], opacity=0.75), name=regime, legendgroup=regime,
                showlegend=regime not in shown, width=0.55,
                hovertemplate=f"{regime}: η from {a:.3g} to {b:.3g}<extra></extra>"))
            shown.add(regime)
    for label, (kind, eta) in learning_rates.items():
        if eta <= 0:
            continue
        fig.add_vline(x=math.log10(eta), line=dict(color=optimizer_color(kind), width=3, dash="dash"))
        fig.add_annotation(x=math.log10(eta), y=1.0, yref="paper", text=f"{label} η={eta:g}", showarrow=False,
                           yanchor="bottom", font=dict(size=13, color=optimizer_color(kind)), textangle=0)
    ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if lo <= t <= hi]
    fig.update_layout(
        template=TEMPLATE, height=height, barmode="overlay", margin=dict(t=60, l=110),
        xaxis=dict(title="learning rate η (log scale)", range=[math.log10(lo), math.log10(hi)],
                   tickvals=[math.log10(t) for t in ticks], ticktext=[f"{t:g}" for t in ticks]),
        yaxis=dict(categoryorder="array", categoryarray=names[::-1]),
        legend=legend_below(xanchor="left", x=0),
    )
    return fig
