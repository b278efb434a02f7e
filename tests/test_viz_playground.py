"""Playground figures on small inputs whose right drawing is known."""

import numpy as np
import plotly.graph_objects as go

from viz import playground as figures
from viz.theme import TEMPLATE, chart_config, downsample, safe_filename


def test_decision_boundary_draws_the_surface_and_both_point_sets():
    g = np.linspace(-1, 1, 5)
    surface = np.tile(np.linspace(0, 1, 5), (5, 1))  # P(class 1) grows with x1
    x = np.array([[-0.5, 0.0], [0.5, 0.0]], dtype=np.float32)
    y = np.array([0, 1])
    fig = figures.decision_boundary(g, g, surface, "binary", x, y, x, y)
    heatmap = next(t for t in fig.data if isinstance(t, go.Heatmap))
    np.testing.assert_array_equal(np.asarray(heatmap.z), surface)
    names = [t.name for t in fig.data if isinstance(t, go.Scatter)]
    assert names == ["train class 0", "train class 1", "test class 0", "test class 1"]
    assert fig.layout.template.layout.font.size  # styled with the shared template
    without_test = figures.decision_boundary(g, g, surface, "binary", x, y, x, y, show_test=False)
    assert all("test" not in (t.name or "") for t in without_test.data)


def test_multiclass_surface_colours_each_region_by_its_winner():
    g = np.linspace(-1, 1, 4)
    probs = np.zeros((4, 4, 3))
    probs[:, :2, 0] = 1.0  # left half: class 0
    probs[:, 2:, 2] = 1.0  # right half: class 2
    fig = figures.decision_boundary(g, g, probs, "multiclass", np.zeros((0, 2)), np.zeros(0, int),
                                    np.zeros((0, 2)), np.zeros(0, int))
    layers = [np.asarray(t.z, dtype=float) for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(layers) == 3
    assert np.all(np.isnan(layers[1]))  # class 1 wins nowhere
    assert np.all(layers[0][:, :2] == 1) and np.all(np.isnan(layers[0][:, 2:]))


def test_one_dimensional_fit_is_a_curve_over_the_points():
    g = np.linspace(-3, 3, 7)
    fig = figures.decision_boundary(g, None, np.sin(g), "regression", g[:, None], np.sin(g), g[:, None],
                                    np.sin(g))
    curve = next(t for t in fig.data if t.name == "network")
    np.testing.assert_allclose(curve.y, np.sin(g))


def test_network_diagram_has_one_tile_per_neuron_and_links_coloured_by_sign():
    grids = [np.ones((2, 6, 6)), -np.ones((3, 6, 6)), np.ones((1, 6, 6))]
    weights = [np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 0.1]]), np.array([[1.0, -3.0, 0.2]])]
    fig = figures.network_diagram(["Input", "Layer 1", "Output"], [["x₁", "x₂"], ["a", "b", "c"], ["o"]], grids,
                                  weights)
    canvas = np.asarray(fig.data[0].z, dtype=float)
    tile_pixels = figures.TILE * figures.TILE
    assert np.sum(canvas == 1) == 3 * tile_pixels  # 2 inputs + 1 output, all +1
    assert np.sum(canvas == -1) == 3 * tile_pixels  # the 3 hidden neurons
    links = [t for t in fig.data if isinstance(t, go.Scatter)]
    n_segments = sum(len([v for v in t.x if v is None]) for t in links)
    assert n_segments == weights[0].size + weights[1].size
    widths = {round(t.line.width, 2): t.line.color for t in links}
    assert len(widths) >= 2  # strong and weak links differ in width
    colours = {t.line.color for t in links}
    assert len(colours) == 2  # one colour for positive, one for negative weights


def test_training_curves_use_a_log_loss_axis_and_downsample_long_histories():
    steps = np.arange(1, 50_001)
    history = {"loss": (steps, 1.0 / steps), "train_loss": (steps[::100], 1.0 / steps[::100]),
               "train_accuracy": (steps[::100], np.linspace(0.5, 1, 500))}
    fig = figures.training_curves(history, classification=True)
    assert fig.layout.yaxis.type == "log"
    assert all(len(t.x) <= 2000 for t in fig.data)
    minibatch = next(t for t in fig.data if t.name == "minibatch loss")
    assert minibatch.x[-1] == 50_000  # the newest point is always shown


def test_confusion_matrix_shows_counts_and_row_shares():
    fig = figures.confusion_matrix(np.array([[8, 2], [1, 9]]))
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z), [[0.8, 0.2], [0.1, 0.9]])
    assert "8<br>(80%)" in heat.text[0][0]


def test_theme_helpers():
    x = np.arange(10_000)
    dx, dy = downsample(x, x * 2, max_points=100)
    assert len(dx) <= 100 and dx[-1] == 9999 and np.all(dy == 2 * dx)
    config = chart_config("output circle/σ=1")
    assert config["toImageButtonOptions"]["scale"] == 2
    assert config["toImageButtonOptions"]["filename"] == safe_filename("output circle/σ=1") == "output-circle-1"
    assert TEMPLATE == "gradscape"
