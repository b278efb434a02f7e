"""Gradient Flow figures on small inputs whose right picture is known."""

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.gradients.recurrent_model import CellEigenvalues, CellGradients
from tests.conftest import assert_valid_as_built
from viz import gradients as figures

LAYERS = ["layer 1", "layer 2", "layer 3", "output"]


def by_name(fig: go.Figure) -> dict:
    return {trace.name: trace for trace in fig.data}


def note_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# ---------------------------------------------------------------- one moment
def test_activation_profile_draws_mean_band_and_flat_share_in_percent():
    mean, std, flat = np.array([0.1, 0.2, 0.3]), np.array([1.0, 0.5, 0.25]), np.array([0.0, 0.5, 0.9])
    fig = figures.activation_profile(LAYERS[:3], mean, std, flat, "dead")
    traces = by_name(fig)
    np.testing.assert_allclose(traces["% dead"].y, [0, 50, 90])
    assert traces["% dead"].yaxis == "y2" and tuple(fig.layout.yaxis2.range) == (0, 100)
    np.testing.assert_allclose(traces["mean"].y, mean)
    assert list(traces["mean"].x) == ["1", "2", "3"]  # short layer labels, input on the left
    band = traces["mean ± std"]
    np.testing.assert_allclose(band.y, [1.1, 0.7, 0.55, 0.3 - 0.25, 0.2 - 0.5, 0.1 - 1.0])
    assert note_texts(fig) == []
    # A layer whose activations overflowed is named in the figure, not silently left out.
    broken = figures.activation_profile(LAYERS[:3], mean, [1.0, np.inf, np.nan], flat, "dead")
    assert note_texts(broken) == ["inf/NaN from layer 2 on"]


def test_gradient_norms_use_a_log_axis_and_leave_out_zeros():
    fig = figures.gradient_norms(LAYERS, [1e-6, 0.0, 1e-2, 1.0], [1e-5, 1e-4, 1e-3, 1e-2])
    traces = by_name(fig)
    assert fig.layout.yaxis.type == "log"
    y = np.array(traces["‖∂L/∂W‖"].y, dtype=float)
    assert np.isnan(y[1]) and y[0] == 1e-6 and y[3] == 1.0  # a zero cannot sit on a log axis
    assert list(traces["‖∂L/∂h‖"].x)[-1] == "out"
    assert fig.layout.yaxis.dtick == 1  # six decades: a tick per decade


def test_log_axes_over_a_narrow_span_label_1_2_5_ticks_written_out():
    fig = figures.gradient_norms(LAYERS, [0.03, 0.05, 0.1, 0.2])
    axis = fig.layout.yaxis
    assert axis.type == "log" and axis.tickmode == "array" and axis.dtick is None
    np.testing.assert_allclose(axis.tickvals, [0.02, 0.05, 0.1, 0.2])
    assert list(axis.ticktext) == ["0.02", "0.05", "0.1", "0.2"]
    tiny = figures.gradient_norms(LAYERS, [2e-5, 3e-5, 4e-5, 5e-5]).layout.yaxis  # under 0.6 decades: finer
    assert "2×10<sup>−5</sup>" in tiny.ticktext and "3×10<sup>−5</sup>" in tiny.ticktext
    assert all(2e-5 / 1.5 <= v <= 5e-5 * 1.5 for v in tiny.tickvals)


def test_variance_theory_line_and_its_absence():
    measured, predicted = [1.0, 0.9, 1.1, 0.5], [1.0, 1.0, 1.0, 0.5]
    fig = figures.variance_theory(LAYERS, measured, predicted, "He/Kaiming normal")
    traces = by_name(fig)
    np.testing.assert_allclose(traces["theory at init (He/Kaiming normal)"].y, predicted)
    assert traces["theory at init (He/Kaiming normal)"].line.dash == "dash"
    np.testing.assert_allclose(traces["measured"].y, measured)
    later = figures.variance_theory(LAYERS, measured, predicted, "He", at_init=[2.0, 2.0, 2.0, 2.0])
    assert {"measured now", "measured at init"} <= set(by_name(later))
    none = figures.variance_theory(LAYERS, measured, None, "He")
    assert len(none.data) == 1 and any("no theory line" in text for text in note_texts(none))


def test_ridge_plot_stacks_one_histogram_per_layer_scaled_to_its_peak():
    edges = np.linspace(-1, 1, 5)
    counts = np.array([[0, 4, 2, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=float)
    fig = figures.ridge_plot(LAYERS[:3], edges, counts, "activation", "Histograms")
    ridges = {trace.name: np.array(trace.y, dtype=float) for trace in fig.data}
    assert set(ridges) == set(LAYERS[:3])
    # Each ridge sits on its own baseline (the layer's index) and peaks at the same height above it.
    for index, name in enumerate(LAYERS[:3]):
        assert ridges[name][0] == ridges[name][-1] == index
    np.testing.assert_allclose(ridges["layer 1"][1:-1] - 0, [0, 1.6, 0.8, 0])
    np.testing.assert_allclose(ridges["layer 2"][1:-1] - 1, [1.6] * 4)
    np.testing.assert_allclose(ridges["layer 3"][1:-1] - 2, 0)  # an empty layer is flat, not NaN
    np.testing.assert_allclose(fig.data[0].x[1:-1], [-0.75, -0.25, 0.25, 0.75])  # bin centres
    empty = figures.ridge_plot(LAYERS[:3], np.full(5, np.nan), counts, "x", "t")
    assert len(empty.data) == 0 and "nothing to show" in note_texts(empty)[0]


# ---------------------------------------------------------------- over training
def test_heatmaps_put_layers_on_rows_and_probes_on_columns():
    steps = np.array([10, 20, 30])
    grad_norms = np.array([[1e-1, 1e-3], [1e-2, 1e-4], [1.0, 0.0]])  # (probes, layers)
    fig = figures.gradient_norm_heatmap(steps, LAYERS[:2], grad_norms)
    heatmap = fig.data[0]
    assert list(heatmap.y) == LAYERS[:2] and list(heatmap.x) == [10, 20, 30]
    z = np.array(heatmap.z, dtype=float)
    np.testing.assert_allclose(z[0], [-1, -2, 0])
    np.testing.assert_allclose(z[1, :2], [-3, -4])
    assert np.isnan(z[1, 2])  # log10 of 0 is not drawn

    ratios = np.array([[1e-3, 1e-5], [1e-1, 1e-3]])
    update = figures.update_ratio_heatmap(steps[:2], LAYERS[:2], ratios, guide=1e-3)
    heatmap = update.data[0]
    assert heatmap.zmid == -3 and (heatmap.zmin, heatmap.zmax) == (-6, 0)  # the −3 guide is the neutral colour
    np.testing.assert_allclose(np.array(heatmap.z, dtype=float), [[-3, -1], [-5, -3]])
    assert "guide" in update.layout.title.text and "-3" in update.layout.title.text
    colorbar = heatmap.colorbar
    assert dict(zip(colorbar.tickvals, colorbar.ticktext))[-3] == "-3 guide"

    flat = figures.flat_fraction_heatmap(steps[:2], LAYERS[:1], np.array([[0.25], [0.5]]), "dead")
    np.testing.assert_allclose(np.array(flat.data[0].z, dtype=float), [[25, 50]])
    assert (flat.data[0].zmin, flat.data[0].zmax) == (0, 100)

    empty = figures.gradient_norm_heatmap(np.empty(0, dtype=int), LAYERS, np.empty((0, 4)))
    assert "press Train" in note_texts(empty)[0]


def test_loss_curve_keeps_traces_small_and_norm_on_its_own_axis():
    steps = np.arange(1, 50_001)
    fig = figures.loss_curve(steps, 1 / steps, steps, np.ones(len(steps)))
    traces = by_name(fig)
    assert len(traces["loss"].x) <= 2000 and traces["loss"].x[-1] == 50_000
    assert traces["‖∇L‖ (all parameters)"].yaxis == "y2"
    assert fig.layout.yaxis.type == "log"


# ---------------------------------------------------------------- through time
def test_gradient_through_time_draws_each_cell_its_init_and_the_radius_guide():
    T = 5
    current = (CellGradients("rnn_tanh", 0.5 ** np.arange(T)[::-1]), CellGradients("lstm", np.ones(T), np.full(T, 2.0)))
    initial = (CellGradients("rnn_tanh", np.ones(T)), CellGradients("lstm", np.ones(T)))
    labels = {"rnn_tanh": "RNN (tanh)", "lstm": "LSTM"}
    fig = figures.gradient_through_time(current, labels, initial, radius=0.5)
    traces = by_name(fig)
    assert {"RNN (tanh)", "RNN (tanh) at init", "LSTM", "LSTM cell ‖∂L/∂c_t‖", "ρ^(T−t), ρ = 0.5"} <= set(traces)
    assert list(traces["LSTM"].x) == [1, 2, 3, 4, 5]
    # The guide is anchored at the largest last-step norm (1.0) and shrinks by ρ per step back.
    np.testing.assert_allclose(traces["ρ^(T−t), ρ = 0.5"].y, 0.5 ** np.arange(T)[::-1])
    assert traces["LSTM cell ‖∂L/∂c_t‖"].line.dash == "dot"
    assert fig.layout.yaxis.type == "log"


def test_eigenvalue_plane_has_the_unit_circle_and_equal_axes():
    eigenvalues = (CellEigenvalues("rnn_tanh", np.array([0.5 + 0.5j, 0.5 - 0.5j, 1.4 + 0j])),)
    fig = figures.eigenvalue_plane(eigenvalues, {"rnn_tanh": "RNN (tanh)"}, radius=0.8,
                                   initial=np.array([0.8 + 0j]))
    traces = by_name(fig)
    circle = traces["unit circle |λ| = 1"]
    np.testing.assert_allclose(np.hypot(circle.x, circle.y), 1.0)
    np.testing.assert_allclose(np.hypot(traces["|λ| = ρ = 0.8 at init"].x, traces["|λ| = ρ = 0.8 at init"].y), 0.8)
    np.testing.assert_allclose(traces["RNN (tanh) now"].x, [0.5, 0.5, 1.4])
    np.testing.assert_allclose(traces["RNN (tanh) now"].y, [0.5, -0.5, 0])
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.range[1] == pytest.approx(1.15 * 1.4)  # the outlier is inside the frame
    broken = figures.eigenvalue_plane((CellEigenvalues("rnn_relu", np.array([np.nan + 0j, 0.5 + 0j])),),
                                    {"rnn_relu": "RNN (ReLU)"})
    assert broken.layout.xaxis.range[1] == pytest.approx(1.15)


def test_linear_closed_form_lines_and_measured_markers():
    t = np.arange(11)
    closed = 0.9 ** (10 - t)
    fig = figures.linear_closed_form(t, closed, closed, 0.9, closed * 2, closed * 2)
    traces = by_name(fig)
    assert traces["|w|^(T−t), w = 0.9"].mode == "lines"
    assert traces["measured (autograd), scalar"].mode == "markers"
    np.testing.assert_allclose(traces["measured (autograd), W_hh"].y, 2 * closed)
    assert len(figures.linear_closed_form(t, closed, closed, 0.9).data) == 2


def test_per_cell_curves_place_the_guide_on_log_and_linear_axes():
    series = {"gru": (np.arange(3), np.array([0.1, 1.0, 10.0]))}
    log = figures.per_cell_curves(series, {"gru": "GRU"}, "norm", "t", log=True, guide=1.0, guide_label="clip")
    assert log.layout.shapes[0].y0 == 1.0 and log.layout.annotations[0].y == 0.0  # log axes place text in log10
    linear = figures.per_cell_curves(series, {"gru": "GRU"}, "acc", "t", guide=0.25, guide_label="chance")
    assert linear.layout.annotations[0].y == 0.25 and linear.layout.yaxis.type is None
    assert linear.data[0].mode == "lines+markers"  # three points: each one visible
    empty = figures.per_cell_curves({"gru": (np.empty(0), np.empty(0))}, {"gru": "GRU"}, "acc", "t")
    assert "press Train" in empty.layout.annotations[0].text


STEPS, VALUES = np.array([10, 20, 30]), np.array([[1e-1, 1e-3, 0.5, 1.0], [1e-2, 0.0, 0.2, 2.0], [1.0, 1e-4, 0.1, 3.0]])
CELL_LABELS = {"rnn_tanh": "RNN (tanh)", "lstm": "LSTM"}
BUILT_FROM_DICTS = {
    "activation profile, overflow": lambda: figures.activation_profile(LAYERS[:3], [0.1, 0.2, 0.3],
                                                                        [1.0, np.inf, 0.5], [0, 0.5, 0.9], "dead"),
    "gradient norms": lambda: figures.gradient_norms(LAYERS, [1e-6, 0.0, 1e-2, 1.0], [1e-5, 1e-4, 1e-3, 1e-2]),
    "variance theory": lambda: figures.variance_theory(LAYERS, [1.0, 0.9, 1.1, 0.5], [1.0] * 4, "He", [2.0] * 4),
    "variance, no theory": lambda: figures.variance_theory(LAYERS, [1.0, 0.9, 1.1, 0.5], None, "He"),
    "ridge plot": lambda: figures.ridge_plot(LAYERS[:3], np.linspace(-1, 1, 5), np.eye(3, 4), "a", "t"),
    "ridge plot, nothing finite": lambda: figures.ridge_plot(LAYERS[:3], np.full(5, np.nan), np.eye(3, 4), "a", "t"),
    "gradient norm heatmap": lambda: figures.gradient_norm_heatmap(STEPS, LAYERS, VALUES),
    "update ratio heatmap": lambda: figures.update_ratio_heatmap(STEPS, LAYERS, VALUES),
    "flat fraction heatmap": lambda: figures.flat_fraction_heatmap(STEPS, LAYERS, VALUES / 3, "dead"),
    "heatmap, no probes": lambda: figures.gradient_norm_heatmap(np.empty(0, dtype=int), LAYERS, np.empty((0, 4))),
    "loss and norm": lambda: figures.loss_curve(STEPS, [1.0, 0.5, 0.2], STEPS, [3.0, 2.0, 1.0]),
    "through time": lambda: figures.gradient_through_time(
        (CellGradients("rnn_tanh", 0.5 ** np.arange(5.0)), CellGradients("lstm", np.ones(5), np.full(5, 2.0))),
        CELL_LABELS, (CellGradients("rnn_tanh", np.ones(5)),), radius=0.5),
    "eigenvalues": lambda: figures.eigenvalue_plane((CellEigenvalues("rnn_tanh", np.array([0.5 + 0.5j, 1.4])),
                                                     CellEigenvalues("lstm", np.array([0.2 + 0j]))),
                                                    CELL_LABELS, 0.8, np.array([0.8 + 0j])),
    "linear closed form": lambda: figures.linear_closed_form(np.arange(4), np.ones(4), np.ones(4), 0.9,
                                                             np.ones(4), np.ones(4)),
    "per cell, log guide": lambda: figures.per_cell_curves({"lstm": (STEPS, [0.1, 1.0, 10.0])}, CELL_LABELS,
                                                           "norm", "t", log=True, guide=1.0, guide_label="clip"),
    "per cell, nothing yet": lambda: figures.per_cell_curves({"lstm": (np.empty(0), np.empty(0))}, CELL_LABELS,
                                                             "acc", "t", guide=0.25, guide_label="chance"),
}


@pytest.mark.parametrize("name", BUILT_FROM_DICTS)
def test_figures_built_from_dicts_are_what_plotlys_validation_makes_of_them(name):
    assert_valid_as_built(BUILT_FROM_DICTS[name]())
