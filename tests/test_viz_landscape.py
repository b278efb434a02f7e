"""Landscape figures on small inputs whose right drawing is known."""

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.landscape.views import LandscapeView, PathOnPlane
from tests.conftest import assert_valid_as_built
from viz import landscape as figures
from viz.theme import TEST_COLOR, TRAIN_COLOR


def bowl(alphas, betas):
    """Loss rising with distance from the centre, steeper along β (rows)."""
    return 0.1 + alphas[None, :] ** 2 + 4 * betas[:, None] ** 2


def traces(fig, kind):
    return [t for t in fig.data if isinstance(t, kind)]


def test_contour_keeps_the_grid_orientation_and_marks_the_current_weights():
    alphas, betas = np.linspace(-1, 1, 7), np.linspace(-0.5, 0.5, 3)  # non-square
    surface = bowl(alphas, betas)
    fig = figures.loss_contour(alphas, betas, surface, axis_titles=("a", "b"))
    contour = traces(fig, go.Contour)[0]
    np.testing.assert_array_equal(contour.x, alphas)
    np.testing.assert_array_equal(contour.y, betas)
    np.testing.assert_array_equal(np.asarray(contour.z), surface)
    assert np.asarray(contour.z).shape == (3, 7)
    star = next(t for t in fig.data if t.name == "current weights")
    assert (star.x, star.y) == ((0.0,), (0.0,))
    assert tuple(fig.layout.xaxis.range) == (-1, 1) and tuple(fig.layout.yaxis.range) == (-0.5, 0.5)
    assert fig.layout.xaxis.title.text == "a" and fig.layout.template.layout.font.size


def test_log_scale_colours_by_log10_and_labels_in_loss_units():
    alphas = betas = np.linspace(-1, 1, 5)
    surface = 10.0 ** (alphas[None, :] + betas[:, None])  # 0.01 .. 100
    contour = traces(figures.loss_contour(alphas, betas, surface, log_scale=True), go.Contour)[0]
    np.testing.assert_allclose(np.asarray(contour.z), np.log10(surface))
    ticks, labels = contour.colorbar.tickvals, contour.colorbar.ticktext
    assert len(ticks) >= 4
    np.testing.assert_allclose(ticks, np.log10([float(label) for label in labels]))
    assert min(ticks) >= -2 - 1e-9 and max(ticks) <= 2 + 1e-9
    assert {"0.01", "1", "100"} <= set(labels)


def test_contour_draws_the_projected_path_from_its_start():
    alphas = betas = np.linspace(-2, 2, 5)
    coordinates = np.array([[-1.5, -1.0], [-1.0, -0.2], [-0.3, 0.1], [0.0, 0.0]])
    steps = np.array([0, 10, 20, 30])
    fig = figures.loss_contour(alphas, betas, bowl(alphas, betas), path_coordinates=coordinates, path_steps=steps)
    path = next(t for t in fig.data if t.name == "training path (projected)")
    np.testing.assert_array_equal(path.x, coordinates[:, 0])
    np.testing.assert_array_equal(path.y, coordinates[:, 1])
    np.testing.assert_array_equal(path.customdata, steps)
    start = next(t for t in fig.data if t.name == "step 0")
    assert (start.x[0], start.y[0]) == (-1.5, -1.0)


def test_long_paths_are_thinned_but_keep_both_ends():
    steps = np.arange(6000)
    coordinates = np.c_[np.linspace(-1, 0, 6000), np.zeros(6000)]
    alphas = betas = np.linspace(-1, 1, 3)
    path = figures.loss_contour(alphas, betas, bowl(alphas, betas), path_coordinates=coordinates,
                                path_steps=steps).data[1]
    assert len(path.x) <= 2000 and path.customdata[0] == 0 and path.customdata[-1] == 5999


def test_surface_3d_heights_path_and_log_axis():
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-1, 1, 3)
    surface = bowl(alphas, betas)
    coordinates, steps, on_plane = np.array([[-1.0, 0.5], [0.0, 0.0]]), np.array([0, 9]), np.array([2.0, 0.1])
    fig = figures.loss_surface_3d(alphas, betas, surface, log_scale=True, path_coordinates=coordinates,
                                  path_steps=steps, path_loss=on_plane)
    heights = traces(fig, go.Surface)[0]
    np.testing.assert_array_equal(np.asarray(heights.z), surface)
    np.testing.assert_allclose(np.asarray(heights.surfacecolor), np.log10(surface))
    assert fig.layout.scene.zaxis.type == "log"
    path = next(t for t in fig.data if t.name == "training path (on plane)")
    np.testing.assert_array_equal(path.z, on_plane)
    current = next(t for t in fig.data if t.name == "current weights")
    assert current.z[0] == surface[1, 2]  # the centre of the grid


def test_curve_has_train_and_test_in_their_colours_and_labelled_points():
    alphas = np.linspace(-0.5, 1.5, 9)
    losses = {"train": (alphas - 1) ** 2, "test": (alphas - 0.9) ** 2 + 0.1}
    fig = figures.loss_curve(alphas, losses, marks={"initial": 0.0, "current": 1.0})
    lines = {t.name: t for t in traces(fig, go.Scatter)}
    assert lines["train loss"].line.color == TRAIN_COLOR and lines["test loss"].line.color == TEST_COLOR
    np.testing.assert_array_equal(lines["test loss"].y, losses["test"])
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [0.0, 1.0]
    assert {a.text for a in fig.layout.annotations} == {"initial", "current"}
    assert figures.loss_curve(alphas, losses, log_scale=True).layout.yaxis.type == "log"


def test_path_comparison_shows_both_losses_and_the_distance():
    steps = np.arange(0, 50, 5)
    true_loss, plane_loss, off = np.linspace(1, 0.2, 10), np.linspace(1.1, 0.2, 10), np.linspace(0.3, 0, 10)
    fig = figures.path_loss_comparison(steps, true_loss, plane_loss, off)
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_array_equal(by_name["true loss at the recorded weights"].y, true_loss)
    np.testing.assert_array_equal(by_name["surface value at the projected point"].y, plane_loss)
    np.testing.assert_array_equal(by_name["distance from the plane"].y, off)
    assert by_name["distance from the plane"].yaxis == "y2"


def test_hessian_spectrum_bars_and_the_stable_step_range():
    eigenvalues = np.array([4.0, 1.5, -0.5])
    fig = figures.hessian_spectrum(eigenvalues, learning_rate=0.1, stable_step=0.5)
    bars = traces(fig, go.Bar)[0]
    np.testing.assert_array_equal(bars.y, eigenvalues)
    assert bars.marker.color[2] != bars.marker.color[0]  # a negative eigenvalue stands out
    markers = {t.name: t.x[0] for t in traces(fig, go.Scatter)}
    assert markers == {"learning rate η": 0.1, "2/λmax": 0.5}
    stable, unstable = fig.layout.shapes
    assert stable.x1 == 0.5 and unstable.x0 == 0.5  # green up to 2/λmax, orange beyond
    assert fig.layout.xaxis2.type == "log"
    assert np.log10(0.1) > fig.layout.xaxis2.range[0] and np.log10(0.5) < fig.layout.xaxis2.range[1]
    no_bound = figures.hessian_spectrum(eigenvalues, learning_rate=0.1, stable_step=None)
    assert not no_bound.layout.shapes


@pytest.mark.parametrize("kind, trace", [("contour", go.Contour), ("surface", go.Surface)])
def test_landscape_figure_picks_the_view(kind, trace):
    alphas = betas = np.linspace(-1, 1, 3)
    path = PathOnPlane(np.array([0, 1]), np.array([[-1.0, 0.0], [0.0, 0.0]]), {"test": np.array([1.0, 0.5])},
                       {"test": np.array([1.1, 0.5])}, np.array([0.1, 0.0]))
    view = LandscapeView(alphas, betas, {"test": bowl(alphas, betas)}, ("PC1", "PC2"), {"current": 0.0}, path)
    fig = figures.landscape_figure(view, kind, "test")
    assert traces(fig, trace)
    line = LandscapeView(alphas, None, {"train": alphas**2, "test": alphas**2 + 1}, ("α", "loss"), {"current": 0.0})
    assert len(traces(figures.landscape_figure(line, kind, "test"), go.Scatter)) == 2


GRID = np.linspace(-1, 1, 5)
PATH = (np.array([[-1.0, 0.5], [-0.4, 0.2], [0.0, 0.0]]), np.array([0, 5, 10]))
DIVERGED = np.where(bowl(GRID, GRID) > 2, np.inf, np.nan)  # nothing finite to colour
BUILT_FROM_DICTS = {
    "contour with path": lambda: figures.loss_contour(GRID, GRID, bowl(GRID, GRID), False, *PATH),
    "contour, log": lambda: figures.loss_contour(GRID, GRID, bowl(GRID, GRID), True),
    "contour, diverged": lambda: figures.loss_contour(GRID, GRID, DIVERGED, True),
    "surface with path, log": lambda: figures.loss_surface_3d(GRID, GRID, bowl(GRID, GRID), True, *PATH,
                                                              np.array([2.0, 1.0, 0.1])),
    "surface": lambda: figures.loss_surface_3d(GRID, GRID, bowl(GRID, GRID)),
    "curve with marks, log": lambda: figures.loss_curve(GRID, {"train": GRID**2, "test": GRID**2 + 1}, True,
                                                        {"initial": 0.0, "current": 1.0}),
    "curve": lambda: figures.loss_curve(GRID, {"test": GRID**2}),
    "path comparison": lambda: figures.path_loss_comparison(np.arange(3), np.ones(3), np.ones(3), np.zeros(3)),
    "path comparison, log": lambda: figures.path_loss_comparison(np.arange(3), np.ones(3), np.ones(3),
                                                                 np.zeros(3), True),
    "spectrum": lambda: figures.hessian_spectrum(np.array([4.0, 1.5, -0.5]), 0.1, 0.5),
    "spectrum, no stable step": lambda: figures.hessian_spectrum(np.array([4.0]), 0.1, None),
    "spectrum, no step sizes": lambda: figures.hessian_spectrum(np.array([4.0, 1.0]), None, None),
}


@pytest.mark.parametrize("name", BUILT_FROM_DICTS)
def test_figures_built_from_dicts_are_what_plotlys_validation_makes_of_them(name):
    assert_valid_as_built(BUILT_FROM_DICTS[name]())
