"""A small fully connected network (2 inputs, 0-3 hidden layers of 1-4 units, one output) and its backward pass
computed the way the course notes write it, unit by unit:

    forward:   a_j = Σ_i w_ji z_i + b_j,   z_j = h(a_j)            (z of the inputs: x)
    output:    δ_out = ∂L/∂a_out = p − y   (sigmoid + binary cross-entropy, or linear + ½(z − y)²: the same form)
    backward:  δ_j = h'(a_j) Σ_k w_kj δ_k
    gradient:  ∂L/∂w_ji = δ_j z_i,   ∂L/∂b_j = δ_j          (per example; a minibatch's gradient is their mean)

Everything is float64 and kept per example, so a page can show any unit's a, z and δ and any edge's ∂L/∂w for a
chosen example, and the minibatch mean the update uses. The parameters travel as one flat vector (each layer's
W row by row, then its b), which is what a link holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
ACTIVATION_LABELS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}
LOSSES = ("bce", "mse")  # bce: sigmoid output unit, binary cross-entropy; mse: linear output unit, ½(z − y)²
MAX_LAYERS, MAX_WIDTH = 3, 4
INPUTS = 2


def activate(name: str, a: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "linear":
        return a.copy()
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def slope(name: str, a: np.ndarray) -> np.ndarray:
    """h'(a); ReLU's slope at exactly 0 is taken as 0, as torch does."""
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return s * (1.0 - s)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


@dataclass(frozen=True)
class Architecture:
    hidden: tuple[int, ...] = (2,)  # units per hidden layer
    activation: str = "relu"  # of every hidden unit
    loss: str = "bce"

    def __post_init__(self) -> None:
        if len(self.hidden) > MAX_LAYERS or any(not 1 <= width <= MAX_WIDTH for width in self.hidden):
            raise ValueError(f"at most {MAX_LAYERS} hidden layers of 1 to {MAX_WIDTH} units, not {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose bce or mse")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (INPUTS, *self.hidden, 1)

    @property
    def parameter_count(self) -> int:
        return sum((n_in + 1) * n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))

    def unpack(self, flat, dtype=np.float64) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W (out, in), b (out,)) per layer] from the flat vector."""
        flat = np.asarray(flat, dtype=dtype)
        if flat.shape != (self.parameter_count,):
            raise ValueError(f"this network has {self.parameter_count} weights and biases, not {flat.size}")
        layers, at = [], 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            w = flat[at:at + n_in * n_out].reshape(n_out, n_in)
            at += n_in * n_out
            layers.append((w, flat[at:at + n_out]))
            at += n_out
        return layers

    def names(self) -> list[str]:
        """The flat vector's entries by name: w[l][j,i] (layer l's unit j from unit i below), b[l][j]."""
        names = []
        for layer, (n_in, n_out) in enumerate(zip(self.sizes, self.sizes[1:]), start=1):
            names += [f"w{layer}[{j + 1},{i + 1}]" for j in range(n_out) for i in range(n_in)]
            names += [f"b{layer}[{j + 1}]" for j in range(n_out)]
        return names

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """He/Xavier-scaled random weights (by the activation), zero biases."""
        parts = []
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            scale = np.sqrt((2.0 if self.activation == "relu" else 1.0) / n_in)
            parts += [scale * rng.standard_normal(n_in * n_out), np.zeros(n_out)]
        return np.concatenate(parts)

    def output_activation(self) -> str:
        return "sigmoid" if self.loss == "bce" else "linear"


@dataclass(frozen=True)
class Pass:
    """One forward and backward pass over a batch of B examples, every number per example."""

    a: list[np.ndarray]  # per layer 1..L: (B, units) pre-activations
    z: list[np.ndarray]  # per layer 0..L: (B, units) outputs (z[0] = x)
    delta: list[np.ndarray]  # per layer 1..L: (B, units) ∂L/∂a for each example's own loss
    grad_w: list[np.ndarray]  # per layer 1..L: (B, out, in) per-example ∂L/∂W
    losses: np.ndarray  # (B,) each example's loss
    y: np.ndarray  # (B,)

    @property
    def loss(self) -> float:
        return float(self.losses.mean())

    @property
    def output(self) -> np.ndarray:
        return self.z[-1][:, 0]

    def mean_gradient(self) -> np.ndarray:
        """The minibatch gradient of the mean loss, as a flat vector in the parameters' order."""
        return np.concatenate([part for g, d in zip(self.grad_w, self.delta) for part in (g.mean(axis=0).ravel(),
                                                                                         d.mean(axis=0))])


def run(arch: Architecture, flat, x: np.ndarray, y: np.ndarray, dtype=np.float64) -> Pass:
    """Forward and backward pass over the batch (x: (B, 2), y: (B,) labels 0/1 or targets), in `dtype` (float64;
    the gradient check's finite differences use NumPy's extended precision)."""
    layers = arch.unpack(flat, dtype)
    x, y = np.asarray(x, dtype=dtype), np.asarray(y, dtype=dtype)
    a, z = [], [x]
    for index, (w, b) in enumerate(layers):
        a.append(z[-1] @ w.T + b)
        z.append(activate(arch.output_activation() if index == len(layers) - 1 else arch.activation, a[-1]))
    out = z[-1][:, 0]
    if arch.loss == "bce":
        # −[y log p + (1 − y) log(1 − p)] in the logit, without cancellation: softplus(−logit) for y = 1 and
        # softplus(logit) for y = 0 (finite differences of the loss need every digit)
        logit = a[-1][:, 0]
        losses = y * np.logaddexp(0.0, -logit) + (1 - y) * np.logaddexp(0.0, logit)
    else:
        losses = 0.5 * (out - y) ** 2
    delta = [None] * len(layers)
    delta[-1] = (out - y)[:, None]
    for index in range(len(layers) - 2, -1, -1):
        w_above = layers[index + 1][0]
        delta[index] = slope(arch.activation, a[index]) * (delta[index + 1] @ w_above)
    grad_w = [d[:, :, None] * z_below[:, None, :] for d, z_below in zip(delta, z[:-1])]
    return Pass(a, z, delta, grad_w, losses, y)


def loss_of(arch: Architecture, flat, x: np.ndarray, y: np.ndarray, dtype=np.float64):
    return run(arch, flat, x, y, dtype).losses.mean()


def dead_units(arch: Architecture, p: Pass) -> list[tuple[int, int]]:
    """(layer, unit) of every hidden unit that outputs exactly 0 on every example of the pass (a ReLU below its
    kink everywhere): no gradient flows back through it, so the weights into it never change."""
    return [(layer, j) for layer in range(1, len(arch.sizes) - 1) for j in range(arch.sizes[layer])
            if not np.any(p.z[layer][:, j])]


def permute_hidden_units(arch: Architecture, flat, layer: int, first: int, second: int) -> np.ndarray:
    """The same function with hidden units `first` and `second` of hidden layer `layer` (1-based) swapped: their
    incoming rows and biases, and their columns in the layer above."""
    if not 1 <= layer <= len(arch.hidden):
        raise ValueError(f"there is no hidden layer {layer}")
    layers = [(w.copy(), b.copy()) for w, b in arch.unpack(flat)]
    order = np.arange(arch.hidden[layer - 1])
    order[[first, second]] = order[[second, first]]
    w, b = layers[layer - 1]
    layers[layer - 1] = (w[order], b[order])
    w_above, b_above = layers[layer]
    layers[layer] = (w_above[:, order], b_above)
    return np.concatenate([part for w, b in layers for part in (w.ravel(), b)])


def predict(arch: Architecture, flat, x: np.ndarray) -> np.ndarray:
    """The network's output (probability of class 1, or the regression's value) at each row of x."""
    z = np.asarray(x, dtype=np.float64)
    layers = arch.unpack(flat)
    for index, (w, b) in enumerate(layers):
        z = activate(arch.output_activation() if index == len(layers) - 1 else arch.activation, z @ w.T + b)
    return z[:, 0]


def surface(arch: Architecture, flat, extent, cells: int = 60) -> np.ndarray:
    """predict over a cells × cells grid of the square `extent` (x_min, x_max, y_min, y_max); rows are x2."""
    x_min, x_max, y_min, y_max = extent
    xs, ys = np.meshgrid(np.linspace(x_min, x_max, cells), np.linspace(y_min, y_max, cells))
    return predict(arch, flat, np.stack([xs.ravel(), ys.ravel()], axis=1)).reshape(cells, cells)
