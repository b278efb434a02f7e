"""The deep network of the Gradient Flow page, and the theory line: what its initialization predicts for the
size of each layer's pre-activations."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from engine.common.layers import INIT_SCHEMES, init_linear_, make_activation
from engine.gradients.deep_config import DeepConfig


class DeepMLP(nn.Module):
    """depth × (Linear → norm → activation), then Linear. Residual, from layer 2 on: h ← h + f(norm(Wh)) in the
    classic order, or h ← h + W f(norm(h)) in the pre-activation order."""

    def __init__(self, config: DeepConfig, n_in: int, n_out: int, generator: torch.Generator):
        super().__init__()
        width = config.width
        self.linears = nn.ModuleList([nn.Linear(n_in, width)] +
                                     [nn.Linear(width, width) for _ in range(config.depth - 1)])
        norm = {"none": lambda: nn.Identity(), "batch": lambda: nn.BatchNorm1d(width),
                "layer": lambda: nn.LayerNorm(width, elementwise_affine=config.layer_norm_affine)}[config.norm]
        self.norms = nn.ModuleList([norm() for _ in range(config.depth)])
        self.activation = make_activation(config.activation)  # stateless: one module serves every layer
        self.output = nn.Linear(width, n_out)
        self.residual = config.residual
        self.pre_activation = config.residual and config.residual_order == "pre"
        for layer in [*self.linears, self.output]:
            init_linear_(layer, config.init, generator)

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """The output; with `record`, append (z, u, a) per hidden layer: z the linear layer's output, a = f(u) the
        activation of u. In order: u = norm(z), a = f(u); pre-activation blocks: u = norm(h), a = f(u), z = Wa + b."""
        h = x
        for index, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            if self.pre_activation and index > 0:
                u = norm(h)
                a = self.activation(u)
                z = linear(a)
                h = h + z
            else:
                z = linear(h)
                u = norm(z)
                a = self.activation(u)
                h = h + a if self.residual and index > 0 else a
            if record is not None:
                record.append((z, u, a))
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


def _activation_at(activation: str, values: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return make_activation(activation)(torch.from_numpy(values)).numpy()


def moments_through(activation: str, q: float) -> tuple[float, float]:
    """(E[f(z)], E[f(z)²]) for z ~ N(0, q), by Gauss–Hermite quadrature of the activation itself."""
    values = _activation_at(activation, math.sqrt(2.0 * q) * _HERMITE_X)
    return (float(np.dot(_HERMITE_W, values)) / math.sqrt(math.pi),
            float(np.dot(_HERMITE_W, values * values)) / math.sqrt(math.pi))


def mean_square_through(activation: str, q: float) -> float:
    """E[f(z)²] for z ~ N(0, q)."""
    return moments_through(activation, q)[1]


def mean_square_of_sum_through(activation: str, q: float, added: float) -> float:
    """E[f(f(z) + g)²] for independent z ~ N(0, q), g ~ N(0, added), by quadrature on both: what a
    pre-activation block's activation gives, its input being the first layer's f(z) plus what the blocks added."""
    first = _activation_at(activation, math.sqrt(2.0 * q) * _HERMITE_X)
    values = _activation_at(activation, first[:, None] + math.sqrt(2.0 * added) * _HERMITE_X[None, :])
    return float(_HERMITE_W @ (values * values) @ _HERMITE_W) / math.pi


def predicted_preactivation_sq(config: DeepConfig, n_in: int, n_out: int, input_sq: float = 1.0) -> np.ndarray | None:
    """E[z_l²] per layer (hidden layers, then the output) that the init's variance implies at init.

    Mean field, zero biases: z_l = W_l h_{l−1} with independent zero-mean weights gives E[z_l²] =
    fan_in · Var(W_l) · E[h_{l−1}²], and each unit's z is Gaussian and independent of what came before.
    - Plain chain, h = f(z): He (2/fan_in) keeps E[z²] constant through ReLU, LeCun (1/fan_in) through
      linear layers, Xavier balances it with the backward pass.
    - Residual, h_l = h_{l−1} + f(z_l): the unit's h is a sum of independent f(z_k), so
      E[h_l²] = E[h_{l−1}²] + 2 E[h_{l−1}] E[f(z_l)] + E[f(z_l)²]: it grows every block.
    - Pre-activation, h_l = h_{l−1} + z_l with z_l = W_l f(h_{l−1}): E[h_l²] = E[h_{l−1}²] + E[z_l²] (the
      zero-mean weights leave no cross term), with E[z_l²] = fan_in · Var(W) · E[f(h_{l−1})²] and h_{l−1} = f(z_1) plus
      a Gaussian of variance E[z_2²] + ... + E[z_{l−1}²]. He with ReLU: E[f(h)²] ≈ E[h²]/2, so E[h²] about doubles
      per block (course note 002).
    None with normalization (the recursion changes) or a constant init (every unit the same).
    """
    if config.norm != "none":
        return None
    widths = [n_in] + [config.width] * config.depth + [n_out]
    variances = [weight_variance(config.init, fan_in, fan_out) for fan_in, fan_out in zip(widths[:-1], widths[1:])]
    if None in variances:
        return None
    gains = [fan_in * variance for fan_in, variance in zip(widths[:-1], variances)]  # E[z²] = gain · E[input²]
    first = gains[0] * input_sq
    out = [first]
    mean, square = moments_through(config.activation, first)  # of h, per unit
    added = 0.0  # pre-activation: the variance the blocks have added to h_1 = f(z_1)
    for gain in gains[1:-1]:
        if config.residual and config.residual_order == "pre":
            q = gain * mean_square_of_sum_through(config.activation, first, added)
            added, square = added + q, square + q
        else:
            q = gain * square
            branch_mean, branch_square = moments_through(config.activation, q)
            if config.residual:
                mean, square = mean + branch_mean, square + 2 * mean * branch_mean + branch_square
            else:
                mean, square = branch_mean, branch_square
        out.append(q)
    out.append(gains[-1] * square)
    return np.array(out)
