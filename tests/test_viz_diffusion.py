"""Figures of the Diffusion page: what each trace holds, checked against the arrays it was given."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from engine.diffusion.noise_schedule import make_schedule
from tests.conftest import assert_valid_as_built, plotted
from viz import diffusion as figures
from viz.raster import hex_rgb


def trace(fig, name_part: str):
    return next(t for t in fig.data if t.name and name_part in t.name)


def test_schedule_curves_show_beta_alpha_bar_and_snr():
    schedule = make_schedule("cosine", 50)
    betas, alpha_bars = schedule.betas.numpy(), schedule.alpha_bars.numpy()
    fig = figures.schedule_curves(betas, alpha_bars, "cosine", t=10)
    assert np.allclose(trace(fig, "β_t").y, betas[1:])
    assert np.allclose(trace(fig, "ᾱ_t").y, alpha_bars[1:])
    assert np.allclose(trace(fig, "√ᾱ_t").y, np.sqrt(alpha_bars[1:]))
    snr = trace(fig, "SNR")
    assert np.allclose(snr.y[:10], alpha_bars[1:11] / (1 - alpha_bars[1:11]))
    assert list(trace(fig, "β_t").x) == list(range(1, 51))
    assert fig.layout.yaxis3.type == "log"
    assert "ᾱ<sub>T</sub>" in fig.layout.title.text


def cloud_picture(fig, index: int = 0) -> np.ndarray:
    """The layout image's RGBA pixels (the point clouds, drawn on the server: viz.raster)."""
    source = fig.layout.images[index].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGBA")).astype(int)


def pixel_of(points: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels under points of the −3.5..3.5 square."""
    height, width = pixels.shape[:2]
    return ((figures.EXTENT - points[:, 1]) / (2 * figures.EXTENT) * height).astype(int), \
        ((points[:, 0] + figures.EXTENT) / (2 * figures.EXTENT) * width).astype(int)


def test_forward_points_draw_x_t_over_the_data_and_the_prior_rings():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(300, 2)) * 0.3 - 1.5  # apart: x_0 lower left, x_t upper right
    x_t = rng.normal(size=(300, 2)) * 0.3 + 1.5
    fig = figures.forward_points(x_t, x0, 40, 0.25)
    assert_valid_as_built(fig)
    pixels = cloud_picture(fig)
    image = fig.layout.images[0]
    assert (image.x, image.y, image.sizex, image.sizey, image.layer) == (-3.5, 3.5, 7.0, 7.0, "below")
    for points, color, name in ((x_t, figures.OKABE_ITO[0], "x<sub>t</sub>"),
                                (x0, figures.DATA_COLOR, "x<sub>0</sub>")):
        under = pixels[pixel_of(points, pixels)]
        assert (under[:, 3] > 0).all() and np.abs(under[:, :3] - hex_rgb(color)).max() <= 40  # each point, its colour
        assert trace(fig, name).marker.color == color  # and its line in the legend
    ring = trace(fig, "N(0, I)")
    assert np.allclose(np.hypot(ring.x, ring.y), 1.0)
    assert "√ᾱ = 0.500" in fig.layout.title.text
    assert tuple(fig.layout.xaxis.range) == (-3.5, 3.5) and fig.layout.yaxis.scaleanchor == "x"


def test_a_long_schedule_is_drawn_with_fewer_points_on_the_same_curves():
    schedule = make_schedule("linear", 2000)
    betas, alpha_bars = schedule.betas.numpy(), schedule.alpha_bars.numpy()
    fig = figures.schedule_curves(betas, alpha_bars, "linear", t=700)
    assert_valid_as_built(fig)  # plain dicts, as Plotly's validation makes them
    beta = trace(fig, "β_t")
    t = np.asarray(beta.x)
    assert len(t) <= figures.SCHEDULE_POINTS and t[0] == 1 and t[-1] == 2000
    assert np.allclose(beta.y, betas[t]) and np.allclose(trace(fig, "ᾱ_t").y, alpha_bars[t])
    assert [shape.x0 for shape in fig.layout.shapes] == [700] * 3  # t marked on every panel


def test_point_clouds_are_one_picture_of_points_of_the_data():
    """No point is an SVG marker (~0.15 s of the browser's time per 1,000 at every redraw) nor WebGL (a new
    context at every redraw): the clouds are one picture, and a big set is thinned to CLOUD_POINTS of its own
    points, spread over the whole set; the samples tab keeps all its samples."""
    rng = np.random.default_rng(1)
    x0, x_t = rng.normal(size=(8000, 2)), rng.normal(size=(8000, 2))
    forward = figures.forward_points(x_t, x0, 40, 0.25)
    samples = figures.samples_vs_data(rng.normal(size=(2000, 2)), x0, "ddim", "2,000 samples")
    for fig in (forward, samples):
        assert_valid_as_built(fig)
        assert len(fig.layout.images) == 1
        assert all(t.type == "scatter" and (t.mode == "lines" or list(t.x) == [None]) for t in fig.data)
    shown = figures._cloud(x0, "x0", 3.5, "#000000", 0.5).points
    assert len(shown) == figures.CLOUD_POINTS
    kept = {tuple(p) for p in x0.astype(np.float32)}
    assert all(tuple(p) in kept for p in shown)
    assert tuple(shown[0]) == tuple(x0[0].astype(np.float32)) and tuple(shown[-1]) == tuple(x0[-1].astype(np.float32))
    assert len(figures._cloud(x0, "samples", 3.5, "#000000", 0.5, limit=None).points) == 8000


def test_field_arrows_point_along_minus_eps_and_the_longest_fills_09_cells():
    xs, ys = np.linspace(-1, 1, 3), np.linspace(-2, 2, 3)
    eps = np.zeros((3, 3, 2))
    eps[0, 0] = [2.0, 0.0]  # at (xs[0], ys[0]) = (-1, -2): the arrow points to −x
    eps[2, 1] = [0.0, -1.0]  # at (xs[1], ys[2]) = (0, 2): half as long, pointing to +y
    x, y = figures.field_arrows(xs, ys, eps)
    segments = np.stack([x, y], axis=1).reshape(9, 7, 2)  # start, tip, gap, barb, tip, barb, gap per arrow
    cell = xs[1] - xs[0]
    first, middle = segments[0], segments[7]
    assert np.allclose(first[0], [-1, -2]) and np.allclose(first[1], [-1 - 0.9 * cell, -2])
    assert np.allclose(middle[0], [0, 2]) and np.allclose(middle[1], [0, 2 + 0.45 * cell])
    assert np.isnan(first[2]).all() and np.isnan(first[6]).all()
    assert np.allclose(first[4], first[1])  # the head sits on the tip
    # Barbs lie behind the tip, symmetric about the shaft.
    assert first[3][0] > first[1][0] and first[5][0] > first[1][0]
    assert first[3][0] == pytest.approx(first[5][0]) and first[3][1] + first[5][1] == pytest.approx(2 * -2)
    assert first[3][1] != pytest.approx(-2)
    assert np.isnan(figures.field_arrows(xs, ys, np.zeros((3, 3, 2)))[0]).all()  # t = 0: no field


def test_reverse_animation_frames_hold_each_samplers_points_and_growing_paths():
    rng = np.random.default_rng(1)
    frame_t = [20, 15, 10, 5, 0]
    ddpm, ddim = rng.normal(size=(5, 30, 2)), rng.normal(size=(5, 30, 2))
    ddim[0] = ddpm[0]
    xs = ys = np.linspace(-3, 3, 4)
    eps = rng.normal(size=(5, 4, 4, 2))
    fig = figures.reverse_animation(frame_t, ddpm, ddim, 4, xs, ys, eps, data=rng.normal(size=(50, 2)), paths=3)
    assert [f.name for f in fig.frames] == ["20", "15", "10", "5", "0"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["20", "15", "10", "5", "0"]
    per_panel = 1 + 1 + 3  # field, points, paths
    for index, frame in enumerate(fig.frames):  # (frames hold typed arrays)
        ddpm_points, ddim_points = frame.data[1], frame.data[1 + per_panel]
        assert np.allclose(plotted(ddpm_points.x), ddpm[index, :, 0])
        assert np.allclose(plotted(ddim_points.y), ddim[index, :, 1])
        path_x = plotted(frame.data[2].x)  # the first point's DDPM path so far
        kept = ~np.isnan(path_x)
        assert kept.sum() == index + 1 and np.allclose(path_x[kept], ddpm[: index + 1, 0, 0])
        arrows_x, _ = figures.field_arrows(xs, ys, eps[index])
        assert np.allclose(plotted(frame.data[0].x), arrows_x, equal_nan=True)
        assert list(frame.traces) == list(range(1, 1 + 2 * per_panel))  # after the data's legend entry
    # Before any frame is played the figure shows the last one: the samples.
    assert np.allclose(plotted(fig.data[2].x), ddpm[-1, :, 0])
    # The data is one picture behind both panels
    assert [(image.xref, image.yref) for image in fig.layout.images] == [("x", "y"), ("x2", "y2")]
    assert fig.layout.images[0].source == fig.layout.images[1].source
    assert "DDPM: 20" in fig.layout.annotations[0].text and "DDIM: 4" in fig.layout.annotations[1].text


def test_digit_mosaic_places_each_image_with_a_gap():
    images = np.arange(2 * 3 * 64, dtype=np.float32).reshape(2, 3, 8, 8) / (2 * 3 * 64)
    fig = figures.digit_mosaic(images, column_labels=["a", "b", "c"])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 9 - 1, 3 * 9 - 1)
    assert np.allclose(z[9:17, 18:26], images[1, 2])
    assert np.isnan(z[8]).all() and np.isnan(z[:, 17]).all()
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c"]
    assert_valid_as_built(fig)
    strip = figures.denoising_strip(images.transpose(1, 0, 2, 3), [9, 4, 0], "strip")  # (k=3, n=2)
    assert np.allclose(np.asarray(strip.data[0].z, dtype=float), z, equal_nan=True)
    grid = figures.digit_grid(images.reshape(6, 8, 8), "grid", columns=4)
    assert np.asarray(grid.data[0].z).shape == (2 * 9 - 1, 4 * 9 - 1)


def test_quality_curves_clip_to_the_log_floor_but_hover_the_true_value():
    steps = np.array([100, 200, 300])
    history = {"mmd_norm": (steps, np.array([40.0, 0.02, -0.004])), "energy_norm": (steps, np.array([1.1, 0.05, 0.01]))}
    fig = figures.quality_curves(history)
    mmd = trace(fig, "MMD²")
    assert list(mmd.y) == [figures.HIGHEST_SCORE, 0.02, figures.LOWEST_SCORE]
    assert list(mmd.customdata) == [40.0, 0.02, -0.004]
    assert fig.layout.yaxis.type == "log"
    target = next(a for a in fig.layout.annotations if "target" in a.text)
    assert target.y == pytest.approx(np.log10(figures.QUALITY_TARGET))  # a log axis places labels at log10(y)
    assert any(shape.y0 == figures.QUALITY_TARGET for shape in fig.layout.shapes)


def test_loss_curve_smooths_with_a_running_mean():
    steps = np.arange(1, 1001)
    loss = 1.0 + np.sin(steps / 7.0) ** 2
    fig = figures.loss_curve(steps, loss)
    smooth = trace(fig, "mean of 10")
    expected = [loss[i - 9:i + 1].mean() for i in range(9, 1000)]
    assert np.allclose(smooth.y, expected) and smooth.x[0] == 10
    assert_valid_as_built(fig)
    empty = figures.loss_curve(np.empty(0), np.empty(0))
    assert len(empty.data) == 0
    assert_valid_as_built(empty)


def test_judge_curve_and_class_shares():
    fig = figures.judge_curve(np.array([10, 20]), np.array([0.4, 0.7]), real=0.9)
    assert list(fig.data[0].y) == [0.4, 0.7] and fig.layout.shapes[0].y0 == 0.9
    shares = np.full(10, 0.1)
    bars = figures.judge_class_shares(shares)
    assert list(bars.data[0].x) == [str(d) for d in range(10)] and np.allclose(bars.data[0].y, shares)


def test_samples_outside_the_view_are_counted_on_the_plot():
    data = np.zeros((100, 2))
    samples = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, -250.0], [3.4, -3.4]])
    fig = figures.samples_vs_data(samples, data, "ddim", "samples")
    pixels = cloud_picture(fig)
    shown = pixels[pixel_of(samples[[3]], pixels)]  # the one inside the view but away from the data, drawn
    assert shown[0, 3] > 0 and np.abs(shown[0, :3] - hex_rgb(figures.SAMPLER_COLORS["ddim"])).max() <= 40
    (note,) = fig.layout.annotations
    assert note.text.startswith("2 of 4 samples lie outside") and "250" in note.text
    assert not figures.samples_vs_data(samples[[0, 3]], data, "ddim", "samples").layout.annotations


def test_denoising_gif_frames_put_each_samplers_points_where_they_are_at_each_t():
    from viz.animation import denoising_frames, digit_denoising_frames, gif_bytes

    frame_t = [100, 50, 0]
    ddpm = np.array([[[-2.0, 2.0]], [[-1.0, 1.0]], [[0.0, 0.0]]])
    ddim = np.array([[[-2.0, 2.0]], [[1.0, -1.0]], [[2.0, -2.0]]])
    size, gap, header = 380, 12, 34
    frames = denoising_frames(frame_t, ddpm, ddim, 10, data=np.zeros((0, 2)), size=size)
    assert len(frames) == 3 and frames[0].size == (2 * size + gap, size + header)

    def pixel(frame, point, left):  # the plane spans ±3.5 in both directions, y upwards
        x = left + (point[0] + 3.5) / 7 * (size - 1)
        y = header + (3.5 - point[1]) / 7 * (size - 1)
        return frame.getpixel((round(x), round(y)))

    for index in range(3):
        assert pixel(frames[index], ddpm[index, 0], 0) == (0xD5, 0x5E, 0x00)  # DDPM's colour, left
        assert pixel(frames[index], ddim[index, 0], size + gap) == (0x00, 0x72, 0xB2)  # DDIM's, right
    assert pixel(frames[2], ddpm[0, 0], 0) == (255, 255, 255)  # the point has moved on

    digits = np.zeros((2, 3, 8, 8))
    digits[1, :, 2, 3] = 1.0  # at t = 0 one pixel of ink in every image
    strips = digit_denoising_frames([10, 0], digits, digits, 5, cell=8)
    first, last = (np.asarray(frame.convert("L")) for frame in strips)
    assert last.min() == 0 and first[header:].min() == 255  # ink appears only when it is there
    y, x = header + 4 + 2 * 8, 4 + 3 * 8
    assert last[y, x] == 0 and last[y, x + 8] == 255
    assert Image.open(io.BytesIO(gif_bytes(frames))).n_frames == 3


def test_loss_curve_smooths_and_labels_its_log_axis_in_plain_numbers():
    steps = np.arange(1, 501)
    loss = 0.2 + np.exp(-steps / 50.0)
    fig = figures.loss_curve(steps, loss)
    assert np.allclose(trace(fig, "mean of 5").y[0], loss[:5].mean())
    assert fig.layout.yaxis.type == "log" and list(fig.layout.yaxis.ticktext) == ["0.2", "0.5", "1"]
