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
    """depth × (Linear → norm → activation), optionally residual (h ← h + a from layer 2 on), then Linear."""

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
