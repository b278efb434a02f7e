"""Activations and weight-initialization schemes shared by every network in Gradscape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


class Step(nn.Module):
    """Heaviside step, the perceptron's activation. Its gradient is zero almost
    everywhere, so only the perceptron learning rule can train through it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity,
    "step": Step,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
}

ACTIVATION_LABELS = {
    "linear": "Linear", "step": "Step (perceptron)", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU",
    "leaky_relu": "Leaky ReLU", "elu": "ELU", "selu": "SELU", "gelu": "GELU",
}


def relu_mlp(inputs: int, width: int, depth: int, outputs: int) -> nn.Sequential:
    """`depth` hidden layers of `width` ReLU units, then a linear layer."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(inputs if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width if depth else inputs, outputs))
    return nn.Sequential(*layers)


def make_activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


@dataclass(frozen=True)
class InitScheme:
    """A weight-initialization rule: its name, the formula people read, and the
    weight variance it aims for as a function of (fan_in, fan_out)."""

    label: str
    formula: str
    variance: Callable[[int, int], float] | None  # None where "variance" says nothing (orthogonal)


CONSTANT_VALUE = 0.5
NORMAL_STD = 0.1
SMALL_NORMAL_STD = 0.01
LARGE_NORMAL_STD = 1.0
UNIFORM_LIMIT = 0.5

INIT_SCHEMES: dict[str, InitScheme] = {
    "zeros": InitScheme("Zeros", r"W = 0", lambda i, o: 0.0),
    "constant": InitScheme("Constant", rf"W = {CONSTANT_VALUE}", lambda i, o: 0.0),
    "uniform": InitScheme("Uniform", rf"W \sim U(-{UNIFORM_LIMIT}, {UNIFORM_LIMIT})",
                          lambda i, o: (2 * UNIFORM_LIMIT) ** 2 / 12),
    "normal": InitScheme("Normal", rf"W \sim \mathcal{{N}}(0, {NORMAL_STD}^2)", lambda i, o: NORMAL_STD**2),
    "small_normal": InitScheme("Small normal", rf"W \sim \mathcal{{N}}(0, {SMALL_NORMAL_STD}^2)",
                               lambda i, o: SMALL_NORMAL_STD**2),
    "large_normal": InitScheme("Large normal", rf"W \sim \mathcal{{N}}(0, {LARGE_NORMAL_STD:g}^2)",
                               lambda i, o: LARGE_NORMAL_STD**2),
    "xavier_uniform": InitScheme("Xavier/Glorot uniform",
                                 r"W \sim U\!\left(\pm\sqrt{6/(n_{in}+n_{out})}\right)", lambda i, o: 2.0 / (i + o)),
    "xavier_normal": InitScheme("Xavier/Glorot normal", r"W \sim \mathcal{N}\!\left(0, \frac{2}{n_{in}+n_{out}}\right)",
                                lambda i, o: 2.0 / (i + o)),
    "he": InitScheme("He/Kaiming normal", r"W \sim \mathcal{N}\!\left(0, \frac{2}{n_{in}}\right)",
                     lambda i, o: 2.0 / i),
    "lecun": InitScheme("LeCun normal", r"W \sim \mathcal{N}\!\left(0, \frac{1}{n_{in}}\right)", lambda i, o: 1.0 / i),
    "orthogonal": InitScheme("Orthogonal", r"W = QR\text{-orthogonal},\ W^\top W = I", None),
}


def init_linear_(layer: nn.Linear, scheme: str, generator: torch.Generator) -> None:
    """Initialize a linear layer's weight in place by `scheme`; biases start at zero."""
    weight = layer.weight
    fan_out, fan_in = weight.shape
    with torch.no_grad():
        if scheme == "zeros":
            weight.zero_()
        elif scheme == "constant":
            weight.fill_(CONSTANT_VALUE)
        elif scheme == "uniform":
            weight.uniform_(-UNIFORM_LIMIT, UNIFORM_LIMIT, generator=generator)
        elif scheme in ("normal", "small_normal", "large_normal"):
            std = {"normal": NORMAL_STD, "small_normal": SMALL_NORMAL_STD, "large_normal": LARGE_NORMAL_STD}[scheme]
            weight.normal_(0.0, std, generator=generator)
        elif scheme == "xavier_uniform":
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            weight.uniform_(-limit, limit, generator=generator)
        elif scheme in ("xavier_normal", "he", "lecun"):
            weight.normal_(0.0, math.sqrt(INIT_SCHEMES[scheme].variance(fan_in, fan_out)), generator=generator)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(weight, generator=generator)
        else:
            raise ValueError(f"unknown weight init {scheme!r}; choose one of {sorted(INIT_SCHEMES)}")
        if layer.bias is not None:
            layer.bias.zero_()
