"""Figures of the Gradient Flow page. Pure functions: plain arrays in, go.Figure out.

Every per-layer figure puts the input side at the bottom or left and the output at the
top or right, so a gradient flows down or leftwards through all of them alike.

These charts refresh once a second while a job trains, in the same process as the
trainer, so each figure is written down as plain dicts in Plotly's canonical form and
made into a figure without Plotly's per-property validation (`viz.theme.figure_from_dicts`):
validating them cost several times more Python than building them, which the training
thread then waits for. tests/test_viz_gradients.py checks that validation leaves each as built.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine.gradients.recurrent_model import CellEigenvalues, CellGradients
from viz.theme import DIVERGING, OKABE_ITO, SEQUENTIAL, SEQUENTIAL_SCALE, downsample, figure_from_dicts, legend_below, \
    legend_beside
from viz.theme import log_axis as _log_axis

CELL_COLORS = {"rnn_tanh": OKABE_ITO[0], "rnn_relu": OKABE_ITO[5], "lstm": OKABE_ITO[2], "gru": OKABE_ITO[3]}
FLAT_COLOR, GUIDE_COLOR, THEORY_COLOR = "#D55E00", "#555555", "#000000"
HEIGHT = 360
TOP_LEGEND = dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right")
# (plotly.js's own legend at the right took its room only after a first draw: the charts were drawn twice at every
# refresh)
SIDE_LEGEND = legend_beside(font=dict(size=12))


def _figure(traces: list[dict], title: str, height: int = HEIGHT, notes: Sequence[dict] = (),
            **layout: Any) -> go.Figure:
    """One figure from dicts in Plotly's canonical form (no shorthand like marker_color, no None values),
    styled by the shared template."""
    layout = dict(height=height, **layout)
    if notes:
        layout["annotations"] = list(notes)
    return figure_from_dicts(traces, layout, title)


def _note(text: str, x: float = 0.5, y: float = 0.5, color: str = GUIDE_COLOR, **where: Any) -> dict:
    return dict(text=text, xref="paper", yref="paper", x=x, y=y, showarrow=False, font=dict(color=color, size=13),
                **where)


def _finite_or_nan(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return np.where(np.isfinite(array), array, np.nan)


def _positive_or_nan(values) -> np.ndarray:
    """For log axes: zeros, negatives and non-finite values are not drawn."""
    array = _finite_or_nan(values)
    return np.where(array > 0, array, np.nan)


def _overflow_notes(layers: Sequence[str], values) -> list[dict]:
    """Say in the figure where values stopped being finite, instead of silently leaving a gap."""
    bad = ~np.isfinite(np.asarray(values, dtype=float))
    if not bad.any():
        return []
    return [_note(f"inf/NaN from {layers[int(np.argmax(bad))]} on", x=1.0, y=1.0, color=FLAT_COLOR,
                  xanchor="right", yanchor="bottom")]


def _short(layers: Sequence[str]) -> list[str]:
    """Axis labels: "layer 7" -> "7", "output" -> "out"."""
    return [name.removeprefix("layer ") if name.startswith("layer ") else name[:3] for name in layers]


def _title(text: str) -> dict:
    return dict(text=text)


@functools.cache  # sampling a named scale costs ~0.6 ms, a fifth of a ridge plot
def _depth_colors(n: int) -> tuple[str, ...]:
    return tuple(sample_colorscale(SEQUENTIAL, [i / max(1, n - 1) * 0.9 for i in range(n)]))


# ---------------------------------------------------------------- deep networks, at one moment
def activation_profile(layers: Sequence[str], mean, std, flat_fraction, flat_label: str,
                       title: str = "Activations per layer") -> go.Figure:
    """Mean ± std of each hidden layer's activations (line and band), and the share of units in the
    activation's flat region (saturated / dead) as bars on a 0–100 % axis."""
    x = _short(layers)
    mean, std = _finite_or_nan(mean), _finite_or_nan(std)
    traces = [
        dict(type="bar", x=x, y=100 * _finite_or_nan(flat_fraction), name=f"% {flat_label}",
             marker=dict(color=FLAT_COLOR), opacity=0.35, yaxis="y2",
             hovertemplate="layer %{x}: %{y:.1f}% " + flat_label + "<extra></extra>"),
        dict(type="scatter", x=x + x[::-1], y=np.r_[mean + std, (mean - std)[::-1]], fill="toself",
             fillcolor="rgba(0,114,178,0.18)", line=dict(width=0), name="mean ± std", hoverinfo="skip"),
        dict(type="scatter", x=x, y=mean, mode="lines+markers", name="mean", line=dict(color=OKABE_ITO[0]),
             customdata=std, hovertemplate="layer %{x}: mean %{y:.3g}, std %{customdata:.3g}<extra></extra>"),
    ]
    return _figure(traces, title, notes=_overflow_notes(layers, std), legend=TOP_LEGEND, margin=dict(t=70, r=60),
                   xaxis=dict(title=_title("hidden layer (input → output)"), type="category"),
                   yaxis=dict(title=_title("activation")),
                   yaxis2=dict(title=_title(f"% {flat_label}"), range=[0, 100], tickmode="array",
                               tickvals=[0, 25, 50, 75, 100], showgrid=False, overlaying="y", side="right"))


def gradient_norms(layers: Sequence[str], weight_grad_norm, activation_grad_norm=None,
                   title: str = "Gradient norm per layer") -> go.Figure:
    """‖∂L/∂W‖ per layer on a log axis (and ‖∂L/∂h‖, the signal backpropagation carries)."""
    x = _short(layers)
    traces = [dict(type="scatter", x=x, y=_positive_or_nan(weight_grad_norm), mode="lines+markers", name="‖∂L/∂W‖",
                   line=dict(color=OKABE_ITO[5], width=3),
                   hovertemplate="layer %{x}: ‖∂L/∂W‖ = %{y:.3g}<extra></extra>")]
    if activation_grad_norm is not None:
        traces.append(dict(type="scatter", x=x, y=_positive_or_nan(activation_grad_norm), mode="lines+markers",
                           name="‖∂L/∂h‖", line=dict(color=OKABE_ITO[4], dash="dot"),
                           hovertemplate="layer %{x}: ‖∂L/∂h‖ = %{y:.3g}<extra></extra>"))
    return _figure(traces, title, notes=_overflow_notes(layers, weight_grad_norm), legend=TOP_LEGEND,
                   margin=dict(t=70, l=100), yaxis=_log_axis(weight_grad_norm, activation_grad_norm,
                                                      title=_title("norm (log scale)")),
                   xaxis=dict(title=_title("layer (input ← output: the way gradients flow)"), type="category"))


def variance_theory(layers: Sequence[str], measured, predicted, init_label: str, at_init=None,
                    title: str = "Pre-activation variance: theory and measurement") -> go.Figure:
    """E[z²] per layer as measured, the line the init scheme's variance predicts at initialization (if it
    applies), and, after training started, the measurement at initialization as grey rings."""
    x = _short(layers)
    traces = []
    if predicted is not None:
        traces.append(dict(type="scatter", x=x, y=_positive_or_nan(predicted), mode="lines",
                           name=f"theory at init ({init_label})", line=dict(color=THEORY_COLOR, width=2, dash="dash"),
                           hovertemplate="layer %{x}: predicted %{y:.3g}<extra></extra>"))
    if at_init is not None:
        traces.append(dict(type="scatter", x=x, y=_positive_or_nan(at_init), mode="markers", name="measured at init",
                           marker=dict(color="#999999", size=9, symbol="circle-open", line=dict(width=2)),
                           hovertemplate="layer %{x}: at init %{y:.3g}<extra></extra>"))
    traces.append(dict(type="scatter", x=x, y=_positive_or_nan(measured), mode="markers",
                       name="measured" if at_init is None else "measured now", marker=dict(color=OKABE_ITO[0], size=9),
                       hovertemplate="layer %{x}: measured %{y:.3g}<extra></extra>"))
    notes = _overflow_notes(layers, measured)
    if predicted is None:
        notes.append(_note("no theory line: it assumes no normalization and random weights",
                           x=0, y=0, xanchor="left", yanchor="bottom"))
    return _figure(traces, title, notes=notes, legend=TOP_LEGEND, margin=dict(t=70),
                   yaxis=_log_axis(measured, predicted, at_init, title=_title("E[z²] (log scale)")),
                   xaxis=dict(title=_title("layer (input → output)"), type="category"))


def ridge_plot(layers: Sequence[str], edges, counts, x_title: str, title: str) -> go.Figure:
    """One histogram per layer, stacked bottom (input) to top (output), each scaled to its own peak,
    overlapping a little: a whole network's distributions in one compact chart."""
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if not np.isfinite(edges).all():
        return _figure([], title, HEIGHT + 80, notes=[_note("nothing to show: every value is zero or not finite")])
    centers = 0.5 * (edges[:-1] + edges[1:])
    colors = _depth_colors(len(layers))
    overlap = 1.6
    x = np.r_[centers[0], centers, centers[-1]]
    traces = []
    for index in reversed(range(len(layers))):  # upper ridges first, so lower ones are drawn on top
        peak = counts[index].max()
        height = counts[index] / peak * overlap if peak > 0 else np.zeros_like(centers)
        traces.append(dict(type="scatter", x=x, y=index + np.r_[0.0, height, 0.0], mode="lines", fill="toself",
                           fillcolor=colors[index], opacity=0.75, line=dict(color="white", width=1),
                           name=layers[index], showlegend=False,
                           hovertemplate=f"{layers[index]}<br>%{{x:.3g}}<extra></extra>"))
    step = max(1, len(layers) // 12)
    ticks = list(range(0, len(layers), step))
    if ticks[-1] != len(layers) - 1:
        ticks.append(len(layers) - 1)
    return _figure(traces, title, HEIGHT + 80, margin=dict(l=80), xaxis=dict(title=_title(x_title)),
                   yaxis=dict(tickvals=ticks, ticktext=[layers[i] for i in ticks], showgrid=False,
                              range=[-0.3, len(layers) - 1 + overlap + 0.3]))


# ---------------------------------------------------------------- deep networks, over training
def layer_step_heatmap(steps, layers: Sequence[str], values, title: str, colorbar_title: str,
                       zmin: float | None = None, zmax: float | None = None, zmid: float | None = None,
                       diverging: bool = False, colorbar: dict | None = None) -> go.Figure:
    """values (probes, layers) as a layer × step heatmap: input at the bottom, output at the top."""
    z = _finite_or_nan(values).T if len(steps) else np.empty((len(layers), 0))
    limits = {name: value for name, value in (("zmin", zmin), ("zmax", zmax), ("zmid", zmid)) if value is not None}
    trace = dict(type="heatmap", x=np.asarray(steps), y=list(layers), z=z, **limits,
                 colorscale=DIVERGING if diverging else SEQUENTIAL_SCALE,
                 colorbar=dict(title=_title(colorbar_title), thickness=12, **(colorbar or {})),
                 hovertemplate="step %{x}<br>%{y}<br>" + colorbar_title + " %{z:.3g}<extra></extra>")
    notes = [] if len(steps) else [_note("press Train: a probe is drawn here once a second")]
    return _figure([trace], title, notes=notes, xaxis=dict(title=_title("step"), showgrid=False),
                   yaxis=dict(showgrid=False, showticklabels=len(layers) <= 25))


def gradient_norm_heatmap(steps, layers: Sequence[str], grad_norms) -> go.Figure:
    return layer_step_heatmap(steps, layers, np.log10(_positive_or_nan(grad_norms)),
                              "Gradient norm log₁₀ ‖∂L/∂W‖", "log₁₀")


def update_ratio_heatmap(steps, layers: Sequence[str], ratios, guide: float = 1e-3) -> go.Figure:
    """log10(‖ΔW‖ / ‖W‖) with the colour scale centred on the guide: blue learns slowly, orange fast."""
    centre = round(float(np.log10(guide)))
    ticks = list(range(centre - 3, centre + 4))
    labels = [f"{tick} guide" if tick == centre else str(tick) for tick in ticks]
    return layer_step_heatmap(steps, layers, np.log10(_positive_or_nan(ratios)),
                              f"Update : data ratio log₁₀ ‖ΔW‖/‖W‖ (guide {centre:g})", "log₁₀",
                              zmin=centre - 3, zmax=centre + 3, zmid=centre, diverging=True,
                              colorbar=dict(tickmode="array", tickvals=ticks, ticktext=labels))


def flat_fraction_heatmap(steps, layers: Sequence[str], fractions, flat_label: str) -> go.Figure:
    return layer_step_heatmap(steps, layers, 100 * np.asarray(fractions, dtype=float), f"% of units {flat_label}",
                              "%", zmin=0, zmax=100)


def loss_curve(loss_steps, loss, norm_steps=None, norm=None, title: str = "Training loss") -> go.Figure:
    """The loss per step (log scale), and the total gradient norm beside it on its own axis."""
    x, y = downsample(np.asarray(loss_steps), np.asarray(loss, dtype=float))
    traces = [dict(type="scatter", x=x, y=_positive_or_nan(y), mode="lines", name="loss",
                   line=dict(color=OKABE_ITO[0]))]
    if norm_steps is not None and len(norm_steps):
        x, y = downsample(np.asarray(norm_steps), np.asarray(norm, dtype=float))
        traces.append(dict(type="scatter", x=x, y=_positive_or_nan(y), mode="lines", name="‖∇L‖ (all parameters)",
                           yaxis="y2", line=dict(color=OKABE_ITO[5], width=1)))
    return _figure(traces, title, legend=TOP_LEGEND, margin=dict(t=70, r=60), xaxis=dict(title=_title("step")),
                   yaxis=_log_axis(loss, title=_title("loss")),
                   yaxis2=_log_axis(norm, title=_title("gradient norm"), showgrid=False, overlaying="y", side="right"))


# ---------------------------------------------------------------- through time
def gradient_through_time(current: Sequence[CellGradients], labels: Mapping[str, str],
                          initial: Sequence[CellGradients] = (), radius: float | None = None,
                          title: str = "‖∂L/∂h_t‖: how much the loss at the end still feels step t") -> go.Figure:
    """Per cell: ‖∂L/∂h_t‖ against t on a log axis (t = 1..T), the LSTM's ‖∂L/∂c_t‖ dotted, the picture at
    init faint; with `radius`, the ρ^(T−t) guide of a linear RNN, anchored at the last step."""
    traces = []
    at_init = {gradients.cell: gradients for gradients in initial}
    for gradients in current:
        cell = gradients.cell
        color = CELL_COLORS.get(cell, OKABE_ITO[7])
        h = np.asarray(gradients.h, dtype=float)
        t = np.arange(1, len(h) + 1)
        if cell in at_init:
            traces.append(dict(type="scatter", x=t, y=_positive_or_nan(at_init[cell].h), mode="lines", opacity=0.35,
                               line=dict(color=color, width=1), name=f"{labels[cell]} at init", legendgroup=cell,
                               showlegend=False, hoverinfo="skip"))
        traces.append(dict(type="scatter", x=t, y=_positive_or_nan(h), mode="lines", line=dict(color=color, width=3),
                           name=labels[cell], legendgroup=cell,
                           hovertemplate=f"{labels[cell]}: t=%{{x}}, ‖∂L/∂h_t‖ = %{{y:.3g}}<extra></extra>"))
        if gradients.c is not None:
            traces.append(dict(type="scatter", x=t, y=_positive_or_nan(gradients.c), mode="lines", legendgroup=cell,
                               line=dict(color=color, width=2, dash="dot"), name=f"{labels[cell]} cell ‖∂L/∂c_t‖",
                               hovertemplate="‖∂L/∂c_t‖ = %{y:.3g}<extra></extra>"))
    if radius is not None and current:
        steps = len(current[0].h)
        anchor = float(np.nanmax(_positive_or_nan([gradients.h[-1] for gradients in current])))
        t = np.arange(1, steps + 1)
        with np.errstate(over="ignore"):
            guide = anchor * radius ** (steps - t).astype(float)
        traces.append(dict(type="scatter", x=t, y=_positive_or_nan(guide), mode="lines",
                           name=f"ρ^(T−t), ρ = {radius:g}", line=dict(color=GUIDE_COLOR, dash="dash", width=1),
                           hoverinfo="skip"))
    # (l: room for tick labels down to 10⁻¹⁴ beside the axis' title)
    return _figure(traces, title, HEIGHT + 40, legend=SIDE_LEGEND, margin=dict(l=96),
                   yaxis=_log_axis(*[trace["y"] for trace in traces], title=_title("gradient norm (log scale)")),
                   xaxis=dict(title=_title("time step t (the loss is read after the last one)")))


def eigenvalue_plane(eigenvalues: Sequence[CellEigenvalues], labels: Mapping[str, str], radius: float | None = None,
                     initial: np.ndarray | None = None, title: str = "Eigenvalues of W_hh") -> go.Figure:
    """Eigenvalues in the complex plane with the unit circle: inside, a linear RNN forgets (gradients vanish);
    outside, it blows up (gradients explode)."""
    theta = np.linspace(0, 2 * np.pi, 181)
    traces = [dict(type="scatter", x=np.cos(theta), y=np.sin(theta), mode="lines", name="unit circle |λ| = 1",
                   line=dict(color="#222", width=2), hoverinfo="skip")]
    if radius is not None and abs(radius - 1.0) > 1e-9:
        traces.append(dict(type="scatter", x=radius * np.cos(theta), y=radius * np.sin(theta), mode="lines",
                           name=f"|λ| = ρ = {radius:g} at init", line=dict(color=GUIDE_COLOR, dash="dash", width=1),
                           hoverinfo="skip"))
    if initial is not None:
        traces.append(dict(type="scatter", x=initial.real, y=initial.imag, mode="markers", name="at init",
                           marker=dict(color="#bbbbbb", size=6, symbol="circle-open"),
                           hovertemplate="λ = %{x:.3f} %{y:+.3f}i<extra>init</extra>"))
    # Both vanilla RNNs start from the same W_hh: rings for the first, dots for the second keep both visible.
    for index, cell_eigenvalues in enumerate(eigenvalues):
        cell, values = cell_eigenvalues.cell, np.asarray(cell_eigenvalues.values)
        ring = index % 2 == 0
        traces.append(dict(type="scatter", x=values.real, y=values.imag, mode="markers", name=f"{labels[cell]} now",
                           marker=dict(color=CELL_COLORS.get(cell, OKABE_ITO[7]), size=11 if ring else 6,
                                       symbol="circle-open" if ring else "circle", line=dict(width=2), opacity=0.9),
                           customdata=np.abs(values),
                           hovertemplate="λ = %{x:.3f} %{y:+.3f}i, |λ| = %{customdata:.3f}<extra></extra>"))
    sizes = np.abs(np.concatenate([np.asarray(e.values).ravel() for e in eigenvalues] + [np.empty(0)]))
    extent = 1.15 * max([1.0, radius or 0.0] + [float(sizes[np.isfinite(sizes)].max(initial=0.0))])
    # (the legend a list under the plane: beside it, it took half of a column's width from a plot of equal scales;
    # in rows, their number changed with the column's width)
    return _figure(traces, title, HEIGHT + 80, legend=legend_below(orientation="v", x=0),
                   xaxis=dict(title=_title("Re λ"), range=[-extent, extent], zeroline=True, zerolinecolor="#ccc",
                              constrain="domain"),  # equal scales by narrowing the plot, not widening the range
                   yaxis=dict(title=_title("Im λ"), range=[-extent, extent], scaleanchor="x", scaleratio=1,
                              zeroline=True, zerolinecolor="#ccc", constrain="domain"))


def linear_closed_form(t, scalar_measured, scalar_closed, w: float, matrix_measured=None, matrix_closed=None,
                       title: str = ("Linear RNN h<sub>t</sub> = w·h<sub>t−1</sub> + c·x<sub>t</sub>: "
                                     "∂L/∂h<sub>t</sub> ∝ w<sup>T−t</sup>")) -> go.Figure:
    """The closed form as lines and autograd's measurement as markers, for a scalar w and for the RNNs' W_hh."""
    t = np.asarray(t)
    traces = [dict(type="scatter", x=t, y=_positive_or_nan(scalar_closed), mode="lines", name=f"|w|^(T−t), w = {w:g}",
                   line=dict(color=THEORY_COLOR, width=2)),
              dict(type="scatter", x=t, y=_positive_or_nan(scalar_measured), mode="markers",
                   name="measured (autograd), scalar",
                   marker=dict(color=OKABE_ITO[1], size=7, symbol="circle-open", line=dict(width=2)))]
    if matrix_measured is not None:
        traces += [dict(type="scatter", x=t, y=_positive_or_nan(matrix_closed), mode="lines", name="‖(W_hh^(T−t))ᵀu‖",
                        line=dict(color=OKABE_ITO[0], width=2, dash="dash")),
                   dict(type="scatter", x=t, y=_positive_or_nan(matrix_measured), mode="markers",
                        name="measured (autograd), W_hh", marker=dict(color=OKABE_ITO[0], size=5))]
    return _figure(traces, title, HEIGHT + 40, legend=SIDE_LEGEND, xaxis=dict(title=_title("time step t")),
                   yaxis=_log_axis(scalar_closed, matrix_closed, title=_title("‖∂L/∂h_t‖ (log scale)")))


def per_cell_curves(series: Mapping[str, tuple[np.ndarray, np.ndarray]], labels: Mapping[str, str], y_title: str,
                    title: str, log: bool = False, guide: float | None = None, guide_label: str = "") -> go.Figure:
    """One curve per cell type against step, with an optional horizontal guide (chance, clip threshold)."""
    traces = []
    for cell, (steps, values) in series.items():
        x, y = downsample(np.asarray(steps), np.asarray(values, dtype=float))
        color = CELL_COLORS.get(cell, OKABE_ITO[7])
        traces.append(dict(type="scatter", x=x, y=_positive_or_nan(y) if log else _finite_or_nan(y),
                           mode="lines" if len(x) > 3 else "lines+markers", name=labels[cell],
                           line=dict(color=color, width=2), marker=dict(color=color, size=8)))
    layout: dict[str, Any] = {}
    if not any(len(steps) for steps, _ in series.values()):
        layout["annotations"] = [_note("press Train: one point per step appears here")]
    if guide is not None:
        layout["shapes"] = [dict(type="line", xref="paper", x0=0, x1=1, y0=guide, y1=guide,
                                 line=dict(color=GUIDE_COLOR, dash="dash", width=1))]
        layout.setdefault("annotations", []).append(
            dict(text=guide_label, xref="paper", x=1, y=np.log10(guide) if log else guide, xanchor="right",
                 yanchor="top", showarrow=False, font=dict(size=12, color=GUIDE_COLOR)))
    yaxis = _log_axis(*[values for _, values in series.values()], guide, title=_title(y_title)) if log else \
        dict(title=_title(y_title))
    # (the legend under the plot: above it, in a column's width its four cells took two rows, over the title)
    return _figure(traces, title, legend=legend_below(), xaxis=dict(title=_title("step")), yaxis=yaxis, **layout)
