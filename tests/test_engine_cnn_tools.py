"""The CNN page's arithmetic, kernel sandbox and upsampling, against torch's own layers, autograd, FLOP counter
and brute-force loops."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine.cnn import arithmetic as ar
from engine.cnn.arithmetic import StackLayer, output_size, receptive_field, stack_arithmetic, window_positions
from engine.cnn.kernels import IMAGE_LABELS, KERNELS, PADDINGS, apply_kernel, parse_kernel, sandbox_images
from engine.cnn.upsampling import METHODS, overlap_counts, upsample, upsampling_study
from engine.common.limits import ConfigError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layers(draw, kinds=ar.KINDS):
    kind = draw(st.sampled_from(kinds))
    dilation = 1 if kind == "avg" else draw(st.integers(ar.MIN_DILATION, ar.MAX_DILATION))
    return StackLayer(kind, draw(st.integers(ar.MIN_KERNEL, ar.MAX_KERNEL)),
                      draw(st.integers(ar.MIN_PADDING, ar.MAX_PADDING)),
                      draw(st.integers(ar.MIN_STRIDE, ar.MAX_STRIDE)), dilation, draw(st.integers(1, 3)))


def torch_layer(layer: StackLayer, in_channels: int) -> nn.Module:
    k, p, s, d = layer.kernel, layer.padding, layer.stride, layer.dilation
    if layer.kind == "conv":
        return nn.Conv2d(in_channels, layer.channels, k, s, p, d)
    if layer.kind == "max":
        return nn.MaxPool2d(k, s, p, d)
    return nn.AvgPool2d(k, s, p)


def torch_out_size(stack, n, in_channels):
    """torch's output size of the stack, or None where torch refuses or gives an empty map."""
    x = torch.zeros(1, in_channels, n, n)
    try:
        with torch.no_grad():
            for layer in stack:
                x = torch_layer(layer, x.shape[1])(x)
                if x.numel() == 0:
                    return None
    except RuntimeError:
        return None
    return x.shape[-1]


# ---------------------------------------------------------------- output sizes
@FAST
@given(n=st.integers(ar.MIN_SIZE, ar.MAX_SIZE), layer=layers())
def test_output_size_is_torchs_and_problem_set_exactly_when_torch_refuses(n, layer):
    report = stack_arithmetic(n, 2, [layer])
    expected = torch_out_size([layer], n, 2)
    assert (report.problem is not None) == (expected is None), report.problem
    if expected is not None:
        assert output_size(n, layer.kernel, layer.padding, layer.stride, layer.dilation) == expected
        (row,) = report.rows
        assert (row.out_size, row.out_channels) == (expected, layer.output_channels(2))
        assert row.formula.endswith(f"= {expected}") and row.formula_latex.endswith(f"= {expected}")


@FAST
@given(n=st.integers(ar.MIN_SIZE, ar.MAX_SIZE), stack=st.lists(layers(), min_size=1, max_size=ar.MAX_LAYERS))
def test_a_stack_stops_at_the_first_layer_torch_refuses(n, stack):
    report = stack_arithmetic(n, 1, stack)
    assert (report.problem is None) == (torch_out_size(stack, n, 1) is not None)
    failed = next((i for i in range(len(stack)) if torch_out_size(stack[:i + 1], n, 1) is None), None)
    assert len(report.rows) == (len(stack) if failed is None else failed)
    if failed is not None:
        assert report.problem.startswith(f"Layer {failed + 1} (")
    for row in report.rows:
        assert row.out_size == torch_out_size(stack[:row.index], n, 1)


def test_problem_sentences_say_why_with_the_numbers():
    report = stack_arithmetic(5, 1, [StackLayer("conv", 3, 0, 2), StackLayer("max", 3, 0, 2)])
    assert len(report.rows) == 1 and report.rows[0].out_size == 2
    assert report.problem.startswith("Layer 2 (max pool 3, stride 2) gets a 2×2 input")
    assert "⌊(2 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = 0" in report.problem
    padded = stack_arithmetic(8, 1, [StackLayer("max", 3, 2, 1)]).problem
    assert "pads by 2" in padded and "at most 1" in padded


def test_refusals_name_the_setting():
    with pytest.raises(ConfigError, match="average pooling has no dilation"):
        StackLayer("avg", 3, 0, 1, dilation=2)
    with pytest.raises(ConfigError, match="kernel size must be a whole number from 1 to 7"):
        StackLayer("conv", 8, 0, 1)
    with pytest.raises(ConfigError, match="1 to 4 layers"):
        stack_arithmetic(8, 1, [StackLayer("conv", 1, 0, 1)] * 5)
    with pytest.raises(ConfigError, match="input size"):
        stack_arithmetic(65, 1, [StackLayer("conv", 1, 0, 1)])


def test_formula_by_hand():
    (row,) = stack_arithmetic(28, 1, [StackLayer("conv", 3, 1, 1, channels=8)]).rows
    assert row.formula == "⌊(28 + 2·1 − 1·(3−1) − 1)/1⌋ + 1 = 28"
    assert row.formula_latex == r"\left\lfloor \frac{28 + 2\cdot 1 - 1\cdot(3-1) - 1}{1} \right\rfloor + 1 = 28"


# ------------------------------------------------------- parameters and multiply-adds
def flops(module, x):
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


@FAST
@given(n=st.integers(1, 16), in_channels=st.integers(1, 4), layer=layers(kinds=("conv",)))
def test_params_and_multiply_adds_are_what_torch_counts(n, in_channels, layer):
    report = stack_arithmetic(n, in_channels, [layer])
    assume(report.problem is None)
    (row,) = report.rows
    conv = torch_layer(layer, in_channels).to("meta")
    x = torch.zeros(1, in_channels, n, n, device="meta")
    assert row.params == sum(p.numel() for p in conv.parameters())
    assert 2 * row.multiply_adds == flops(conv, x)  # torch counts a multiply-add as 2 FLOPs
    dense = nn.Linear(n * n * in_channels, row.out_size ** 2 * row.out_channels, device="meta")
    assert row.dense_params == sum(p.numel() for p in dense.parameters())
    assert 2 * row.dense_multiply_adds == flops(dense, x.flatten(1))


def test_pooling_has_no_weights_and_keeps_the_channels():
    conv, pool = stack_arithmetic(8, 3, [StackLayer("conv", 3, 1, 1, channels=5), StackLayer("max", 2, 0, 2)]).rows
    assert (pool.params, pool.multiply_adds, pool.in_channels, pool.out_channels) == (0, 0, 5, 5)
    assert pool.dense_params == (8 * 8 * 5) * (4 * 4 * 5) + 4 * 4 * 5


# -------------------------------------------------------------- receptive fields
def positive_stand_in(layer: StackLayer, channels: int) -> nn.Module:
    """The layer with all-positive weights, so every input the output depends on has a non-zero gradient.
    Max pooling's gradient reaches only the winner: average pooling over the same window stands in for it
    (a dilated one, which torch has no avg pooling for, is a depthwise conv of ones)."""
    k, p, s, d = layer.kernel, layer.padding, layer.stride, layer.dilation
    if layer.kind == "conv" or d > 1:
        conv = nn.Conv2d(channels, layer.output_channels(channels), k, s, p, d, bias=False,
                         groups=1 if layer.kind == "conv" else channels, dtype=torch.float64)
        nn.init.ones_(conv.weight)
        return conv
    return nn.AvgPool2d(k, s, p)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 24), stack=st.lists(layers(), min_size=1, max_size=ar.MAX_LAYERS), data=st.data())
def test_receptive_field_is_the_support_of_the_gradient(n, stack, data):
    report = stack_arithmetic(n, 1, stack)
    assume(report.problem is None)
    row, col = (data.draw(st.integers(0, report.out_size - 1)) for _ in range(2))
    x = torch.ones(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    y, channels = x, 1
    for layer in stack:
        y = positive_stand_in(layer, channels)(y)
        channels = y.shape[1]
    y[0, 0, row, col].backward()
    support = (x.grad[0, 0] != 0).numpy()
    field = receptive_field(n, stack, row, col)
    expected = np.zeros((n, n), dtype=bool)
    expected[np.ix_(field.rows, field.cols)] = True
    assert (support == expected).all()
    if support.any():
        rows, cols = np.nonzero(support)
        assert field.clipped == (rows.min(), rows.max(), cols.min(), cols.max())
    else:
        assert field.clipped is None  # a corner unit that sees only padding
    top, bottom, left, right = field.box
    last = report.rows[-1]
    assert bottom - top + 1 == right - left + 1 == last.receptive_field
    if row + 1 < report.out_size:
        assert receptive_field(n, stack, row + 1, col).box[0] - top == last.jump


def test_receptive_field_by_hand():
    # two 3x3 convs then a 2x2 pool of stride 2: field 3, 5, then 6 with jump 2
    stack = [StackLayer("conv", 3, 0, 1), StackLayer("conv", 3, 0, 1), StackLayer("max", 2, 0, 2)]
    report = stack_arithmetic(12, 1, stack)
    assert [(r.receptive_field, r.jump) for r in report.rows] == [(3, 1), (5, 1), (6, 2)]
    assert receptive_field(12, stack, 1, 2).box == (2, 7, 4, 9)
    padded = receptive_field(8, [StackLayer("conv", 3, 1, 1)], 0, 7)
    assert padded.box == (-1, 1, 6, 8) and padded.clipped == (0, 1, 6, 7)


def test_window_positions_cover_the_output_with_dilated_taps():
    layer = StackLayer("conv", 3, 1, 2, dilation=2)
    positions = window_positions(7, layer)
    out = output_size(7, 3, 1, 2, 2)
    assert [(w.row, w.col) for w in positions] == [(r, c) for r in range(out) for c in range(out)]
    assert positions[0].taps == tuple((r, c) for r in (-1, 1, 3) for c in (-1, 1, 3))
    assert positions[-1].taps[-1] == (2 * (out - 1) - 1 + 4,) * 2
    assert window_positions(2, StackLayer("conv", 5, 0, 1)) == []


# ------------------------------------------------------------------ kernel sandbox
def brute_force(image, kernel, padding):
    mode = {"zeros": "constant", "replicate": "edge", "reflect": "reflect", "circular": "wrap"}[padding]
    padded = np.pad(image.astype(np.float64), 1, mode=mode)
    out = np.zeros(image.shape)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = sum(kernel[a, b] * padded[i + a, j + b] for a in range(3) for b in range(3))
    return out


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(2, 9), cols=st.integers(2, 9), seed=st.integers(0, 10_000),
       padding=st.sampled_from(PADDINGS))
def test_apply_kernel_is_the_double_loop(rows, cols, seed, padding):
    rng = np.random.default_rng(seed)
    image, kernel = rng.random((rows, cols)), rng.normal(size=(3, 3))
    assert np.allclose(apply_kernel(image, kernel, padding), brute_force(image, kernel, padding), atol=1e-5)


def test_sobel_x_is_cross_correlation_not_flipped():
    step = np.zeros((5, 5))
    step[:, 3:] = 1.0  # brighter to the right
    assert apply_kernel(step, KERNELS["Sobel x"])[2, 2] == -4.0  # left minus right, as written
    assert np.allclose(apply_kernel(step, KERNELS["identity"]), step)


def test_parse_kernel_reads_any_separator():
    expected = KERNELS["Sobel x"]
    for text in ("1 0 -1; 2 0 -2; 1 0 -1", "1,0,-1,2,0,-2,1,0,-1", "1 0 -1\n2 0 -2\n1 0 -1\n",
                 " 1, 0 ,-1;2 0 -2 ;1 0 -1"):
        assert np.array_equal(parse_kernel(text), expected)
    assert parse_kernel("0.5 1e-1 -2 0 0 0 0 0 100")[0, 1] == pytest.approx(0.1)


@pytest.mark.parametrize("text, message", [
    ("1 2 3", "needs 9 numbers, row by row; found 3"),
    ("", "found 0"),
    ("1 2 3 4 5 6 7 8 9 10", "found 10"),
    ("1 2 x 4 5 6 7 8 9", "'x' (number 3) is not a number"),
    ("1 2 3 4 5 6 7 8 nan", "'nan' (number 9) is not a finite number"),
    ("1 2 3 4 inf 6 7 8 9", "'inf' (number 5) is not a finite number"),
    ("1 2 3 4 5 6 7 8 -100.5", "-100.5 (number 9) is too large: use values between -100 and 100"),
])
def test_parse_kernel_refusals_say_what_to_change(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_kernel(text)


def test_sandbox_images_are_real_pixels_in_unit_range_and_computed_once():
    images = sandbox_images()
    assert list(images) == list(IMAGE_LABELS) == ["digit 0", "digit 3", "digit 8", "china", "flower"]
    for name, image in images.items():
        assert image.ndim == 2 and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        assert f"({image.shape[0]}×{image.shape[1]})" in IMAGE_LABELS[name]  # the label says the real size
    assert images["digit 0"].shape == (8, 8) and images["china"].shape == (71, 106)
    digits = load_digits()
    assert np.allclose(images["digit 3"] * 16, digits.images[np.flatnonzero(digits.target == 3)[0]])
    assert all(sandbox_images()[name] is image for name, image in images.items())


# -------------------------------------------------------------------- upsampling
def test_every_method_doubles_the_size():
    study = upsampling_study(n=8)
    assert all(out.shape == (16, 16) for out in study.outputs.values())
    assert set(study.checkerboard) == {(m, w) for m in METHODS for w in ("ones", "random")}


def test_kernel_3_leaves_a_checkerboard_kernel_4_and_resize_conv_do_not():
    spread = upsampling_study(n=8).checkerboard
    assert spread[("transposed3", "ones")] > 0.3
    assert spread[("transposed4", "ones")] == 0.0
    assert spread[("resize_conv", "ones")] == spread[("resize_conv", "random")] == 0.0
    # Even overlap is not enough once the kernel's taps differ: the even and odd outputs use different taps.
    assert spread[("transposed4", "random")] > 0.05


def test_overlap_counts_are_the_ones_output_and_1_2_4_for_kernel_3():
    study = upsampling_study(n=8)
    for k, method in ((3, "transposed3"), (4, "transposed4")):
        assert np.array_equal(study.output(method, "ones", "constant"), study.overlap[k])
    assert set(np.unique(study.overlap[3][2:-2, 2:-2])) == {1, 2, 4}
    assert set(np.unique(study.overlap[4][2:-2, 2:-2])) == {4}
    # by hand, 1-D: input i pastes onto outputs 2i−1, 2i, 2i+1 (kernel 3, padding 1): 1, 2, 1, 2, ... then 1
    assert overlap_counts(3, 3)[0].tolist() == [1, 2, 1, 2, 1, 1]


def test_resize_conv_is_nearest_neighbour_then_a_same_padded_conv():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    weights = torch.rand(1, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    nearest = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    expected = brute_force(nearest, weights[0, 0].numpy(), "zeros")
    assert np.allclose(upsample(image, "resize_conv", weights), expected, atol=1e-5)
