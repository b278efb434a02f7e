"""Gradient flow through a deep MLP: probes of activations, gradients and updates, per layer, live.

A probe rides on a real training step: the forward pass keeps each layer's
pre-activation z, normalized input u and activation a; the backward pass fills
∂L/∂a; everything is reduced on the device to a few numbers and two small
histograms per layer and moved off it as one packed vector. Probes run only
when the job asks for one (at the UI's refresh rate, or every step if the
student asks), so plain steps pay only for a per-layer gradient norm that
guards against, and locates, exploding gradients.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.runtime import Job
from engine.common.layers import ACTIVATION_LABELS, INIT_SCHEMES, init_linear_, make_activation
from engine.common.limits import LIMITS, check, check_choice
from engine.common.optimizers import OPTIMIZERS
from engine.playground_data import Dataset, DataSpec, make_dataset

MAX_DEPTH, MAX_WIDTH = int(LIMITS["gradients.depth"].high), int(LIMITS["gradients.width"].high)
DEEP_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "linear")
DEEP_INITS = ("zeros", "constant", "small_normal", "large_normal", "xavier_normal", "he", "lecun", "orthogonal")
NORMS = {"none": "None", "batch": "Batch norm", "layer": "Layer norm"}
DEEP_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
CLIP_MODES = {"off": "Off", "value": "By value", "norm": "By norm"}

# Karpathy's rule of thumb: a healthy step changes a weight matrix by about a thousandth of its size.
UPDATE_RATIO_GUIDE = 1e-3

# Each probe's per-layer numbers, in column order. Rows: hidden layers 1..depth, then the output layer.
STATS = ("act_mean", "act_std", "flat_fraction", "preact_sq", "grad_norm", "act_grad_norm", "update_ratio")
COLUMN = {name: index for index, name in enumerate(STATS)}
HISTOGRAM_BINS = 40
HISTOGRAM_SAMPLES = 1024  # values per layer that go into a histogram: plenty for 40 bins, and cheap
HISTOGRAM_SPREAD = 4.0  # activation histograms span at most mean ± 4 std of all layers' values
PROBE_INTERVAL_S = 1.0  # probes follow what a page shows (once a second at most), not the training rate
HISTORY_COLUMNS = 240  # the layer × step matrices keep at most this many probes
WATCH_EVERY = 10  # steps between per-layer gradient norms kept on the device to locate an explosion
GRAD_NORM_WINDOW = 64  # how many of them are kept
EXPLOSION_FACTOR = 100.0
WEIGHTS_COST_FACTOR = 20  # while training, the weights are copied for the snapshot at most 1/20 of the time


@dataclass(frozen=True)
class FlatRegion:
    """Where an activation's slope is (nearly) zero, so gradients stop flowing through a unit."""

    label: str  # what the page calls a unit there: "saturated", "dead", ...
    rule: str  # the rule, for people
    test: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None  # (input u, output a) -> bool


FLAT_REGIONS = {
    "sigmoid": FlatRegion("saturated", "σ(u) < 0.03 or > 0.97", lambda u, a: (a < 0.03) | (a > 0.97)),
    "tanh": FlatRegion("saturated", "|tanh u| > 0.97", lambda u, a: a.abs() > 0.97),
    "relu": FlatRegion("dead", "ReLU(u) = 0", lambda u, a: a == 0),
    "leaky_relu": FlatRegion("on the 0.01 slope", "u < 0", lambda u, a: u < 0),
    "elu": FlatRegion("in the flat tail", "u < −3 (slope < 5%)", lambda u, a: u < -3),
    "selu": FlatRegion("in the flat tail", "u < −3 (slope < 5%)", lambda u, a: u < -3),
    "gelu": FlatRegion("in the flat tail", "u < −3 (slope ≈ 0)", lambda u, a: u < -3),
    "linear": FlatRegion("flat", "never", None),
}
_RULES_ON_INPUT = ("leaky_relu", "elu", "selu", "gelu")  # the rules above that read u, not a


@dataclass(frozen=True)
class DeepConfig:
    """What defines a deep-network experiment; changing any of it rebuilds the network."""

    data: DataSpec = field(default_factory=lambda: DataSpec(kind="spiral", n_points=1000))
    depth: int = 20  # hidden layers
    width: int = 64
    activation: str = "relu"
    init: str = "he"  # a default that trains the spiral in ~2,000 steps; the page is about breaking it
    norm: str = "none"
    residual: bool = False
    optimizer: str = "momentum"

    def validate(self) -> None:
        check("gradients.depth", self.depth)
        check("gradients.width", self.width)
        check_choice("activation", self.activation, DEEP_ACTIVATIONS)
        check_choice("weight init", self.init, DEEP_INITS)
        check_choice("normalization", self.norm, tuple(NORMS))
        check_choice("optimizer", self.optimizer, DEEP_OPTIMIZERS)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(f"layer {i}" for i in range(1, self.depth + 1)) + ("output",)


class DeepMLP(nn.Module):
    """depth × (Linear → norm → activation), optionally residual (h ← h + a from layer 2 on), then Linear."""

    def __init__(self, config: DeepConfig, n_in: int, n_out: int, generator: torch.Generator):
        super().__init__()
        width = config.width
        self.linears = nn.ModuleList([nn.Linear(n_in, width)] +
                                     [nn.Linear(width, width) for _ in range(config.depth - 1)])
        norm = {"none": lambda: nn.Identity(), "batch": lambda: nn.BatchNorm1d(width),
                "layer": lambda: nn.LayerNorm(width)}[config.norm]
        self.norms = nn.ModuleList([norm() for _ in range(config.depth)])
        self.activation = make_activation(config.activation)  # stateless: one module serves every layer
        self.output = nn.Linear(width, n_out)
        self.residual = config.residual
        for layer in [*self.linears, self.output]:
            init_linear_(layer, config.init, generator)

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """The output; with `record`, append (z, u, a) per hidden layer: z = Wh + b, u = norm(z), a = f(u)."""
        h = x
        for index, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            z = linear(h)
            u = norm(z)
            a = self.activation(u)
            if record is not None:
                record.append((z, u, a))
            h = h + a if self.residual and index > 0 else a
        return self.output(h)

    def layer_weights(self) -> list[nn.Parameter]:
        return [layer.weight for layer in [*self.linears, self.output]]


# ---------------------------------------------------------------- the theory line
def weight_variance(scheme: str, fan_in: int, fan_out: int) -> float | None:
    """E[W_ij²] that a scheme gives a fan_in → fan_out layer; None where the mean-field picture
    does not apply (a constant init makes every unit the same)."""
    if scheme == "constant":
        return None
    if scheme == "orthogonal":  # orthonormal rows or columns: each entry has mean square 1/max(fan)
        return 1.0 / max(fan_in, fan_out)
    return INIT_SCHEMES[scheme].variance(fan_in, fan_out)


_HERMITE_X, _HERMITE_W = np.polynomial.hermite.hermgauss(80)


def mean_square_through(activation: str, q: float) -> float:
    """E[f(z)²] for z ~ N(0, q), by Gauss–Hermite quadrature of the activation itself."""
    nodes = torch.tensor(math.sqrt(2.0 * q) * _HERMITE_X, dtype=torch.float64)
    with torch.no_grad():
        values = make_activation(activation)(nodes).numpy()
    return float(np.dot(_HERMITE_W, values * values) / math.sqrt(math.pi))


def predicted_preactivation_sq(config: DeepConfig, n_in: int, n_out: int, input_sq: float = 1.0) -> np.ndarray | None:
    """E[z_l²] per layer (hidden layers, then the output) that the init's variance implies at init.

    Mean-field recursion for a plain chain with zero biases: z_l = W_l h_{l−1} with independent
    zero-mean weights gives E[z_l²] = fan_in · Var(W_l) · E[h_{l−1}²], and h = f(z) with z ≈ Gaussian.
    He (2/fan_in) keeps it constant through ReLU, LeCun (1/fan_in) through linear layers, Xavier
    balances it with the backward pass. None with normalization or residuals, which change the recursion.
    """
    if config.norm != "none" or config.residual:
        return None
    widths = [n_in] + [config.width] * config.depth + [n_out]
    q, second_moment, out = 0.0, input_sq, []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        variance = weight_variance(config.init, fan_in, fan_out)
        if variance is None:
            return None
        q = fan_in * variance * second_moment
        out.append(q)
        second_moment = mean_square_through(config.activation, q) if q > 0 else 0.0
    return np.array(out)


# ---------------------------------------------------------------- probes
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
    region = FLAT_REGIONS[activation]
    if region.test is None:
        flat = torch.zeros_like(a_mean)
    else:
        u = torch.stack([r[1] for r in record]) if activation in _RULES_ON_INPUT else None
        flat = region.test(u, a).to(a.dtype).mean(dim=(1, 2))
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


class WeightsCopy:
    """The model's weights as of a step, copied off the device for the snapshot (exports read them, never
    the live model). The widest, deepest network takes milliseconds to copy, so while training the copy
    is refreshed no sooner than WEIGHTS_COST_FACTOR times what the last one took; when training stops, at once."""

    def __init__(self) -> None:
        self.step, self.state = -1, None
        self._next_at = 0.0

    def refresh(self, model: nn.Module, step: int, training: bool) -> None:
        started = time.monotonic()
        if step == self.step or (training and started < self._next_at):
            return
        self.state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
        self.step = step
        self._next_at = time.monotonic() + WEIGHTS_COST_FACTOR * (time.monotonic() - started)


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


def clip_gradients(params: list[torch.Tensor], mode: str, threshold: float, total: torch.Tensor | None = None) -> None:
    """Clip in place: "value" clamps each entry to ±threshold (the direction may turn); "norm" rescales the
    whole gradient to norm ≤ threshold (the direction is kept); `total` is the norm if already known."""
    if mode == "norm":
        if total is None:
            torch.nn.utils.clip_grad_norm_(params, threshold)
        else:
            torch.nn.utils.clip_grads_with_norm_(params, threshold, total)
    elif mode == "value":
        torch.nn.utils.clip_grad_value_(params, threshold)
    elif mode != "off":
        raise ValueError(f"unknown clipping {mode!r}")


# ---------------------------------------------------------------- the job
DEFAULT_HYPERPARAMETERS = {
    "lr": 0.01, "batch_size": 64, "clip": "off", "clip_at": 1.0,
    "probes": True,  # False only for measuring what probes cost (bench/probes.py)
    "probe_every_step": False,
}
MOMENTUM = 0.9


def _input_standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


class GradientFlowJob(Job):
    """Trains a DeepMLP live; snapshots carry per-layer probes at init and now, and their history."""

    def __init__(self, config: DeepConfig | None = None, hyperparameters: dict[str, Any] | None = None, **kwargs):
        super().__init__(config or DeepConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)

    # ---- setup
    def setup(self) -> None:
        config: DeepConfig = self.config
        config.validate()
        self.dataset: Dataset = make_dataset(config.data)
        ds = self.dataset
        self.classification = ds.is_classification
        mean, std = _input_standardizer(ds.x_train)
        self.input_standardizer = (mean, std)  # the network reads (x - mean) / std
        device = self.device
        self.x_train = torch.tensor((ds.x_train - mean) / std, device=device)
        self.x_test = torch.tensor((ds.x_test - mean) / std, device=device)
        self.y_train, self.y_test = torch.tensor(ds.y_train, device=device), torch.tensor(ds.y_test, device=device)
        self.n_out = ds.n_classes if self.classification else 1
        self.model = DeepMLP(config, ds.input_dim, self.n_out, self.rng).to(device)
        self.optimizer = self._make_optimizer()
        self._weights = self.model.layer_weights()
        self._params = list(self.model.parameters())
        ids = {id(p): i for i, p in enumerate(self._params)}
        self._weight_index = torch.tensor([ids[id(w)] for w in self._weights], device=device)
        self._order = torch.randperm(len(self.x_train), generator=self.rng).to(device)
        self._cursor, self._samples_seen = 0, 0
        self._norm_window = torch.full((GRAD_NORM_WINDOW, config.depth + 1), float("nan"), device=device)
        self._window_steps = torch.zeros(GRAD_NORM_WINDOW, dtype=torch.long, device=device)
        self._last_batch: tuple[torch.Tensor, torch.Tensor] | None = None  # the batch that diverged
        with torch.no_grad():
            self._initial_weight_norms = torch.stack(torch._foreach_norm(self._weights))
        self.history = ProbeHistory()
        self.latest: Probe | None = None
        self.weights = WeightsCopy()
        self._probe_due, self._next_probe_at, self._next_eval_at = False, 0.0, 0.0
        probe_size = min(512, len(self.x_train))
        self.init_probe = self._probe_at_init(self.x_train[:probe_size], self.y_train[:probe_size])
        self.theory = predicted_preactivation_sq(config, ds.input_dim, self.n_out,
                                                 float(self.x_train[:probe_size].square().mean()))

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params, lr = self.model.parameters(), float(self.hp["lr"])
        return {
            "sgd": lambda: torch.optim.SGD(params, lr=lr),
            "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=MOMENTUM),
            "adam": lambda: torch.optim.Adam(params, lr=lr),
            "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr),
        }[self.config.optimizer]()

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if "batch_size" in changes:
            size = int(changes["batch_size"])
            if not 2 <= size <= 1024:
                raise ValueError("the batch size must be between 2 and 1024")
        if "clip" in changes and changes["clip"] not in CLIP_MODES:
            raise ValueError(f"unknown clipping {changes['clip']!r}")
        if "clip_at" in changes and not float(changes["clip_at"]) > 0:
            raise ValueError("the clipping threshold must be positive")
        if "lr" in changes:
            for group in self.optimizer.param_groups:
                group["lr"] = float(changes["lr"])

    @property
    def epoch(self) -> float:
        return self._samples_seen / len(self.x_train)

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return F.cross_entropy(output, target)
        return F.mse_loss(output[:, 0], target)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.x_train)
        size = min(int(self.hp["batch_size"]), n)
        if self._cursor + size > n:
            self._order = torch.randperm(n, generator=self.rng).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + size]
        self._cursor += size
        self._samples_seen += size
        return self.x_train[index], self.y_train[index]

    # ---- probing
    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor,
                          record: list | None) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(x, record)
        loss = self._loss(output, y)
        if record is not None:
            output.retain_grad()
            for _, _, a in record:
                a.retain_grad()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return output, loss

    def _probe_at_init(self, x: torch.Tensor, y: torch.Tensor) -> Probe:
        """One forward and one backward at the initial weights, no update: the picture before training."""
        self.model.train()
        record: list = []
        output, _ = self._forward_backward(x, y, record)
        packed = torch.cat([t.flatten() for t in reduce_probe(record, output, [w.grad for w in self._weights],
                                                              self.config.activation)])
        self.optimizer.zero_grad(set_to_none=True)
        for module in self.model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.reset_running_stats()  # the probe batch must not count as training
        return unpack_probe(0, packed.double().cpu().numpy(), self.config.depth)

    def _probing_now(self) -> bool:
        return bool(self.hp["probes"]) and (self._probe_due or bool(self.hp["probe_every_step"]))

    # ---- training
    def train_step(self) -> dict[str, float]:
        x, y = self._next_batch()  # the model is in train mode: evaluate() puts it back
        probing = self._probing_now()
        # Every WATCH_EVERY steps (and with each probe) the per-layer gradient norms go into a small
        # window on the device: cheap, and enough to tell later where an explosion began.
        watching = bool(self.hp["probes"]) and (probing or self.steps_done % WATCH_EVERY == 0)
        record: list | None = [] if probing else None
        output, loss = self._forward_backward(x, y, record)
        self._last_batch = (x, y)
        if not watching:
            loss_value = loss.item()
            if math.isfinite(loss_value):  # else no update: the weights stay finite for the diagnosis
                clip_gradients(self._params, self.hp["clip"], float(self.hp["clip_at"]))
                self.optimizer.step()
            return {"loss": loss_value}
        param_norms = torch.stack(torch._foreach_norm([p.grad for p in self._params]))
        total = param_norms.norm()
        slot = (self.steps_done // WATCH_EVERY) % GRAD_NORM_WINDOW
        self._norm_window[slot] = param_norms[self._weight_index]
        self._window_steps[slot] = self.steps_done + 1
        if probing:
            stats, act_hist, grad_hist = reduce_probe(record, output, [w.grad for w in self._weights],
                                                      self.config.activation)
            with torch.no_grad():
                before = torch._foreach_mul(self._weights, 1.0)  # a copy
        loss_value, total_value = torch.stack([loss.detach(), total]).tolist()  # the step's one sync, as .item()
        metrics = {"loss": loss_value, "grad_norm": total_value}
        if not (math.isfinite(loss_value) and math.isfinite(total_value)):
            return metrics  # no update: the weights stay finite for the diagnosis
        clip_gradients(self._params, self.hp["clip"], float(self.hp["clip_at"]), total)
        self.optimizer.step()
        if probing:
            with torch.no_grad():
                moved = torch.stack(torch._foreach_norm(torch._foreach_sub(self._weights, before)))
                size = torch.stack(torch._foreach_norm(before))
                stats[:, COLUMN["update_ratio"]] = torch.where(size > 0, moved / size, math.nan)
                packed = torch.cat([stats.flatten(), act_hist, grad_hist]).double().cpu().numpy()
            self.latest = unpack_probe(self.steps_done + 1, packed, self.config.depth)
            self.history.offer(self.latest.step, self.latest.stats)
            self._probe_due = False
        return metrics

    def evaluate(self) -> dict[str, float]:
        now = time.monotonic()
        if now < self._next_eval_at:
            return {}
        self._next_eval_at = now + PROBE_INTERVAL_S
        self.model.eval()
        metrics = {}
        for name, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            output = self.model(x)
            metrics[f"{name}_loss"] = float(self._loss(output, y))
            if self.classification:
                metrics[f"{name}_accuracy"] = float((output.argmax(dim=1) == y).float().mean())
        self.model.train()
        return metrics

    def observe(self) -> dict[str, Any]:
        now = time.monotonic()
        if now >= self._next_probe_at:  # the next training step carries a probe
            self._probe_due = True
            self._next_probe_at = now + PROBE_INTERVAL_S
        steps, stats = self.history.frozen(self.config.depth + 1)
        self.weights.refresh(self.model, self.steps_done, self._busy())
        return {
            "layers": self.config.layer_names, "init_probe": self.init_probe, "latest_probe": self.latest,
            "history_steps": steps, "history_stats": stats, "theory": self.theory,
            "flat_region": FLAT_REGIONS[self.config.activation],
            "state": self.weights.state, "state_step": self.weights.step, "input_standardizer": self.input_standardizer,
        }

    # ---- divergence
    def explain_divergence(self, step: int, name: str, value: float) -> str:
        names = self.config.layer_names
        where = self._locate_overflow()
        steps, norms = self._norm_window_on_host()
        origin = explosion_origin(steps, norms)
        parts = [f"Training diverged: the {'training loss' if name == 'loss' else 'gradient norm'} "
                 f"became {value} at step {step}."]
        if origin is not None:
            origin_step, layer = origin
            start = norms[0, layer]
            parts.append(f"Gradients exploded, starting in {names[layer]}: its gradient norm grew more than "
                         f"{EXPLOSION_FACTOR:g}× from {start:.3g} (step {int(steps[0])}) by step {origin_step}.")
        if where:
            parts.append(where)
        parts.append(self._weight_growth())
        parts.append(self._advice())
        return " ".join(part for part in parts if part)

    def _norm_window_on_host(self) -> tuple[np.ndarray, np.ndarray]:
        steps = self._window_steps.cpu().numpy()
        norms = self._norm_window.double().cpu().numpy()
        order = np.argsort(steps)
        keep = steps[order] > 0
        return steps[order][keep], norms[order][keep]

    def _locate_overflow(self) -> str:
        """Run the failing batch once more (weights untouched) and say which layer overflowed first."""
        if self._last_batch is None:
            return ""
        x, y = self._last_batch
        names = self.config.layer_names
        broken = first_nonfinite(list(reversed(self._weights)))
        if broken is not None:  # an update with an overflowed gradient; it overflowed nearest the output first
            layer = len(self._weights) - 1 - broken
            return (f"The last update made the weights of {names[layer]} inf/NaN: the gradient overflowed there on "
                    "its way back from the output, and in every layer before it.")
        record: list = []
        with torch.enable_grad():
            output = self.model(x, record)
            layer = first_nonfinite([a for _, _, a in record] + [output])
            if layer is not None:
                return (f"In the forward pass the activations first overflowed to inf/NaN in {names[layer]}, "
                        "so every layer after it and the loss are meaningless.")
            loss = self._loss(output, y)
            gradients = torch.autograd.grad(loss, [a for _, _, a in record] + [output], allow_unused=True)
        from_output = list(reversed(range(len(gradients))))
        for index in from_output:
            gradient = gradients[index]
            if gradient is not None and not torch.isfinite(gradient).all():
                return (f"On its way back from the output the gradient first overflowed at {names[index]} "
                        "(each layer multiplies it by its Jacobian).")
        return ""

    def _weight_growth(self) -> str:
        """Which layer's weights the updates inflated most since initialization (large steps compound)."""
        with torch.no_grad():
            now = torch.stack(torch._foreach_norm(self._weights))
            growth = (now / self._initial_weight_norms.clamp(min=1e-30)).double().cpu().numpy()
        growth = np.where(np.isfinite(growth), growth, np.inf)
        layer = int(np.argmax(growth))
        if not growth[layer] >= 10:
            return ""
        times = "beyond what float32 can hold" if not np.isfinite(growth[layer]) else f"{growth[layer]:.3g}×"
        return (f"The updates grew the weights of {self.config.layer_names[layer]} most: their norm went up "
                f"{times} since initialization.")

    def _advice(self) -> str:
        config = self.config
        at_init = not np.isfinite(self.init_probe.stats[:, COLUMN["preact_sq"]]).all()
        tips = [] if at_init else [f"lower the learning rate (now {float(self.hp['lr']):g})"]
        if self.hp["clip"] == "off" and not at_init:
            tips.append("turn on gradient clipping")
        if at_init or config.init in ("large_normal", "constant"):
            tips.append("choose an init that keeps the variance (He for ReLU, Xavier or LeCun for tanh)")
        if config.norm == "none":
            tips.append("add batch or layer norm")
        lead = "The network overflows at initialization, before any update. " if at_init else ""
        return lead + "To fix it: " + ", ".join(tips) + "; then press Reset."


ACTIVATION_CHOICES = {name: ACTIVATION_LABELS[name] for name in DEEP_ACTIVATIONS}
INIT_CHOICES = {name: INIT_SCHEMES[name].label for name in DEEP_INITS}
OPTIMIZER_CHOICES = {name: OPTIMIZERS[name] for name in DEEP_OPTIMIZERS}
