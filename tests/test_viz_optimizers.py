"""Trajectory figures: what they draw is checked against the trajectories and geometry by hand."""

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from engine.optimizers.race import run_optimizers
from engine.optimizers.surfaces import FIXED_SURFACES, quadratic
from engine.optimizers.table import RACE_OPTIMIZERS, OptimizerSpec
from engine.optimizers.theory import EigenDirection
from viz import optimizers as vt
from tests.conftest import assert_valid_as_built, plotted
from viz.theme import optimizer_color

QUAD = quadratic(10.0, 0.0)


def runs(surface, kinds, steps=60, **overrides):
    specs = [OptimizerSpec.of(k, **{**RACE_OPTIMIZERS[k].default_hyperparameters(surface), **overrides.get(k, {})})
             for k in kinds]
    return run_optimizers(surface, specs, surface.start, steps)


def traces_named(fig, name):
    return [t for t in fig.data if t.name == name]


def test_view_exit_by_hand():
    box = ((-1.0, 1.0), (-1.0, 1.0))
    # from the origin straight right to x=4: leaves through x=1, at step 1
    point, step = vt.view_exit(np.array([[0.0, 0.0], [4.0, 0.0]]), *box)
    assert point == pytest.approx([1.0, 0.0]) and step == 1
    # from (0.5, 0.5) to (2, 3.5): y reaches 1 first, at t = 0.5/3, so x = 0.5 + 1.5/6 = 0.75
    point, step = vt.view_exit(np.array([[0.0, 0.0], [0.5, 0.5], [2.0, 3.5], [9.0, 9.0]]), *box)
    assert point == pytest.approx([0.75, 1.0]) and step == 2
    # a path that leaves and comes back is not an exit
    assert vt.view_exit(np.array([[0.0, 0.0], [3.0, 0.0], [0.2, 0.1]]), *box) is None


def test_contour_draws_every_path_in_its_colour_with_start_and_minimum():
    trajs = runs(QUAD, ["gd", "adam", "newton"])
    fig = vt.trajectory_contour(QUAD, trajs, QUAD.start)
    (background,) = fig.layout.images
    assert (background.x, background.y, background.sizex, background.sizey) == (-3.0, 3.0, 6.0, 6.0)
    assert (background.xref, background.yref, background.layer) == ("x", "y", "below")
    assert not any(isinstance(t, (go.Contour, go.Heatmap)) for t in fig.data)  # they vanish when animating
    for traj in trajs:
        (path,) = traces_named(fig, traj.label)
        assert path.line.color == optimizer_color(traj.kind)
        drawn = np.column_stack([path.x, path.y])
        assert drawn[0] == pytest.approx(traj.points[0]) and drawn[-1] == pytest.approx(traj.points[-1])
        assert_dots_apart(drawn, traj.points, path.customdata)
    assert traces_named(fig, "start")[0].x == (QUAD.start[0],)
    assert (traces_named(fig, "minimum")[0].x, traces_named(fig, "minimum")[0].y) == ((0.0,), (0.0,))
    assert fig.layout.xaxis.range == QUAD.x_range and fig.layout.yaxis.scaleanchor == "x"


def assert_dots_apart(drawn, points, customdata, gap=vt.MIN_DOT_GAP, span=(6.0, 6.0)):
    """Brute force: the dots drawn are steps of the path, in order, each labelled with its step; every step left
    out lies within `gap` of the view of the dot drawn before it, and each dot drawn is at least `gap` from the
    one before it (the last, the path's end, excepted)."""
    steps = np.asarray(customdata)[:, 0].astype(int)
    assert (np.diff(steps) > 0).all() and np.allclose(drawn, points[steps])
    scaled = points / np.asarray(span)
    for before, after in zip(steps[:-1], steps[1:]):
        assert np.hypot(*(scaled[after] - scaled[before])) >= gap or after == len(points) - 1
        for left_out in range(before + 1, after):
            assert np.hypot(*(scaled[left_out] - scaled[before])) < gap


def test_a_path_leaves_out_the_dots_that_would_fall_on_the_one_before():
    # Newton lands on the minimum of a quadratic in one step and stays: 61 steps, 3 dots (start, landing, end)
    trajs = runs(QUAD, ["gd", "newton"])
    fig = vt.trajectory_contour(QUAD, trajs, QUAD.start)
    for traj in trajs:
        (path,) = traces_named(fig, traj.label)
        assert_dots_apart(np.column_stack([path.x, path.y]), traj.points, path.customdata)
    (newton,) = traces_named(fig, "Newton")
    assert len(newton.x) == 3
    assert 10 < len(traces_named(fig, "GD")[0].x) < 61


def decode_png(uri):
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_contour_image_fills_equal_bands_and_draws_a_line_where_the_band_changes():
    # z rises along x only, from 0 to 1 over 40 columns: 4 bands of 10 columns each
    z = np.tile(np.linspace(0, 1, 40, endpoint=False), (6, 1))
    assert vt.contour_bands(z, 4)[0].tolist() == [0] * 10 + [1] * 10 + [2] * 10 + [3] * 10
    pixels = decode_png(vt.contour_image(z, levels=4)).astype(int)
    assert pixels.shape == (6, 40, 3)
    row = pixels[0]
    for band in range(4):
        inside = row[band * 10 + 1:band * 10 + 10]
        assert (inside == inside[0]).all()  # one flat colour inside a band
    assert (row[5] > row[15]).all() and (row[15] > row[25]).all()  # higher f: darker grey
    for column in (10, 20, 30):
        assert row[column].sum() < row[column + 1].sum()  # the level line is darker than the band
    # image rows run from the top of the plot (largest y) down
    z_y = np.repeat(np.linspace(0, 1, 20, endpoint=False)[:, None], 3, axis=1)
    img = decode_png(vt.contour_image(z_y, levels=2)).astype(int)
    assert img[0].sum() < img[-1].sum()  # top row: largest z: darkest


def test_click_grid_covers_the_plot_so_a_click_anywhere_selects_a_point():
    fig = vt.trajectory_contour(QUAD, runs(QUAD, ["gd"]), QUAD.start, click_grid=41)
    (grid,) = [t for t in fig.data if t.name == "click to start here"]
    assert len(grid.x) == 41 * 41 and grid.marker.opacity == 0
    assert (min(grid.x), max(grid.x), min(grid.y), max(grid.y)) == (*QUAD.x_range, *QUAD.y_range)
    spacing = (QUAD.x_range[1] - QUAD.x_range[0]) / 40
    assert spacing <= 0.15  # a click lands at most ~0.1 from a grid point


def test_animation_frames_grow_each_path_up_to_the_frame_step():
    trajs = runs(QUAD, ["gd", "momentum"], steps=300)
    fig = vt.trajectory_contour(QUAD, trajs, QUAD.start)
    assert 2 <= len(fig.frames) <= vt.MAX_FRAMES + 1
    assert [s.label for s in fig.layout.sliders[0].steps] == [f.name for f in fig.frames]
    for frame in (fig.frames[0], fig.frames[len(fig.frames) // 2], fig.frames[-1]):
        k = int(frame.name)
        paths, heads = frame.data[:2], frame.data[2:]
        for traj, path, head in zip(trajs, paths, heads):
            assert (plotted(head.x)[0], plotted(head.y)[0]) == pytest.approx(tuple(traj.points[k]), rel=1e-6)
            drawn = np.column_stack([plotted(path.x), plotted(path.y)])
            assert len(drawn) >= 1 and drawn[-1] == pytest.approx(traj.points[k], rel=1e-5, abs=0.1)
            assert len(drawn) <= vt.MAX_FRAME_POINTS + 1
    assert int(fig.frames[-1].name) == 300


def test_a_race_of_many_optimizers_gets_fewer_frames_to_keep_the_figure_light():
    every = runs(QUAD, list(RACE_OPTIMIZERS), steps=300)
    fig = vt.trajectory_contour(QUAD, every, QUAD.start)
    assert 10 <= len(fig.frames) - 1 <= vt.FRAME_TRACE_BUDGET // (2 * len(every))
    assert sum(len(frame.data) for frame in fig.frames) <= vt.FRAME_TRACE_BUDGET + 2 * len(every)
    assert int(fig.frames[-1].name) == 300  # still from the start to the end of the race


def test_a_diverging_run_is_cut_at_the_plot_edge_and_marked_with_the_step_it_left():
    trajs = runs(QUAD, ["gd", "adam"], gd={"lr": 2.3})  # 2.3 > 2/λmax = 2: GD diverges
    gd = trajs[0]
    assert gd.diverged_at is not None
    fig = vt.trajectory_contour(QUAD, trajs, QUAD.start)
    # independently: the first step after which every point is outside [-3, 3]²
    outside = np.any(np.abs(gd.points) > 3.0, axis=1)
    left = next(i for i in range(len(outside)) if outside[i:].all())
    assert gd.left_region_at == left and gd.divergence == f"left the region at step {left}"
    (marker,) = [t for t in fig.data if t.name == f"GD: {gd.divergence}"]
    assert marker.text == (gd.divergence,)  # the words the summary table shows
    px, py = marker.x[0], marker.y[0]
    assert max(abs(px), abs(py)) == pytest.approx(3.0)  # on the edge of the view
    (path,) = traces_named(fig, "GD ✕")
    assert (path.x[-1], path.y[-1]) == pytest.approx((px, py))
    assert np.all(np.abs(np.array(path.x)) <= 3.0 + 1e-9) and len(path.x) == left + 1
    assert traces_named(fig, "Adam")  # the converging run is drawn as usual


@pytest.mark.parametrize("angle, start, side", [
    (0.0, (-2.6, 1.6), "bottom"), (0.0, (-2.6, -1.6), "top"), (90.0, (1.6, 2.6), "left"), (90.0, (-1.6, 2.6), "right"),
])
def test_the_label_of_a_diverged_run_lies_inside_the_view_away_from_the_edge_it_left_by(angle, start, side):
    # GD with η = 2.3 > 2/λmax flips and grows along the stiff direction: y at 0°, x at 90°
    surface = quadratic(10.0, angle)
    (gd,) = run_optimizers(surface, [OptimizerSpec.of("gd", lr=2.3)], start, 150)
    fig = vt.trajectory_contour(surface, [gd], start)
    (marker,) = traces_named(fig, f"GD: {gd.divergence}")
    (lo_x, hi_x), (lo_y, hi_y) = surface.x_range, surface.y_range
    x, y = marker.x[0], marker.y[0]
    on = {"bottom": y == pytest.approx(lo_y), "top": y == pytest.approx(hi_y),
          "left": x == pytest.approx(lo_x), "right": x == pytest.approx(hi_x)}
    assert on[side] and sum(on.values()) == 1
    assert lo_x <= x <= hi_x and lo_y <= y <= hi_y  # exactly: plotly.js hides a point a rounding error outside
    # the text grows into the plot: above a bottom-edge mark (clear of the x tick labels), below a top-edge one
    # (clear of the legend), right of a left-edge one (clear of the y tick labels), left of a right-edge one
    vertical, horizontal = marker.textposition.split()
    inward = {"bottom": vertical == "top", "top": vertical == "bottom", "left": horizontal == "right",
              "right": horizontal == "left"}
    assert inward[side]
    assert vertical == ("top" if y < 0 else "bottom") and horizontal == ("right" if x < 0 else "left")


def test_loss_and_distance_curves():
    trajs = runs(QUAD, ["gd", "newton"], steps=40)
    fig = vt.loss_and_distance(QUAD, trajs)
    gd_loss, gd_dist = [t for t in fig.data if t.name == "GD"]
    assert np.allclose(gd_loss.y, np.maximum(trajs[0].losses, vt.LOG_FLOOR))
    assert np.allclose(gd_dist.y, np.linalg.norm(trajs[0].points, axis=1).clip(vt.LOG_FLOOR))
    newton_dist = [t for t in fig.data if t.name == "Newton"][1]
    assert newton_dist.y[1] == vt.LOG_FLOOR  # exactly at the minimum after one step, drawn at the floor
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis2.dtick == 2  # 17 decades down to the floor: a label every other decade

    # a run that diverges within a few steps spans one decade: every tick written out, each saying its value
    (short,) = runs(QUAD, ["gd"], gd={"lr": 2.5})
    axis = vt.loss_and_distance(QUAD, [short]).layout.yaxis
    assert axis.type == "log" and axis.tickmode == "array"
    assert [float(text) for text in axis.ticktext] == pytest.approx(list(axis.tickvals))
    lo, hi = short.losses.min(), short.losses.max()
    assert len(axis.tickvals) >= 2 and all(lo / 1.5 <= t <= hi * 1.5 for t in axis.tickvals)

    saddle = FIXED_SURFACES["saddle"]
    fig = vt.loss_and_distance(saddle, runs(saddle, ["gd"], steps=100))
    assert fig.layout.yaxis.type != "log"  # f is unbounded below: plotted as is
    assert any(t.marker.symbol == "x" for t in fig.data if t.mode == "markers")  # the run left: marked


def test_regime_chart_bands_sit_at_one_and_two_over_lambda():
    directions = [EigenDirection(2.0, (0.0, 1.0)), EigenDirection(0.1, (1.0, 0.0))]
    fig = vt.regime_chart(directions, {"GD": ("gd", 0.7)})
    bands = {(t.y[0].split("<br>")[0], t.name): (10 ** t.base[0], 10 ** (t.base[0] + t.x[0])) for t in fig.data}
    assert bands[("direction 1", "monotone")][1] == pytest.approx(0.5)
    assert bands[("direction 1", "oscillating")] == pytest.approx((0.5, 1.0))
    assert bands[("direction 2", "oscillating")] == pytest.approx((10.0, 20.0))
    assert bands[("direction 2", "diverging")][0] == pytest.approx(20.0)
    assert any(math.isclose(shape.x0, math.log10(0.7)) for shape in fig.layout.shapes)


def test_surface_3d_lifts_each_path_onto_the_surface():
    rosen = FIXED_SURFACES["rosenbrock"]
    trajs = runs(rosen, ["adam"], steps=30)
    fig = vt.trajectory_surface_3d(rosen, trajs, rosen.start)
    assert isinstance(fig.data[0], go.Surface)
    (path,) = traces_named(fig, "Adam")
    expected = np.log10(trajs[0].losses + 1e-3)  # Rosenbrock is drawn as log10(f - 0 + 1e-3)
    assert np.allclose(np.array(path.z) - expected, path.z[0] - expected[0])  # a constant lift above


def test_all_optimizers_for_500_steps_stay_a_light_page():
    trajs = runs(QUAD, list(RACE_OPTIMIZERS), steps=500)
    size = len(vt.trajectory_contour(QUAD, trajs, QUAD.start).to_json())
    assert size < 3_000_000


@pytest.mark.parametrize("surface", [QUAD, FIXED_SURFACES["saddle"], FIXED_SURFACES["rosenbrock"]],
                         ids=lambda s: s.key)
def test_figures_built_from_dicts_are_what_plotlys_validation_makes_of_them(surface):
    trajs = runs(surface, ["gd", "momentum", "adam", "newton"], steps=80)
    for fig in (vt.trajectory_contour(surface, trajs, surface.start), vt.loss_and_distance(surface, trajs)):
        assert_valid_as_built(fig)
