"""Convolution arithmetic: what a stack of conv and pooling layers does to the size of an n x n input.

Per layer: the output size with the formula and its numbers, weights and multiply-adds next to a dense layer
with the same input and output, and the receptive field on the network's input. The rules are torch's own
(nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d with ceil_mode=False), and a combination torch refuses is explained
in a sentence instead of being computed: the tests build each stack in torch and compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.common.limits import ConfigError

KINDS = ("conv", "max", "avg")
KIND_NAMES = {"conv": "conv", "max": "max pool", "avg": "avg pool"}
# The arithmetic page's ranges: small enough to draw every cell of the grid, wide enough to meet every rule.
MIN_SIZE, MAX_SIZE = 1, 64
MAX_LAYERS = 4
MIN_KERNEL, MAX_KERNEL = 1, 7
MIN_PADDING, MAX_PADDING = 0, 3
MIN_STRIDE, MAX_STRIDE = 1, 4
MIN_DILATION, MAX_DILATION = 1, 3
MIN_CHANNELS, MAX_CHANNELS = 1, 64


def output_size(n: int, k: int, p: int, s: int, d: int) -> int:
    """floor((n + 2p − d(k−1) − 1)/s) + 1: how many times a window of k taps, d apart, fits in the padded input
    moving s at a time. Zero or negative when it does not fit once (torch then refuses)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _in_range(what: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{what} must be a whole number from {low} to {high}, not {value!r}")


@dataclass(frozen=True)
class StackLayer:
    """One layer of the stack. Pooling keeps the channel count (its `channels` is ignored).

    torch's average pooling has no dilation (nn.AvgPool2d takes none), so an avg layer with dilation > 1 is
    refused rather than silently computed as something torch cannot build."""

    kind: str  # "conv", "max" or "avg"
    kernel: int
    padding: int
    stride: int
    dilation: int = 1
    channels: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown layer kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        _in_range("the kernel size", self.kernel, MIN_KERNEL, MAX_KERNEL)
        _in_range("the padding", self.padding, MIN_PADDING, MAX_PADDING)
        _in_range("the stride", self.stride, MIN_STRIDE, MAX_STRIDE)
        _in_range("the dilation", self.dilation, MIN_DILATION, MAX_DILATION)
        _in_range("the number of channels", self.channels, MIN_CHANNELS, MAX_CHANNELS)
        if self.kind == "avg" and self.dilation != 1:
            raise ConfigError(f"average pooling has no dilation (torch's nn.AvgPool2d takes none), not "
                              f"{self.dilation}: set the dilation to 1 or use max pooling")

    @property
    def effective_kernel(self) -> int:
        """The span of the dilated window: d(k−1) + 1 cells."""
        return self.dilation * (self.kernel - 1) + 1

    def output_channels(self, in_channels: int) -> int:
        return self.channels if self.kind == "conv" else in_channels

    def describe(self) -> str:
        """"conv 3×3, 16 channels, padding 1", "max pool 2, stride 2": what the problem sentences call it."""
        if self.kind == "conv":
            parts = [f"conv {self.kernel}×{self.kernel}", f"{self.channels} channel{'s' * (self.channels != 1)}"]
        else:
            parts = [f"{KIND_NAMES[self.kind]} {self.kernel}"]
        parts += [f"{name} {value}" for name, value, default in
                  (("stride", self.stride, 1), ("padding", self.padding, 0), ("dilation", self.dilation, 1))
                  if value != default]
        return ", ".join(parts)


@dataclass(frozen=True)
class LayerArithmetic:
    """One layer of a stack, worked out."""

    index: int  # 1-based, as the page and the problem sentences count
    layer: StackLayer
    in_size: int
    in_channels: int
    out_size: int
    out_channels: int
    formula: str  # "⌊(28 + 2·1 − 1·(3−1) − 1)/1⌋ + 1 = 28"
    formula_latex: str
    params: int  # weights + biases (pooling has none)
    multiply_adds: int  # pooling multiplies nothing: max compares, avg adds and scales once
    dense_params: int  # a dense layer from the same n_in²·c_in inputs to the same n_out²·c_out outputs
    dense_multiply_adds: int
    receptive_field: int  # how many input rows (and columns) one output unit spans, padding included
    jump: int  # input cells between neighbouring output units: the product of the strides so far


@dataclass(frozen=True)
class StackReport:
    """A stack worked out layer by layer; `problem` explains the first layer torch refuses (rows stop there)."""

    n: int
    in_channels: int
    layers: tuple[StackLayer, ...]
    rows: tuple[LayerArithmetic, ...]
    problem: str | None

    @property
    def out_size(self) -> int:
        return self.rows[-1].out_size if self.rows else self.n

    def table(self) -> list[dict[str, str]]:
        """The rows as a page's table shows them: one per layer, its sizes, formula and costs as text."""
        return [{"layer": f"{r.index}. {r.layer.describe()}", "input": f"{r.in_size}×{r.in_size}×{r.in_channels}",
                 "output": f"{r.out_size}×{r.out_size}×{r.out_channels}", "output size": r.formula,
                 "parameters": f"{r.params:,}", "multiply-adds": f"{r.multiply_adds:,}",
                 "dense: parameters": f"{r.dense_params:,}", "dense: multiply-adds": f"{r.dense_multiply_adds:,}",
                 "receptive field": f"{r.receptive_field}×{r.receptive_field}", "jump": str(r.jump)}
                for r in self.rows]


def _formula(n: int, layer: StackLayer, out: int) -> tuple[str, str]:
    k, p, s, d = layer.kernel, layer.padding, layer.stride, layer.dilation
    text = f"⌊({n} + 2·{p} − {d}·({k}−1) − 1)/{s}⌋ + 1 = {out}"
    latex = (rf"\left\lfloor \frac{{{n} + 2\cdot {p} - {d}\cdot({k}-1) - 1}}{{{s}}} \right\rfloor + 1 = {out}")
    return text, latex


def _problem(index: int, n: int, layer: StackLayer, out: int) -> str | None:
    """Why torch refuses this layer on an n x n input, in a sentence with the numbers; None when it does not."""
    k, p, s, d = layer.kernel, layer.padding, layer.stride, layer.dilation
    name = f"Layer {index} ({layer.describe()})"
    if layer.kind != "conv" and p > k // 2:
        # torch checks the padding against the undilated kernel: p ≤ ⌊k/2⌋, so every window holds a real cell.
        return (f"{name} pads by {p}, more than half its window of {k} (at most {k // 2}): some windows would "
                f"hold nothing but padding, so torch refuses it. Use padding {k // 2} or less.")
    if out <= 0:
        window = f"window of {k}" if d == 1 else f"window of {k} taps {d} apart (spanning {layer.effective_kernel})"
        return (f"{name} gets a {n}×{n} input: its {window} does not fit even once in the padded "
                f"{n + 2 * p}×{n + 2 * p} grid, since ⌊({n} + 2·{p} − {d}·({k}−1) − 1)/{s}⌋ + 1 = {out}. "
                f"Make the input larger, the padding larger, or the kernel or dilation smaller.")
    return None


def stack_arithmetic(n: int, in_channels: int, layers: Sequence[StackLayer]) -> StackReport:
    """Each layer's output size, weights and multiply-adds (and a dense layer's), and its receptive field."""
    _in_range("the input size", n, MIN_SIZE, MAX_SIZE)
    _in_range("the number of input channels", in_channels, MIN_CHANNELS, MAX_CHANNELS)
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise ConfigError(f"a stack has 1 to {MAX_LAYERS} layers, not {len(layers)}")
    rows: list[LayerArithmetic] = []
    size, channels, field, jump = n, in_channels, 1, 1
    for index, layer in enumerate(layers, start=1):
        out = output_size(size, layer.kernel, layer.padding, layer.stride, layer.dilation)
        problem = _problem(index, size, layer, out)
        if problem:
            return StackReport(n, in_channels, tuple(layers), tuple(rows), problem)
        out_channels = layer.output_channels(channels)
        inputs, outputs = size * size * channels, out * out * out_channels
        if layer.kind == "conv":
            weights_per_output = layer.kernel ** 2 * channels
            params = weights_per_output * out_channels + out_channels
            multiply_adds = weights_per_output * outputs
        else:
            params = multiply_adds = 0
        field += (layer.effective_kernel - 1) * jump
        jump *= layer.stride
        text, latex = _formula(size, layer, out)
        rows.append(LayerArithmetic(index, layer, size, channels, out, out_channels, text, latex, params,
                                    multiply_adds, inputs * outputs + outputs, inputs * outputs, field, jump))
        size, channels = out, out_channels
    return StackReport(n, in_channels, tuple(layers), tuple(rows), None)


# ------------------------------------------------------------------ where units look
def _looked_at(layer: StackLayer, seen: set[int]) -> set[int]:
    """The rows of a layer's (padded) input that its output rows `seen` read."""
    return {i * layer.stride - layer.padding + layer.dilation * t for i in seen for t in range(layer.kernel)}


def seen_indices(n: int, layers: Sequence[StackLayer], index: int) -> list[int]:
    """The input rows (or columns) 0..n−1 that output row `index` of the last layer depends on, in order. A
    later layer's padding is zeros with nothing behind it, so it is dropped on the way back; with dilation the
    rows have holes, so this is a list, not a range."""
    sizes = [n]
    for layer in layers[:-1]:
        sizes.append(output_size(sizes[-1], layer.kernel, layer.padding, layer.stride, layer.dilation))
    seen = {index}
    for layer, size in zip(reversed(layers), reversed(sizes)):
        seen = {i for i in _looked_at(layer, seen) if 0 <= i < size}
    return sorted(seen)


@dataclass(frozen=True)
class ReceptiveField:
    """What one output unit sees of the input. `box` is the textbook field, r x r cells with every layer's
    padding counted as cells (so it may reach below 0 or past n−1); `rows` and `cols` are the input cells the
    unit really depends on, and `clipped` their bounding box (None when it sees only padding, as a corner unit
    under large padding can)."""

    box: tuple[int, int, int, int]  # top, bottom, left, right, inclusive
    clipped: tuple[int, int, int, int] | None
    rows: tuple[int, ...]  # with dilation, not every row of the box
    cols: tuple[int, ...]


def receptive_field(n: int, layers: Sequence[StackLayer], row: int, col: int) -> ReceptiveField:
    """What output unit (row, col) of the last layer sees of the n x n input. Rows and columns are separable:
    the unit depends on every (r, c) with r in `rows` and c in `cols`, and on nothing else."""
    spans = []
    for index in (row, col):
        seen = {index}
        for layer in reversed(layers):
            seen = _looked_at(layer, seen)
        spans.append((min(seen), max(seen)))
    rows, cols = tuple(seen_indices(n, layers, row)), tuple(seen_indices(n, layers, col))
    clipped = (rows[0], rows[-1], cols[0], cols[-1]) if rows and cols else None
    return ReceptiveField((*spans[0], *spans[1]), clipped, rows, cols)


@dataclass(frozen=True)
class WindowPosition:
    """Where one layer's window sits for output unit (row, col): its k² taps in the layer's input coordinates
    (below 0 or at n and above: padding)."""

    row: int
    col: int
    taps: tuple[tuple[int, int], ...]


def window_taps(layer: StackLayer, row: int, col: int) -> tuple[tuple[int, int], ...]:
    starts = (row * layer.stride - layer.padding, col * layer.stride - layer.padding)
    offsets = [layer.dilation * t for t in range(layer.kernel)]
    return tuple((starts[0] + dr, starts[1] + dc) for dr in offsets for dc in offsets)


def window_positions(n: int, layer: StackLayer) -> list[WindowPosition]:
    """Every position of the layer's window on its n x n input, row by row (empty when it does not fit)."""
    out = output_size(n, layer.kernel, layer.padding, layer.stride, layer.dilation)
    return [WindowPosition(r, c, window_taps(layer, r, c)) for r in range(max(out, 0)) for c in range(max(out, 0))]
