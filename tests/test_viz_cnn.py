"""The CNN page's live figures: what they draw, against the arrays they are given; built as Plotly would."""

from __future__ import annotations

import numpy as np

from tests.conftest import assert_valid_as_built
from viz import cnn as figures


def test_feature_maps_are_one_trace_per_layer_each_channel_on_its_own_scale_pooled_maps_enlarged():
    rng = np.random.default_rng(0)
    image = rng.random((8, 8))
    layer1, layer2 = rng.random((16, 8, 8)) * 5, rng.random((20, 4, 4))
    fig = figures.feature_maps([layer1, layer2], image, "maps")
    assert_valid_as_built(fig)
    assert len(fig.data) == 3  # the input and one per layer, however many channels
    first = np.asarray(fig.data[1].z)
    assert first.shape == (8, 16 * 8 + 15)  # 16 maps and the 15 gaps between them
    assert np.isnan(first[:, 8]).all() and np.allclose(first[:, :8], layer1[0] / layer1[0].max())
    second = np.asarray(fig.data[2].z)
    assert second.shape == (8, 16 * 8 + 15)  # at most 16 channels; 4x4 maps shown at the input's 8x8
    assert np.allclose(second[::2, 9:17:2], layer2[1] / layer2[1].max())
    assert list(fig.layout.xaxis2.ticktext) == [str(c) for c in range(1, 17)]


def test_signed_filters_keep_their_sign_and_zero_stays_white():
    filters = np.array([[[1.0, -2.0], [0.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]])
    fig = figures.mosaic([("filters", list(filters), ["1", "2"], "signed")], "filters")
    assert_valid_as_built(fig)
    z = np.asarray(fig.data[0].z)
    assert np.allclose(z[:, :2], filters[0] / 2.0) and np.allclose(z[:, 3:], 0.0)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1.0, 1.0)


def test_tiles_learning_curves_attacks_and_probabilities_draw_what_they_are_given():
    rng = np.random.default_rng(1)
    fig = figures.tiles([rng.random((4, 4)), rng.normal(size=(4, 4))], ["a", "b"], "t", ["grey", "signed"])
    assert_valid_as_built(fig)
    assert fig.data[1].zmin == -fig.data[1].zmax == -np.abs(fig.data[1].z).max()
    steps = np.arange(0, 100, 10)
    history = {"test_accuracy": (steps, steps / 100), "mlp_test_accuracy": (steps, steps / 200),
               "test_loss": (steps, 1 / (1 + steps)), "mlp_test_loss": (steps, 2 / (1 + steps))}
    fig = figures.learning_curves(history)
    assert_valid_as_built(fig)
    assert [(t.name, t.yaxis) for t in fig.data] == [("CNN", "y"), ("MLP", "y"), ("CNN", "y2"), ("MLP", "y2")]
    assert np.allclose(fig.data[1].y, steps / 200) and not fig.layout.annotations
    empty = figures.learning_curves({key: (np.array([0]), np.array([0.5])) for key in history})  # step 0 only
    assert_valid_as_built(empty)
    assert "Press Train" in empty.layout.annotations[0].text and empty.layout.xaxis2.showticklabels is False
    grid = np.array([0.0, 1.0, 2.0])
    fig = figures.attack_curves(grid, (("CNN", np.array([1.0, 0.6, 0.2])), ("MLP", np.array([1.0, 0.5, 0.1]))),
                                "fgsm", 1.0, 300)
    assert_valid_as_built(fig)
    assert "FGSM" in fig.layout.title.text and fig.layout.shapes[0].x0 == 1.0
    fig = figures.probability_bars(["0", "1"], {"CNN": np.array([0.2, 0.8])}, "p")
    assert_valid_as_built(fig)
    assert list(fig.data[0].y) == [np.float32(0.2), np.float32(0.8)]
