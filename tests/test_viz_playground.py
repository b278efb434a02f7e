"""Playground figures on small inputs whose right drawing is known."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from viz import playground as figures
from viz.raster import hex_rgb
from viz.theme import TEMPLATE, chart_config, class_color, downsample, safe_filename


def test_decision_boundary_draws_the_surface_and_both_point_sets():
    g = np.linspace(-1, 1, 5)
    surface = np.tile(np.linspace(0, 1, 5), (5, 1))  # P(class 1) grows with x1
    x = np.array([[-0.5, 0.0], [0.5, 0.0]], dtype=np.float32)
    y = np.array([0, 1])
    fig = figures.decision_boundary(g, g, surface, "binary", x, y, x, y)
    heatmap = next(t for t in fig.data if isinstance(t, go.Heatmap))
    np.testing.assert_array_equal(np.asarray(heatmap.z), surface)
    names = [t.name for t in fig.data if isinstance(t, go.Scatter) and t.mode == "markers" and list(t.x) == [None]]
    assert names == ["train class 0", "train class 1", "test class 0", "test class 1"]  # the legend's entries
    hover = [t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "markers" and t.marker.opacity == 0]
    assert [t.name for t in hover] == ["train (hover)", "test (hover)"]
    for t in hover:  # every point's class and place in the hover, its marker not drawn
        np.testing.assert_array_equal(np.column_stack([t.x, t.y]), x)
        assert list(t.customdata) == [0, 1] and "class %{customdata}" in t.hovertemplate
    # The points themselves: a picture over the surface, spanning the grid; the class 1 point (0.5, 0) in its
    # colour at its place, ringed (the test point: an open circle over the train point's filled one)
    (image,) = fig.layout.images
    assert (image.x, image.y, image.sizex, image.sizey, image.layer) == (-1, 1, 2, 2, "above")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1]))).convert("RGBA"))
    row, col = pixels.shape[0] // 2, int(0.75 * pixels.shape[1])
    assert pixels[row, col, 3] >= 250 and np.abs(pixels[row, col, :3] - hex_rgb(class_color(1))).max() <= 24
    assert pixels[:, : pixels.shape[1] // 8, 3].max() == 0  # nothing drawn far from the points
    boundary = next(t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "lines")
    drawn = ~np.isnan(np.asarray(boundary.x, dtype=float))
    np.testing.assert_allclose(np.asarray(boundary.x)[drawn], 0, atol=1e-6)  # P(class 1) = 0.5 where x1 = 0
    assert set(np.asarray(boundary.y)[drawn]) == set(g)  # from the bottom of the grid to the top
    assert fig.layout.template.layout.font.size  # styled with the shared template
    without_test = figures.decision_boundary(g, g, surface, "binary", x, y, x, y, show_test=False)
    assert all("test" not in (t.name or "") for t in without_test.data)


def test_level_line_follows_the_level_set_of_a_linear_surface_and_of_a_saddle():
    g1, g2 = np.linspace(-3, 3, 31), np.linspace(-2, 2, 17)
    x1, x2 = np.meshgrid(g1, g2)
    x, y = figures.level_line(g1, g2, 0.5 + 0.3 * x1 - 0.2 * x2, 0.5)
    drawn = ~np.isnan(x)
    assert drawn.sum() > 20
    np.testing.assert_allclose(0.3 * x[drawn] - 0.2 * y[drawn], 0, atol=1e-9)  # on the line where it is 0.5
    # Segments of two points each, separated by NaN, none longer than a grid cell's diagonal.
    pieces = np.stack([x, y], -1).reshape(-1, 3, 2)
    assert np.isnan(pieces[:, 2]).all() and not np.isnan(pieces[:, :2]).any()
    assert np.hypot(*(pieces[:, 1] - pieces[:, 0]).T).max() <= np.hypot(g1[1] - g1[0], g2[1] - g2[0]) + 1e-9
    h1, h2 = np.linspace(-3, 3, 30), np.linspace(-2, 2, 16)  # no grid point on an axis
    x, y = figures.level_line(h1, h2, np.outer(h2, h1), 0.0)  # x1·x2 has saddles: its level set is both axes
    drawn = ~np.isnan(x)
    assert drawn.sum() > 20
    np.testing.assert_allclose(x[drawn] * y[drawn], 0, atol=1e-9)
    assert len(figures.level_line(g1, g2, np.zeros_like(x1), 0.5)[0]) == 0  # nowhere at the level: no line


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
    tiles = [np.asarray(t.z, dtype=float) for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(tiles) == 6 and all(tile.shape == (figures.TILE, figures.TILE) for tile in tiles)
    assert [float(tile.mean()) for tile in tiles] == [1, 1, -1, -1, -1, 1]  # inputs, the 3 hidden, the output
    # Layers side by side, units one below another, never overlapping.
    corners = [(t.x0, t.y0) for t in fig.data if isinstance(t, go.Heatmap)]
    assert corners[0][0] == corners[1][0] < corners[2][0] == corners[3][0] == corners[4][0] < corners[5][0]
    assert corners[2][1] + figures.TILE <= corners[3][1] and corners[3][1] + figures.TILE <= corners[4][1]
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


def test_error_rate_curves_start_at_zero_on_a_linear_axis_so_no_mistakes_shows():
    steps = np.arange(1, 301)
    errors = np.where(steps < 200, 0.3 * (1 - steps / 200), 0.0)  # the perceptron reaches no mistakes
    fig = figures.training_curves({"loss": (steps, errors), "train_loss": (steps[::10], errors[::10]),
                                   "train_accuracy": (steps[::10], 1 - errors[::10])}, True, error_rate=True)
    axis = fig.layout.yaxis
    assert axis.type != "log" and axis.range[0] == 0 and axis.range[1] >= 0.3 and axis.tickformat == ".0%"
    assert {t.name for t in fig.data} >= {"minibatch error rate", "train error rate"}
    assert "loss" not in fig.layout.title.text.lower() and fig.layout.annotations[0].text == "Error rate"


def test_the_validation_loss_is_drawn_dashed_and_within_the_loss_axis_ticks():
    steps = np.arange(1, 101)
    fig = figures.training_curves({"train_loss": (steps, np.full(100, 0.5)), "test_loss": (steps, np.full(100, 0.6)),
                                   "val_loss": (steps, np.full(100, 0.3))}, False)
    validation = next(t for t in fig.data if t.name == "validation loss")
    assert validation.line.dash == "dash" and np.allclose(validation.y, 0.3)
    assert min(fig.layout.yaxis.tickvals) <= 0.3  # the ticks reach down to it (train and test alone: from 0.4)


def test_a_loss_axis_over_a_narrow_span_has_several_labelled_ticks():
    steps = np.arange(1, 101)
    fig = figures.training_curves({"train_loss": (steps, np.linspace(0.70, 0.66, 100))}, False)
    assert len(fig.layout.yaxis.tickvals) >= 2 and len(fig.layout.yaxis.ticktext) >= 2


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


def _every_figure():
    g = np.linspace(-1, 1, 6)
    x = np.array([[-0.5, 0.2], [0.5, -0.1], [0.1, 0.3]], dtype=np.float32)
    y = np.array([0, 1, 2])
    binary = np.tile(np.linspace(0, 1, 6), (6, 1))
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=(6, 6))
    steps = np.arange(1, 300)
    history = {"loss": (steps, 1 / steps), "train_loss": (steps[::10], 2 / steps[::10]),
               "test_loss": (steps[::10], 3 / steps[::10]), "val_loss": (steps[::10], 2.5 / steps[::10]),
               "train_accuracy": (steps[::10], steps[::10] / 300),
               "test_accuracy": (steps[::10], steps[::10] / 400)}
    kinks = (np.array([-0.3, 0.4]), np.array([0.1, -0.2]))
    return [
        figures.decision_boundary(g, g, binary, "binary", x, y % 2, x, y % 2),
        figures.decision_boundary(g, g, probs, "multiclass", x, y, x, y, show_test=False),
        figures.decision_boundary(g, g, binary * 2 - 1, "regression", x, x[:, 0], x, x[:, 1]),
        figures.decision_boundary(g, None, np.abs(g), "regression", g[:, None], np.abs(g), g[:, None], g, kinks=kinks),
        figures.network_diagram(["Input", "Layer 1", "Output"], [["x₁", "x₂"], ["a", "b", "c"], ["o"]],
                                [np.ones((2, 6, 6)), -np.ones((3, 6, 6)), np.ones((1, 6, 6))],
                                [np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 0.1]]), np.array([[1.0, -3.0, 0.2]])]),
        figures.network_diagram(["Input", "Output"], [["x₁"], ["o"]], [np.ones((1, 8)), -np.ones((1, 8))],
                                [np.array([[0.5]])]),
        figures.training_curves(history, classification=True),
        figures.training_curves({k: history[k] for k in ("loss", "train_loss", "test_loss")}, classification=False),
        figures.training_curves(history, classification=True, error_rate=True),
        figures.confusion_matrix(np.array([[8, 2], [1, 9]])),
    ]


def test_figures_built_without_validation_are_what_plotlys_validation_makes_of_them():
    """The figures skip Plotly's per-property checks for speed; Plotly's own validator is the oracle that
    every property exists, has a valid value, and is written in the form Plotly would write it."""
    import json

    import plotly.io as pio

    for fig in _every_figure():
        validated = go.Figure(fig.to_dict())  # raises on an unknown property or a bad value
        assert json.loads(pio.to_json(fig, validate=False)) == json.loads(pio.to_json(validated, validate=False))
        assert fig.layout.template.layout.font.size  # the shared template, embedded
