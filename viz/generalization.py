"""Figures of the Generalization page: pure functions from arrays to `go.Figure`, as plain dicts
(viz.theme.figure_from_dicts), since every control change redraws them.

Colours: the true function black, the data points grey, the training error blue, the test error orange, bias²
green and variance purple (Okabe-Ito); ridge's curves are dashed beside least squares' solid ones.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from viz.theme import (OKABE_ITO, SEQUENTIAL_SCALE, awaiting_training, downsample, figure_from_dicts, legend_below,
                        log_axis)

TRUTH_COLOR, POINT_COLOR = "#1f2430", "#5f6672"
TRAIN_COLOR, TEST_COLOR, BIAS_COLOR, VARIANCE_COLOR, NOISE_COLOR = (OKABE_ITO[0], OKABE_ITO[5], OKABE_ITO[2],
                                                                    OKABE_ITO[3], "#9aa0a6")
FIT_COLOR, EARLY_COLOR = OKABE_ITO[0], OKABE_ITO[1]
FAN_POINTS = 100  # points per fit in the fan (of the 400 test inputs)
Y_LIMIT = 3.0  # the fits' charts show y in [-3, 3]: a wild fit leaves the chart rather than flatten the others
Series = Mapping[str, tuple[np.ndarray, np.ndarray]]  # metric name -> (steps, values)


def _line(x, y, name: str, color: str, width: float = 2.5, dash: str = "solid", **extra) -> dict:
    return {"type": "scatter", "x": np.asarray(x, dtype=np.float32), "y": np.asarray(y, dtype=np.float32),
            "mode": "lines", "name": name, "line": {"color": color, "width": width, "dash": dash}, **extra}


def _points(x, y, name: str, color: str = POINT_COLOR, symbol: str = "circle") -> dict:
    return {"type": "scatter", "x": np.asarray(x, dtype=np.float32), "y": np.asarray(y, dtype=np.float32),
            "mode": "markers", "name": name,
            "marker": {"color": color, "size": 7, "symbol": symbol, "line": {"color": "white", "width": 0.8}},
            "hovertemplate": "x = %{x:.3f}<br>y = %{y:.3f}<extra></extra>"}


def _data_axes(height: int) -> dict:
    return {"height": height, "xaxis": {"title": {"text": "x"}, "range": [-1.02, 1.02], "zeroline": False},
            "yaxis": {"title": {"text": "y"}, "range": [-Y_LIMIT, Y_LIMIT], "zeroline": False},
            "legend": legend_below(), "margin": {"t": 50, "b": 70}}


def fits_fan(grid: np.ndarray, truth: np.ndarray, fan: np.ndarray, mean_fit: np.ndarray, train_x: np.ndarray,
             train_y: np.ndarray, title: str, height: int = 460) -> go.Figure:
    """The fits of several refits (thin), their mean over all refits (thick), the true function (dashed), and
    the first refit's training points."""
    every = max(1, len(grid) // FAN_POINTS)  # thin lines need fewer points: the browser draws them all
    gaps = np.full((len(fan), 1), np.nan)
    xs = np.concatenate([np.tile(grid[::every], (len(fan), 1)), gaps], axis=1).ravel()
    ys = np.concatenate([np.clip(fan[:, ::every], -10 * Y_LIMIT, 10 * Y_LIMIT), gaps], axis=1).ravel()
    data = [_line(xs, ys, f"{len(fan)} of the fits", FIT_COLOR, 1, opacity=0.25, hoverinfo="skip",
                  connectgaps=False),
            _line(grid, truth, "true f(x)", TRUTH_COLOR, 2.5, "dash", hoverinfo="skip"),
            _line(grid, mean_fit, "mean fit E f̂(x)", OKABE_ITO[5], 3.5,
                  hovertemplate="x = %{x:.2f}<br>E f̂ = %{y:.3f}<extra></extra>"),
            _points(train_x, train_y, "one training set")]
    return figure_from_dicts(data, _data_axes(height), title)


def decomposition_bars(bias2: float, variance: float, noise: float, test_mse: float, test_se: float,
                       height: int = 460) -> go.Figure:
    """bias² + variance + σ² stacked in one bar, beside the test error measured on noisy held-out labels (its
    bar ±2 standard errors): the two bars are equal in expectation."""
    parts = (("bias²", max(bias2, 0.0), BIAS_COLOR), ("variance", variance, VARIANCE_COLOR),
             ("noise σ²", noise, NOISE_COLOR))
    sum_label, measured_label = "bias² + variance + σ²", "test error, measured"
    data = [{"type": "bar", "x": [sum_label], "y": [value], "name": f"{name} = {value:.4g}",
             "marker": {"color": color}, "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>"}
            for name, value, color in parts]
    data.append({"type": "bar", "x": [measured_label], "y": [test_mse], "name": f"test error = {test_mse:.4g}",
                 "marker": {"color": TEST_COLOR}, "error_y": {"type": "data", "array": [2 * test_se],
                                                               "color": TRUTH_COLOR, "thickness": 2, "width": 10},
                 "hovertemplate": "measured: %{y:.4g}<extra></extra>"})
    # Each bar's name in two short lines, level: turned 45° where the bars stand in a narrow column (a 1024 px
    # projector), the names overhung the plot's right side and pushed its margins (the chart drawn twice).
    names = {"tickmode": "array", "tickvals": [sum_label, measured_label], "tickangle": 0,
             "ticktext": ["bias² + variance<br>+ σ²", "test error,<br>measured"]}
    layout = {"height": height, "barmode": "stack", "xaxis": names,
              "yaxis": {"title": {"text": "mean squared error"}, "rangemode": "tozero"},
              # (a list, in the stack's order: in rows it took one to four with the column's width, and a 1024 px
              # projector's narrow column drew the chart twice)
              "legend": legend_below(orientation="v", x=0), "margin": {"t": 50, "b": 90},
              "bargap": 0.35}
    return figure_from_dicts(data, layout, "Where the test error comes from")


# Markers on an axis' floor or ceiling stand this far inside it (in decades): plotly.js hides a point outside the
# range when the trace is not clipped, and a value rounded on its way there (float32) fell just outside.
EDGE_INSET = 1e-6


def _edge_markers(x: np.ndarray, edge: float, inward: int, name: str, symbol: str, color: str, hovertemplate: str,
                  **extra) -> dict:
    """Markers on a log axis' floor (inward +1) or ceiling (inward -1), `edge` in decades, for values it cannot
    draw there; drawn on the edge, unclipped, so half of each stands outside the plot."""
    y = np.full(len(x), 10 ** (edge + inward * EDGE_INSET))
    return {"type": "scatter", "x": np.asarray(x, dtype=np.float32), "y": y, "mode": "markers", "cliponaxis": False,
            "name": name,
            "marker": {"symbol": symbol, "size": 9, "color": color}, "hovertemplate": hovertemplate, **extra}


def complexity_sweep(sizes: np.ndarray, alphas, train_mse: np.ndarray, test_mse: np.ndarray, bias2: np.ndarray,
                     variance: np.ndarray, *, family: str, threshold: float, current: int, noise: float, refits: int,
                     height: int = 520) -> go.Figure:
    """Training and test error (medians over refits), bias² and variance against the model's size, log scale;
    the interpolation threshold (where the features first reach rank N: training error ~0) and the model the
    other views show, as vertical lines; σ², the floor, as a horizontal one. Ridge, when α > 0, dashed."""
    axis_name = "degree D" if family == "poly" else "width W (features)"
    positive = lambda values: np.where(values > 0, values, np.nan)  # noqa: E731 - log axis
    values = np.concatenate([test_mse.ravel(), train_mse.ravel(), [noise]])
    low = max(np.nanmin(np.where(values > 0, values, np.nan)), noise * 1e-3)
    top = np.log10(np.nanmax(values)) + 0.1  # (the axis follows the errors: a mean variance can be 10⁶ near the
    # threshold, where one refit of a near-singular Φ is wild, and drawn to it the errors would be a flat line)
    data = []
    for a, alpha in enumerate(alphas):
        dash, suffix = ("solid", "") if alpha == 0 else ("dash", f", ridge α = {alpha:g}")
        data += [_line(sizes, positive(test_mse[a]), f"test error (median){suffix}", TEST_COLOR,
                       3 if alpha == 0 else 2.5, dash,
                       hovertemplate=f"{axis_name} %{{x}}<br>test error %{{y:.3g}}<extra></extra>"),
                 _line(sizes, positive(train_mse[a]), f"training error (median){suffix}", TRAIN_COLOR, 2.5, dash,
                       hovertemplate=f"{axis_name} %{{x}}<br>training error %{{y:.3g}}<extra></extra>")]
        if alpha == 0:
            data += [_line(sizes, positive(bias2[a]), "bias² (mean)", BIAS_COLOR, 1.5, "dot"),
                     _line(sizes, positive(variance[a]), "variance (mean)", VARIANCE_COLOR, 1.5, "dot")]
            # bias² is estimated without bias (the mean fit's squared error less variance / refits), so where the
            # variance is large its estimate can fall to 0 or below, which a log axis cannot draw: marked on its floor.
            unresolved = np.flatnonzero(~(bias2[a] > 0))
            if unresolved.size:
                data.append(_edge_markers(
                    sizes[unresolved], np.log10(low), +1, "bias² not resolved (estimate ≤ 0)", "triangle-down-open",
                    BIAS_COLOR, f"{axis_name} %{{x}}<br>bias² not resolved: its estimate is ≤ 0, the variance too "
                                f"large for {refits} refits to measure it<extra></extra>"))
            # ... and where the variance is above the axis, a marker on its ceiling says so, with the value.
            above = np.flatnonzero(variance[a] > 10 ** top)
            if above.size:
                data.append(_edge_markers(
                    sizes[above], top, -1, "variance above the chart", "triangle-up-open", VARIANCE_COLOR,
                    f"{axis_name} %{{x}}<br>variance (mean) %{{customdata:.3g}}, above the chart: a few wild refits "
                    "raise the mean<extra></extra>", customdata=np.asarray(variance[a][above], dtype=np.float32)))
    shapes, annotations = [], []
    on_axis = (lambda x: np.log10(max(x, 1))) if family != "poly" else (lambda x: x)  # noqa: E731
    ends = on_axis(sizes.min()), on_axis(sizes.max())
    middle = on_axis(min(threshold, current)) + on_axis(max(threshold, current)) if np.isfinite(threshold) else 0
    for x, text, color in ((threshold, f"interpolation threshold: rank N at {threshold:.0f}", TRUTH_COLOR),
                           (current, f"this model: {current}", OKABE_ITO[4])):
        if np.isfinite(x):
            shapes.append({"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                           "line": {"color": color, "width": 1.5, "dash": "dash"}})
            # The two labels point away from each other (they overlapped when the lines stood close), and inwards
            # near the axis' ends.
            share = (on_axis(x) - ends[0]) / max(ends[1] - ends[0], 1e-9)
            away = "left" if 2 * on_axis(x) > middle or (x == threshold and x == current) else "right"
            anchor = "left" if share < 0.3 else "right" if share > 0.7 else away
            annotations.append({"x": on_axis(x), "yref": "paper", "y": 1, "yanchor": "bottom", "text": text,
                                "showarrow": False, "xanchor": anchor, "font": {"size": 12, "color": color},
                                # (above the ceiling's markers, which stand out of the plot by half their size)
                                "yshift": 22 if x == current and x == threshold else 6})
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": noise, "y1": noise,
                   "line": {"color": NOISE_COLOR, "width": 1.2, "dash": "dot"}})
    annotations.append({"xref": "paper", "x": 1, "xanchor": "right", "y": np.log10(noise), "yanchor": "top",
                        "text": "σ²: no model does better", "showarrow": False,
                        "font": {"size": 12, "color": NOISE_COLOR}})
    xaxis = (log_axis(sizes[sizes > 0], title={"text": axis_name}) if family != "poly"
             else {"title": {"text": axis_name}})
    layout = {"height": height, "xaxis": xaxis,
              # (the errors' median over refits and the parts' mean are said in the legend: a title that long ran
              # past a projector's plot, into the chart's title)
              # (ticks for the range shown: a training error of 10⁻³⁰ below it spaced them four decades apart)
              "yaxis": log_axis(np.clip(values, low, None), title={"text": "mean squared error"},
                                range=[np.log10(low), top]),
              "shapes": shapes, "annotations": annotations, "hovermode": "x unified",
              "legend": legend_below(), "margin": {"t": 70, "b": 90}}
    return figure_from_dicts(data, layout, f"Error against model size ({refits} refits at each)")


def shrinkage_factors(eigenvalues: np.ndarray, alphas: np.ndarray, factors: np.ndarray, alpha: float,
                      height: int = 420) -> go.Figure:
    """λᵢ / (λᵢ + α) against α for each eigendirection of ΦᵀΦ, coloured by λᵢ: ridge keeps the directions the
    data pin down and drops the others as α grows; the dotted line is the α set now."""
    shown = np.unique(np.linspace(0, len(eigenvalues) - 1, min(len(eigenvalues), 40)).round().astype(int))
    logs = np.log10(eigenvalues[shown])
    span = max(logs.max() - logs.min(), 1e-9)
    colors = pc.sample_colorscale("Viridis", list((logs - logs.min()) / span))
    data = [_line(alphas, factors[i], f"λ = {eigenvalues[i]:.2g}", color, 1.8, showlegend=False,
                  hovertemplate=f"λ = {eigenvalues[i]:.3g}<br>α = %{{x:.2g}}: keeps %{{y:.2f}}<extra></extra>")
            for i, color in zip(shown, colors)]
    data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "showlegend": False,
                 "hoverinfo": "skip", "marker": {"color": [float(logs.min()), float(logs.max())],
                                                 "colorscale": SEQUENTIAL_SCALE, "showscale": True,
                                                 "colorbar": {"title": {"text": "log₁₀ λ"}, "thickness": 12}}})
    layout = {"height": height, "xaxis": log_axis(alphas, title={"text": "ridge α"}),
              "yaxis": {"title": {"text": "share kept: λ / (λ + α)"}, "range": [-0.02, 1.05]},
              "margin": {"t": 50, "b": 60}}
    if alpha > 0:
        kept = float(np.sum(eigenvalues / (eigenvalues + alpha)))
        layout["shapes"] = [{"type": "line", "x0": alpha, "x1": alpha, "yref": "paper", "y0": 0, "y1": 1,
                             "line": {"color": TRUTH_COLOR, "dash": "dot", "width": 1.5}}]
        layout["annotations"] = [{"x": np.log10(alpha), "y": 1.02, "yref": "paper", "yanchor": "bottom",
                                  "text": f"α = {alpha:g}: {kept:.1f} effective parameters", "showarrow": False,
                                  "font": {"size": 12}}]
    return figure_from_dicts(data, layout, f"Ridge's shrinkage along the {len(eigenvalues)} eigendirections")


def noise_against_ridge(copies: np.ndarray, differences: np.ndarray, height: int = 360) -> go.Figure:
    """How far least squares on M noisy copies is from ridge with α = N s²: it falls like 1/√M."""
    guide = differences[-1] * np.sqrt(copies[-1] / copies)
    data = [_line(copies, differences, "‖w_noise − w_ridge‖ / ‖w_ridge‖", OKABE_ITO[0], 2.5,
                  mode="lines+markers", hovertemplate="M = %{x}: %{y:.3f}<extra></extra>"),
            _line(copies, guide, "∝ 1/√M", POINT_COLOR, 1.5, "dot", hoverinfo="skip")]
    layout = {"height": height, "xaxis": log_axis(copies, title={"text": "noisy copies M"}),
              "yaxis": log_axis(differences, guide, title={"text": "relative difference"}),
              "legend": legend_below(), "margin": {"t": 50, "b": 80}}
    return figure_from_dicts(data, layout, "Input noise becomes L2")


def regularized_fits(grid: np.ndarray, truth: np.ndarray, train_x: np.ndarray, train_y: np.ndarray,
                     fits: Mapping[str, np.ndarray], title: str, height: int = 360) -> go.Figure:
    """Several fits of one training set, by name (the first solid, the others dashed), over the true f."""
    colors = (OKABE_ITO[0], OKABE_ITO[5], OKABE_ITO[2])
    data = [_line(grid, truth, "true f(x)", TRUTH_COLOR, 2, "dash", hoverinfo="skip")]
    data += [_line(grid, values, name, color, 3 if i == 0 else 2.5, "solid" if i == 0 else "dashdot")
             for i, ((name, values), color) in enumerate(zip(fits.items(), colors))]
    data.append(_points(train_x, train_y, "training set"))
    return figure_from_dicts(data, _data_axes(height), title)


def weight_histograms(ridge: np.ndarray, lasso: np.ndarray, height: int = 360) -> go.Figure:
    """The weights of ridge and of the lasso at the same training error, as histograms: the lasso's pile up at
    exactly zero."""
    largest = float(max(np.abs(ridge).max(), np.abs(lasso).max(), 1e-12))
    bins = {"start": -largest * 1.02, "end": largest * 1.02, "size": largest * 2.04 / 41}
    data = [{"type": "histogram", "x": weights.astype(np.float32), "name": f"{name}: {np.sum(weights == 0)} of "
             f"{len(weights)} exactly 0", "xbins": bins, "marker": {"color": color}, "opacity": 0.65}
            for name, weights, color in (("L2 (ridge)", ridge, OKABE_ITO[0]), ("L1 (lasso)", lasso, OKABE_ITO[5]))]
    layout = {"height": height, "barmode": "overlay", "xaxis": {"title": {"text": "weight"}},
              "yaxis": {"title": {"text": "weights"}}, "legend": legend_below(),
              "margin": {"t": 50, "b": 80}}
    return figure_from_dicts(data, layout, "L1 against L2: the same training error")


def mlp_fit(grid: np.ndarray, truth: np.ndarray, fit: np.ndarray, early_fit: np.ndarray, early_step: int,
            train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray], step: int,
            height: int = 480) -> go.Figure:
    """The network now and at the step early stopping picks, over the true f, the training points and the
    validation points."""
    data = [_line(grid, truth, "true f(x)", TRUTH_COLOR, 2, "dash", hoverinfo="skip"),
            _line(grid, early_fit, f"early stopped (step {early_step:,})", EARLY_COLOR, 3),
            _line(grid, fit, f"now (step {step:,})", FIT_COLOR, 2.5),
            _points(*train, "training points"),
            _points(*validation, "validation points", OKABE_ITO[2], "diamond")]
    return figure_from_dicts(data, _data_axes(height), "The MLP's fit")


def mlp_errors(history: Series, early_step: int, best_test_step: int, noise: float, height: int = 480) -> go.Figure:
    """Training, validation and test error by step (log scale); where early stopping stops (the validation
    minimum) and where the test error itself is lowest; σ², the floor."""
    data = []
    for name, label, color in (("loss", "training", TRAIN_COLOR), ("validation_mse", "validation", OKABE_ITO[2]),
                               ("test_mse", "test", TEST_COLOR)):
        if name in history and len(history[name][0]):
            steps, values = downsample(np.asarray(history[name][0]), np.asarray(history[name][1], dtype=float), 1500)
            data.append(_line(steps, values, label, color, 2.5,
                              hovertemplate=f"{label} %{{y:.4f}}<extra></extra>"))
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": noise, "y1": noise,
               "line": {"color": NOISE_COLOR, "width": 1.2, "dash": "dot"}}]
    annotations = []
    for step, text, color, height_at in ((early_step, "validation's minimum", OKABE_ITO[2], 1.07),
                                         (best_test_step, "test's minimum", TEST_COLOR, 1.0)):
        if step > 0:
            shapes.append({"type": "line", "x0": step, "x1": step, "yref": "paper", "y0": 0, "y1": 1,
                           "line": {"color": color, "width": 1.5, "dash": "dash"}})
            annotations.append({"x": step, "yref": "paper", "y": height_at, "yanchor": "bottom", "xanchor": "left",
                                "text": f"{text}: step {step:,}", "showarrow": False,
                                "font": {"size": 12, "color": color}})
    layout = {"height": height, "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
              "yaxis": log_axis(*(values for _, values in history.values()), title={"text": "mean squared error"}),
              "shapes": shapes, "annotations": annotations, "hovermode": "x unified",
              "legend": legend_below(), "margin": {"t": 70, "b": 80}}
    if all(len(trace["x"]) < 2 for trace in data):  # (before training: a log axis over nothing, ticks 10⁻³ to 10³)
        awaiting_training(layout, "Press Train (or Step): the training,<br>validation and test errors are drawn<br>"
                                  "here as the MLP learns", ("xaxis", "yaxis"))
    return figure_from_dicts(data, layout, "Errors while training")
