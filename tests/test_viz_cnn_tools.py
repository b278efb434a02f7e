"""Figures of the CNN page's worked sections: what each trace holds, checked against the engine's numbers."""

import numpy as np
import plotly.io as pio
import pytest

from engine.cnn.arithmetic import StackLayer, output_size, receptive_field, stack_arithmetic, window_taps
from engine.cnn.kernels import KERNELS, apply_kernel
from engine.cnn.upsampling import METHODS, upsampling_study
from tests.conftest import assert_valid_as_built, plotted
from viz import cnn_tools as figures
from viz.theme import DIVERGING, for_presentation

STACK = [StackLayer("conv", 3, 1, 1, channels=8), StackLayer("max", 2, 0, 2), StackLayer("conv", 3, 0, 1, 2, 16)]


def trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def cells_inside(outline_x, outline_y):
    """(top, bottom, left, right) of the cells a drawn outline goes round."""
    return (min(outline_y) + 0.5, max(outline_y) - 0.5, min(outline_x) + 0.5, max(outline_x) - 0.5)


def test_stack_figure_slides_the_window_and_shows_the_clicked_units_field():
    report = stack_arithmetic(20, 1, STACK)
    fig = figures.stack_figure(report, 0, (3, 5))
    assert_valid_as_built(fig)
    padded = trace(fig, "layer input")
    assert np.asarray(padded.z).shape == (22, 22) and padded.x0 == padded.y0 == -1
    assert np.asarray(padded.z)[0].sum() == 0 and np.asarray(padded.z)[1:-1, 1:-1].all()  # padding shaded
    # the first position, then at most 8 x 8 more, corners included, each tap where the engine puts it
    assert len(fig.frames) == 64
    assert fig.frames[0].name == "(0, 0)" and fig.frames[-1].name == "(19, 19)"
    taps = trace(fig, "taps")
    assert set(zip(taps.y, taps.x)) == set(window_taps(STACK[0], 0, 0))
    last_taps, last_window = fig.frames[-1].data[0], fig.frames[-1].data[2]  # (frames hold typed arrays)
    assert set(zip(plotted(last_taps.y), plotted(last_taps.x))) == set(window_taps(STACK[0], 19, 19))
    assert cells_inside(plotted(last_window.x), plotted(last_window.y)) == (19, 19, 19, 19)
    assert len(fig.layout.sliders[0].steps) == 64
    # bottom: the clicked unit of the last layer, the cells it depends on and its dashed field
    field = receptive_field(20, STACK, 3, 5)
    seen = np.asarray(trace(fig, "cells seen").z)
    assert set(zip(*np.nonzero(seen))) == {(r, c) for r in field.rows for c in field.cols}
    box = trace(fig, "receptive field")
    assert cells_inside(box.x, box.y) == field.box and box.line.dash == "dash"
    assert cells_inside(trace(fig, "chosen unit").x, trace(fig, "chosen unit").y) == (3, 3, 5, 5)
    out = report.rows[-1].out_size
    click = trace(fig, "click a unit")
    assert len(click.x) == out * out and click.marker.maxdisplayed == 1
    assert "⌊(20 + 2·1 − 1·(3−1) − 1)/1⌋ + 1 = 20" in fig.layout.title.text
    assert len(pio.to_json(fig)) < 60_000  # frames and the click grid included


def test_the_largest_stack_figure_stays_small():
    report = stack_arithmetic(64, 3, [StackLayer("conv", 7, 3, 1, channels=64)] * 4)  # every grid 70 or 64 a side
    fig = figures.stack_figure(report, 3, (10, 10))
    assert len(fig.frames) * len(fig.frames[0].data) <= 200  # Plotly validates every frame's traces
    assert len(pio.to_json(fig)) < 100_000


def test_stack_figure_for_a_later_layer_a_kept_unit_and_a_single_position():
    report = stack_arithmetic(20, 1, STACK)
    fig = figures.stack_figure(report, 2, (99, -4))  # a stale click is kept inside the output
    assert cells_inside(trace(fig, "chosen unit").x, trace(fig, "chosen unit").y) == (5, 5, 0, 0)
    assert np.asarray(trace(fig, "layer input").z).shape == (10, 10)  # layer 3's input: 10x10, no padding
    assert len(fig.frames) == output_size(10, 3, 0, 1, 2) ** 2 == 36
    single = figures.stack_figure(stack_arithmetic(3, 1, [StackLayer("conv", 3, 0, 1)]), 0, (0, 0))
    assert not single.frames and not single.layout.sliders


def test_stack_figure_draws_the_layers_before_a_problem_and_refuses_none():
    report = stack_arithmetic(6, 1, [StackLayer("conv", 3, 0, 2), StackLayer("max", 3, 0, 2)])
    assert report.problem and len(report.rows) == 1
    fig = figures.stack_figure(report, 1, (0, 0))  # layer 2 was asked for: layer 1 is all there is
    assert "Layer 1's 2×2 output" in fig.layout.annotations[3].text
    assert fig.layout.annotations[0].text.startswith("Layer 1 (conv 3×3")
    with pytest.raises(ValueError, match="nothing to draw: Layer 1"):
        figures.stack_figure(stack_arithmetic(2, 1, [StackLayer("conv", 5, 0, 1)]), 0, (0, 0))


def test_kernel_figure_writes_the_weights_and_signs_the_output():
    image = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    sobel = apply_kernel(image, KERNELS["Sobel x"])
    fig = figures.kernel_figure(image, KERNELS["Sobel x"], sobel, ("digit 3 (8×8)", "Sobel x"))
    assert_valid_as_built(fig)
    assert [t.name for t in fig.data] == ["input", "kernel", "output"]
    assert [list(row) for row in trace(fig, "kernel").text] == [["1", "0", "-1"], ["2", "0", "-2"], ["1", "0", "-1"]]
    output = trace(fig, "output")
    assert np.allclose(output.z, sobel) and output.zmin == -output.zmax == -np.abs(sobel).max()
    assert [list(stop) for stop in output.colorscale] == [list(stop) for stop in DIVERGING]
    blur = figures.kernel_figure(image, KERNELS["box blur"], apply_kernel(image, KERNELS["box blur"]), ("a", "b"))
    assert trace(blur, "output").zmin == 0 and trace(blur, "kernel").text[0][0] == "0.111"
    assert fig.layout.title.text == "Sobel x on digit 3 (8×8)"


def test_upsampling_figure_titles_say_the_method_and_its_checkerboard():
    study = upsampling_study()
    fig = figures.upsampling_figure(study)
    assert_valid_as_built(fig)
    assert [t.name for t in fig.data if t.type == "heatmap"] == ["input", *METHODS]
    assert np.array_equal(trace(fig, "transposed3").z, study.overlap[3])  # ones on a constant map: the counts
    titles = [a.text for a in fig.layout.annotations]
    assert titles[1] == f"transposed, kernel 3<br>checkerboard {study.checkerboard[('transposed3', 'ones')]:.2f}"
    assert titles[2].endswith("checkerboard 0.00") and titles[3].endswith("checkerboard 0.00")
    smooth = figures.upsampling_figure(study, "random", "smooth random")
    assert np.allclose(trace(smooth, "transposed4").z, study.output("transposed4", "random", "smooth random"))
    assert all(a.text.endswith("<br>(on the constant map)") for a in smooth.layout.annotations[1:])


@pytest.mark.parametrize("build", [
    lambda: figures.stack_figure(stack_arithmetic(20, 1, STACK), 0, (0, 0)),
    lambda: figures.kernel_figure(np.zeros((8, 8)), KERNELS["identity"], np.zeros((8, 8)), ("a", "b")),
    lambda: figures.upsampling_figure(upsampling_study()),
])
def test_text_is_sized_for_a_projector(build):
    fig = for_presentation(build())
    assert all(a.font.size >= 17 for a in fig.layout.annotations)
