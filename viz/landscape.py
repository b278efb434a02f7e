"""Figures of the loss landscape. Pure functions: plain arrays in, go.Figure out."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.theme import SEQUENTIAL, TEST_COLOR, TRAIN_COLOR, downsample, styled

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
    if not np.isfinite(surface).any():
        return surface, dict(title="loss", thickness=14)
    if not log_scale:
        return surface, dict(title="loss", thickness=14)
    z = np.log10(np.maximum(surface, 1e-12))
    ticks, labels = _log_ticks(float(np.nanmin(z)), float(np.nanmax(z)))
    return z, dict(title="loss (log)", thickness=14, tickvals=ticks, ticktext=labels)


def loss_curve(alphas: np.ndarray, losses: Mapping[str, np.ndarray], log_scale: bool = False,
               marks: Mapping[str, float] | None = None, x_title: str = "α",
               title: str = "Loss along a line") -> go.Figure:
    """Train and test loss along one direction, with labelled points (e.g. initial and current weights)."""
    fig = go.Figure()
    for name, values in losses.items():
        fig.add_trace(go.Scatter(x=alphas, y=values, mode="lines", name=f"{name} loss",
                                 line=dict(color=LOSS_COLORS.get(name), width=3),
                                 hovertemplate=f"α=%{{x:.3f}}<br>{name} loss %{{y:.4g}}<extra></extra>"))
    for label, alpha in (marks or {}).items():
        fig.add_vline(x=alpha, line=dict(color="#555", dash="dot", width=1.5), annotation_text=label,
                      annotation_position="top")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="loss", type="log" if log_scale else "linear")
    fig.update_layout(height=480, legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return styled(fig, title)


def _path_traces(coordinates: np.ndarray, steps: np.ndarray, z: np.ndarray | None = None) -> list:
    """The projected trajectory: a line from the start, a marker at the start."""
    index = np.arange(len(steps))
    if len(index) > 2000:
        index = np.unique(np.linspace(0, len(steps) - 1, 2000).round().astype(int))
    x, y, s = coordinates[index, 0], coordinates[index, 1], steps[index]
    hover = "step %{customdata}<br>α=%{x:.3g}, β=%{y:.3g}<extra>path</extra>"
    if z is None:
        return [go.Scatter(x=x, y=y, customdata=s, mode="lines+markers", name="training path (projected)",
                           line=dict(color=PATH_COLOR, width=3), marker=dict(size=5, color=PATH_COLOR,
                                                                              line=dict(color="#222", width=1)),
                           hovertemplate=hover),
                go.Scatter(x=x[:1], y=y[:1], mode="markers", name=f"step {s[0]}", hoverinfo="skip",
                           marker=dict(symbol="circle", size=13, color="#000", line=dict(color="#fff", width=2)))]
    return [go.Scatter3d(x=x, y=y, z=z[index], customdata=s, mode="lines+markers", name="training path (on plane)",
                         line=dict(color="#222", width=6), marker=dict(size=2.5, color="#222"),
                         hovertemplate="step %{customdata}<br>loss %{z:.4g}<extra>path</extra>")]


def loss_contour(alphas: np.ndarray, betas: np.ndarray, surface: np.ndarray, log_scale: bool = False,
                 path_coordinates: np.ndarray | None = None, path_steps: np.ndarray | None = None,
                 axis_titles: tuple[str, str] = ("α", "β"), title: str = "Loss landscape") -> go.Figure:
    """Filled contours of the loss over the plane, the current weights at the centre (0, 0).

    surface: (len(betas), len(alphas)), rows following β. A trajectory's
    projection, when given, is drawn on top; the axes stay on the grid, so a
    path leaving it is visibly cut at the edge."""
    z, colorbar = _colour_values(surface, log_scale)
    fig = go.Figure(go.Contour(x=alphas, y=betas, z=z, colorscale=SEQUENTIAL, ncontours=24, colorbar=colorbar,
                               line=dict(width=0.5, color="rgba(255,255,255,0.45)"), customdata=surface,
                               hovertemplate="α=%{x:.3g}<br>β=%{y:.3g}<br>loss %{customdata:.4g}<extra></extra>"))
    if path_coordinates is not None and len(path_coordinates):
        for trace in _path_traces(np.asarray(path_coordinates), np.asarray(path_steps)):
            fig.add_trace(trace)
    fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers", name="current weights", hoverinfo="skip",
                             marker=dict(symbol="star", size=18, color=CURRENT_COLOR,
                                         line=dict(color="#fff", width=1.5))))
    # Both axes measure distance in weight space: equal scales keep the picture's geometry honest.
    fig.update_xaxes(title=axis_titles[0], range=[alphas[0], alphas[-1]], showgrid=False, constrain="domain")
    fig.update_yaxes(title=axis_titles[1], range=[betas[0], betas[-1]], showgrid=False, scaleanchor="x",
                     scaleratio=1, constrain="domain")
    fig.update_layout(height=540, legend=dict(orientation="h", y=-0.16, x=0, font=dict(size=13)),
                      margin=dict(l=60, r=10, t=50, b=40))
    return styled(fig, title)


def loss_surface_3d(alphas: np.ndarray, betas: np.ndarray, surface: np.ndarray, log_scale: bool = False,
                    path_coordinates: np.ndarray | None = None, path_steps: np.ndarray | None = None,
                    path_loss: np.ndarray | None = None, axis_titles: tuple[str, str] = ("α", "β"),
                    title: str = "Loss landscape") -> go.Figure:
    """The loss as a height field; a trajectory's projection rides on the surface (its plane loss)."""
    colour, colorbar = _colour_values(surface, log_scale)
    colorbar.update(len=0.6, thickness=12)
    fig = go.Figure(go.Surface(x=alphas, y=betas, z=surface, surfacecolor=colour, colorscale=SEQUENTIAL,
                               colorbar=colorbar, customdata=surface, name="loss",
                               hovertemplate="α=%{x:.3g}<br>β=%{y:.3g}<br>loss %{z:.4g}<extra></extra>",
                               contours=dict(z=dict(show=True, usecolormap=True, project=dict(z=True),
                                                    width=1))))
    if path_coordinates is not None and path_loss is not None and len(path_coordinates):
        for trace in _path_traces(np.asarray(path_coordinates), np.asarray(path_steps), np.asarray(path_loss)):
            fig.add_trace(trace)
    centre = surface[len(betas) // 2, len(alphas) // 2]
    fig.add_trace(go.Scatter3d(x=[0.0], y=[0.0], z=[centre], mode="markers", name="current weights",
                               hoverinfo="skip", marker=dict(size=7, color=CURRENT_COLOR, symbol="diamond")))
    fig.update_layout(height=560, margin=dict(l=0, r=0, t=50, b=0), showlegend=False, scene=dict(
        xaxis_title=axis_titles[0].split(" (")[0], yaxis_title=axis_titles[1].split(" (")[0], zaxis_title="loss",
        zaxis_type="log" if log_scale else "linear", camera=dict(eye=dict(x=1.25, y=-1.25, z=0.8)),
        aspectmode="manual", aspectratio=dict(x=1, y=1, z=0.7)))
    return styled(fig, title)


def path_loss_comparison(steps: np.ndarray, true_loss: np.ndarray, plane_loss: np.ndarray, off_plane: np.ndarray,
                         log_scale: bool = False, title: str = "Along the training path: true loss vs. the plotted "
                                                                "plane") -> go.Figure:
    """What the picture hides: the loss the network really had at each recorded step next to the
    surface's value where that step is drawn, and how far the weights were from the plane."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.08)
    x, true_y = downsample(np.asarray(steps), np.asarray(true_loss))
    _, plane_y = downsample(np.asarray(steps), np.asarray(plane_loss))
    _, distance = downsample(np.asarray(steps), np.asarray(off_plane))
    fig.add_trace(go.Scatter(x=x, y=true_y, mode="lines", name="true loss at the recorded weights",
                             line=dict(color=TRAIN_COLOR, width=3)), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=plane_y, mode="lines", name="surface value at the projected point",
                             line=dict(color=TEST_COLOR, width=3, dash="dash")), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=distance, mode="lines", name="distance from the plane",
                             line=dict(color="#555", width=2), fill="tozeroy", fillcolor="rgba(85,85,85,0.15)"),
                  row=2, col=1)
    fig.update_yaxes(title="loss", type="log" if log_scale else "linear", row=1, col=1)
    fig.update_yaxes(title="‖θ − plane‖", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title="step", row=2, col=1)
    fig.update_layout(height=460, legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom", font=dict(size=13)),
                      margin=dict(l=60, r=20, t=80, b=45))
    return styled(fig, title)


def hessian_spectrum(eigenvalues: np.ndarray, learning_rate: float | None, stable_step: float | None,
                     rule: str = "2/λmax", title: str = "Curvature at the current weights") -> go.Figure:
    """Top Hessian eigenvalues as bars, and the step-size axis: the learning rate against the largest
    step that is stable on the local quadratic."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.68, 0.32], vertical_spacing=0.26,
                        subplot_titles=("top Hessian eigenvalues", "step size (log scale)"))
    values = np.asarray(eigenvalues, dtype=float)
    labels = [f"λ{i + 1}" for i in range(len(values))]
    fig.add_trace(go.Bar(x=labels, y=values, marker_color=["#0072B2" if v >= 0 else "#D55E00" for v in values],
                         text=[f"{v:.3g}" for v in values], textposition="outside", cliponaxis=False,
                         hovertemplate="%{x} = %{y:.5g}<extra></extra>", showlegend=False), row=1, col=1)
    fig.update_yaxes(title="eigenvalue", row=1, col=1, rangemode="tozero")
    points = {k: v for k, v in (("learning rate η", learning_rate), (rule, stable_step))
              if v is not None and np.isfinite(v) and v > 0}
    if points:
        low, high = np.log10(min(points.values())) - 0.7, np.log10(max(points.values())) + 0.7
        if stable_step is not None and np.isfinite(stable_step) and stable_step > 0:
            fig.add_shape(type="rect", x0=10**low, x1=stable_step, y0=0, y1=1, yref="y2 domain", xref="x2",
                          fillcolor="rgba(0,158,115,0.18)", line_width=0, layer="below")
            fig.add_shape(type="rect", x0=stable_step, x1=10**high, y0=0, y1=1, yref="y2 domain", xref="x2",
                          fillcolor="rgba(213,94,0,0.15)", line_width=0, layer="below")
        for (name, value), colour, symbol in zip(points.items(), ("#000000", "#D55E00"), ("triangle-up", "line-ns")):
            fig.add_trace(go.Scatter(x=[value], y=[0.5], mode="markers+text", text=[f"{name} = {value:.3g}"],
                                     textposition="top center", name=name, showlegend=False,
                                     marker=dict(size=16, color=colour, symbol=symbol, line=dict(width=3,
                                                                                                 color=colour)),
                                     hovertemplate=f"{name} = %{{x:.4g}}<extra></extra>"), row=2, col=1)
        fig.update_xaxes(type="log", range=[low, high], dtick=1, row=2, col=1)
    fig.update_yaxes(visible=False, range=[0, 1.3], row=2, col=1)
    fig.update_layout(height=460, margin=dict(l=60, r=20, t=70, b=40))
    return styled(fig, title)


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
