"""Per-layer measurements of a deep network's training step: probes of activations, gradients and updates.

A probe rides on a real training step: the forward pass keeps each layer's pre-activation z, normalized
input u and activation a; the backward pass fills ∂L/∂a; everything is reduced on the device to a few
numbers and two small histograms per layer and moved off it as one packed vector. Between probes, per-layer
gradient norms locate where an explosion began (`explosion_origin`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

# Karpathy's rule of thumb: a healthy step changes a weight matrix by about a thousandth of its size.
UPDATE_RATIO_GUIDE = 1e-3

# Each probe's per-layer numbers, in column order. Rows: hidden layers 1..depth, then the output layer.
STATS = ("act_mean", "act_std", "flat_fraction", "preact_sq", "grad_norm", "act_grad_norm", "update_ratio")
COLUMN = {name: index for index, name in enumerate(STATS)}
HISTOGRAM_BINS = 40
HISTOGRAM_SAMPLES = 1024  # values per layer that go into a histogram: plenty for 40 bins, and cheap
HISTOGRAM_SPREAD = 4.0  # activation histograms span at most mean ± 4 std of all layers' values
HISTORY_COLUMNS = 240  # the layer × step matrices keep at most this many probes
EXPLOSION_FACTOR = 100.0


@dataclass(frozen=True)
class FlatRegion:
    """Where an activation's slope is (nearly) zero, so gradients stop flowing through a unit."""

    label: str  # what the page calls a unit there: "saturated", "dead", ...
    rule: str  # the rule, for people


FLAT_REGIONS = {
    "sigmoid": FlatRegion("saturated", "σ(u) < 0.03 or > 0.97"),
    "tanh": FlatRegion("saturated", "|tanh u| > 0.97"),
    "relu": FlatRegion("dead", "ReLU(u) = 0"),
    "leaky_relu": FlatRegion("on the 0.01 slope", "u < 0"),
    "elu": FlatRegion("in the flat tail", "u < −3 (slope < 5%)"),
    "selu": FlatRegion("in the flat tail", "u < −3 (slope < 5%)"),
    "gelu": FlatRegion("in the flat tail", "u < −3 (slope ≈ 0)"),
    "linear": FlatRegion("flat", "never"),
}
# The rules above as tests of (input u, output a) -> whether each unit is flat; None: no unit ever is.
_FLAT_TESTS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None] = {
    "sigmoid": lambda u, a: (a < 0.03) | (a > 0.97),
    "tanh": lambda u, a: a.abs() > 0.97,
    "relu": lambda u, a: a == 0,
    "leaky_relu": lambda u, a: u < 0,
    "elu": lambda u, a: u < -3,
    "selu": lambda u, a: u < -3,
    "gelu": lambda u, a: u < -3,
    "linear": None,
}
_RULES_ON_INPUT = ("leaky_relu", "elu", "selu", "gelu")  # the rules above that read u, not a


@dataclass(frozen=True)
class Probe:
    """One probe's per-layer numbers, on the host. Rows: hidden layers, then the output."""

    step: int
    stats: np.ndarray  # (depth + 1, len(STATS))
    act_hist: np.ndarray  # (depth, bins) counts of activation values a (ReLU: non-zero ones)
    act_edges: np.ndarray  # (bins + 1,) shared by every layer
    grad_hist: np.ndarray  # (depth + 1, bins) counts of log10 |∂L/∂W| (zeros left out)
    grad_edges: np.ndarray  # (bins + 1,) in log10 units

    def column(self, name: str) -> np.ndarray:
        return self.stats[:, COLUMN[name]]


def _shared_histogram(values: torch.Tensor, valid: torch.Tensor, bins: int,
                      spread: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts per row of (rows, n) values over one range shared by all rows; all on the device.

    The range runs from the smallest to the largest valid value, or, with `spread`, no further than
    `spread` standard deviations from the pooled mean (a few huge values must not squash the rest);
    values outside it and entries where `valid` is False are not counted. Returns (counts (rows, bins),
    range (2,))."""
    rows = values.shape[0]
    lo = values.masked_fill(~valid, math.inf).amin()
    hi = values.masked_fill(~valid, -math.inf).amax()
    if spread is not None:
        weight = valid.to(values.dtype)
        count = weight.sum().clamp(min=1.0)
        clean = values.masked_fill(~valid, 0.0)
        mean = clean.sum() / count
        std = ((clean - mean).square() * weight).sum().div(count).sqrt()
        lo, hi = torch.maximum(lo, mean - spread * std), torch.minimum(hi, mean + spread * std)
    lo, hi = torch.minimum(lo, hi), torch.maximum(lo, hi)  # no valid entry at all: (inf, -inf) -> swapped
    valid = valid & (values >= lo) & (values <= hi)
    scale = bins / torch.clamp(hi - lo, min=1e-12)
    index = ((values - lo) * scale).nan_to_num(0.0, 0.0, 0.0).floor().clamp(0, bins - 1).long()
    index = index + bins * torch.arange(rows, device=values.device)[:, None]
    counts = torch.bincount(index.flatten(), weights=valid.flatten().to(values.dtype), minlength=rows * bins)
    return counts.reshape(rows, bins), torch.stack([lo, hi])


def _strided(flat: torch.Tensor, n: int) -> torch.Tensor:
    """At most n evenly strided entries of the last axis (a fixed, cheap sample)."""
    step = max(1, flat.shape[-1] // n)
    return flat[..., ::step][..., :n]


def _mean_and_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per layer of (depth, batch, width): mean and std over everything, from E[x] and E[x²] in one sweep each."""
    mean = x.mean(dim=(1, 2))
    return mean, torch.clamp(x.square().mean(dim=(1, 2)) - mean.square(), min=0.0).sqrt()


@torch.no_grad()
def reduce_probe(record: list, output: torch.Tensor, weight_grads: list[torch.Tensor], activation: str,
                 bins: int = HISTOGRAM_BINS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-layer statistics of one forward/backward, reduced on the device.

    `record` holds (z, u, a) per hidden layer with a.grad filled, `output` the network's output
    with its .grad retained. Returns (stats (depth + 1, k) with NaN update ratios, act_hist
    packed after its range, grad_hist packed after its range).
    """
    a = torch.stack([r[2] for r in record])  # (depth, batch, width)
    a_mean, a_std = _mean_and_std(a)
    flat_test = _FLAT_TESTS[activation]
    if flat_test is None:
        flat = torch.zeros_like(a_mean)
    else:
        u = torch.stack([r[1] for r in record]) if activation in _RULES_ON_INPUT else None
        flat = flat_test(u, a).to(a.dtype).mean(dim=(1, 2))
    preact_sq = torch.stack(torch._foreach_norm([r[0] for r in record])).square() / record[0][0].numel()
    act_grad = torch.stack(torch._foreach_norm([r[2].grad for r in record]))
    out_mean = output.mean()
    out_std = torch.clamp(output.square().mean() - out_mean.square(), min=0.0).sqrt()
    hidden = torch.stack([a_mean, a_std, flat, preact_sq, act_grad], dim=1)
    out_row = torch.stack([out_mean, out_std, output.new_tensor(math.nan), output.square().mean(), output.grad.norm()])
    rows = torch.cat([hidden, out_row[None]])
    grad_norms = torch.stack(torch._foreach_norm(weight_grads))
    stats = torch.cat([rows[:, :4], grad_norms[:, None], rows[:, 4:], torch.full_like(grad_norms, math.nan)[:, None]],
                      dim=1)

    act_values = _strided(a.flatten(1), HISTOGRAM_SAMPLES)
    shown = torch.isfinite(act_values)
    if activation == "relu":  # its zeros are the dead units, counted above; they would dwarf the live ones
        shown &= act_values != 0
    act_hist, act_range = _shared_histogram(act_values, shown, bins, spread=HISTOGRAM_SPREAD)
    parts = [_strided(g.flatten(), HISTOGRAM_SAMPLES) for g in weight_grads]
    longest = max(len(p) for p in parts)  # the first and last layers are smaller: pad with zeros, not counted
    magnitude = torch.stack([F.pad(p, (0, longest - len(p))) for p in parts]).abs()
    valid = (magnitude > 0) & torch.isfinite(magnitude)
    log_magnitude = torch.log10(magnitude.masked_fill(~valid, 1.0))
    grad_hist, grad_range = _shared_histogram(log_magnitude, valid, bins)
    return stats, torch.cat([act_range, act_hist.flatten()]), torch.cat([grad_range, grad_hist.flatten()])


def unpack_probe(step: int, packed: np.ndarray, depth: int, bins: int = HISTOGRAM_BINS) -> Probe:
    """The host side of `reduce_probe` + update ratios, from one packed float vector."""
    k = len(STATS)
    n_stats = (depth + 1) * k
    stats = packed[:n_stats].reshape(depth + 1, k)
    act = packed[n_stats:n_stats + 2 + depth * bins]
    grad = packed[n_stats + 2 + depth * bins:]
    arrays = dict(stats=stats, act_hist=act[2:].reshape(depth, bins), act_edges=_edges(act[0], act[1], bins),
                  grad_hist=grad[2:].reshape(depth + 1, bins), grad_edges=_edges(grad[0], grad[1], bins))
    for array in arrays.values():
        array.setflags(write=False)
    return Probe(step=step, **arrays)


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """Bin edges; all NaN when nothing was counted (e.g. every gradient exactly zero)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.full(bins + 1, np.nan)
    return np.linspace(lo, hi, bins + 1)


class ProbeHistory:
    """Probes as layer × step matrices in bounded memory.

    Keeps every `stride`-th probe offered; when full, drops every other column and
    doubles the stride, so a run of any length keeps evenly spaced columns from start to now.
    """

    def __init__(self, capacity: int = HISTORY_COLUMNS):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self.capacity, self.stride = capacity, 1
        self._offered = 0
        self._steps: list[int] = []
        self._stats: list[np.ndarray] = []
        self._frozen: tuple[np.ndarray, np.ndarray] | None = None

    def offer(self, step: int, stats: np.ndarray) -> None:
        self._offered += 1
        if (self._offered - 1) % self.stride:
            return
        if len(self._steps) == self.capacity:
            self._steps, self._stats = self._steps[::2], self._stats[::2]
            self.stride *= 2
            if (self._offered - 1) % self.stride:
                self._frozen = None
                return
        self._steps.append(step)
        self._stats.append(stats)
        self._frozen = None

    def frozen(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps (n,), stats (n, rows, k)), read-only and cached until the next kept probe."""
        if self._frozen is None:
            steps = np.array(self._steps, dtype=np.int64)
            stats = np.stack(self._stats) if self._stats else np.empty((0, rows, len(STATS)))
            steps.setflags(write=False)
            stats.setflags(write=False)
            self._frozen = (steps, stats)
        return self._frozen


# ---------------------------------------------------------------- explosions
def explosion_origin(steps: np.ndarray, norms: np.ndarray, factor: float = EXPLOSION_FACTOR) -> tuple[int, int] | None:
    """(step, layer index) where gradients began to explode, from per-step per-layer norms (steps, layers).

    A layer explodes at the first step where its norm is non-finite or `factor` times its value at the
    start of the window; of the layers that explode at that earliest step, the one that grew most.
    """
    if len(steps) < 2:
        return None
    start = np.maximum(norms[0], 1e-30)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        growth = np.where(np.isfinite(norms), norms / start, np.inf)
    exploded = growth >= factor
    if not exploded.any():
        return None
    first_step = int(np.argmax(exploded.any(axis=1)))
    layer = int(np.argmax(np.where(exploded[first_step], growth[first_step], -np.inf)))
    return int(steps[first_step]), layer


def first_nonfinite(values: list[torch.Tensor]) -> int | None:
    """Index of the first tensor holding inf or NaN."""
    for index, value in enumerate(values):
        if not torch.isfinite(value).all():
            return index
    return None
