"""The straight pieces of a piecewise-linear network of one input: where its output bends, exactly."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.playground.config import PlaygroundConfig
from engine.playground.data import Dataset
from engine.playground.model import PlaygroundNet

# Activations that keep a network piecewise linear in its input (its output is then made of straight pieces).
PIECEWISE_LINEAR = ("linear", "relu", "leaky_relu")


def counts_linear_pieces(config: PlaygroundConfig, dataset: Dataset) -> bool:
    """Whether the output is a piecewise-linear function of one input x₁, so its straight pieces can be counted."""
    return dataset.input_dim == 1 and config.features == ("x1",) and set(config.activations) <= set(PIECEWISE_LINEAR)


def kinks_1d(model: PlaygroundNet, lo: float, hi: float) -> np.ndarray:
    """Where in (lo, hi) a piecewise-linear network of one input x₁ bends (eval mode), exactly.

    Layer by layer: on each interval where the layers so far are affine, a unit's pre-activation is affine
    too, so it changes sign at most once, at a root that linear interpolation finds exactly; the roots split
    the intervals. At the end a split where the output's slope is the same on both sides (a dead unit, or
    one whose outgoing weights cancel) is no bend. The network has len(kinks) + 1 linear pieces."""
    points = np.array([lo, hi], dtype=np.float64)
    for layer in range(len(model.linears)):
        pre = pre_activations(model, points)[layer]  # (points, units)
        if isinstance(model.activations[layer], nn.Identity):
            continue
        left, right = pre[:-1], pre[1:]
        crossing = left * right < 0
        share = np.divide(left, left - right, out=np.zeros_like(left), where=crossing)
        roots = (points[:-1, None] + share * np.diff(points)[:, None])[crossing]
        points = np.unique(np.concatenate([points, roots]))
    output = pre_activations(model, points)[-1]
    slopes = np.diff(output, axis=0) / np.diff(points)[:, None]  # (pieces, outputs)
    # Rounding leaves slope differences far below this where the output is straight (or flat).
    scale = max(float(np.abs(slopes).max()), (float(np.abs(output).max()) + 1.0) / (hi - lo))
    bends = np.abs(np.diff(slopes, axis=0)).max(axis=1) > 1e-7 * scale
    return points[1:-1][bends]


def pre_activations(model: PlaygroundNet, x1: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's input to its activation, then the output, at inputs x1: float64 on the CPU, in
    eval mode (batch norm with its running statistics, no dropout), without touching the live model."""
    def double(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.detach().to("cpu", torch.float64)

    with torch.no_grad():
        h = model.featurize(torch.tensor(x1, dtype=torch.float64)[:, None])
        layers = []
        for linear, norm, activation in zip(model.linears, model.norms, model.activations):
            z = F.linear(h, double(linear.weight), double(linear.bias))
            if isinstance(norm, nn.BatchNorm1d):
                z = F.batch_norm(z, double(norm.running_mean), double(norm.running_var), double(norm.weight),
                                 double(norm.bias), training=False, eps=norm.eps)
            layers.append(z.numpy())
            h = activation(z)
        layers.append(F.linear(h, double(model.output.weight), double(model.output.bias)).numpy())
    return layers
