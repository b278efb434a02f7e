"""The CNN page's two networks: a small CNN (conv blocks, then global average pooling and one linear layer) and
an MLP with about as many parameters, so that what differs between them is weight sharing and locality, not
size.

A conv block is conv -> (batch norm) -> activation -> (2x2 pooling). Global average pooling makes the class
scores depend on *what* the last feature maps found, not *where*: with equivariant conv layers below it, the
network is nearly invariant to shifts, which the page measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.common.layers import make_activation

POOLINGS = ("max", "avg", "none")
PADDINGS = ("zeros", "circular")


@dataclass(frozen=True)
class CnnShape:
    """What the CNN is made of (a part of the page's config)."""

    conv_layers: int = 2
    channels: int = 16
    kernel: int = 3
    pooling: str = "max"
    batch_norm: bool = True
    activation: str = "relu"
    padding: str = "zeros"


class ConvNet(nn.Module):
    """conv blocks (each followed by its pooling) -> global average pooling -> linear."""

    def __init__(self, shape: CnnShape, side: int, classes: int):
        super().__init__()
        self.blocks = nn.ModuleList()
        self.pools = nn.ModuleList()
        channels_in = 1
        for _ in range(shape.conv_layers):
            layers: list[nn.Module] = [nn.Conv2d(channels_in, shape.channels, shape.kernel, padding=shape.kernel // 2,
                                                 padding_mode=shape.padding, bias=not shape.batch_norm)]
            if shape.batch_norm:
                layers.append(nn.BatchNorm2d(shape.channels))
            layers.append(make_activation(shape.activation))
            self.blocks.append(nn.Sequential(*layers))
            if shape.pooling != "none" and side >= 2:  # an 8x8 digit pools to 4, 2, 1 and no further
                self.pools.append(nn.MaxPool2d(2) if shape.pooling == "max" else nn.AvgPool2d(2))
                side //= 2
            else:
                self.pools.append(nn.Identity())
            channels_in = shape.channels
        self.head = nn.Linear(channels_in, classes)

    @property
    def pooling_factors(self) -> list[int]:
        """How much smaller than the input each conv layer's map is (the pooling before it: 1, 2, 4, ...)."""
        factors, factor = [], 1
        for pool in self.pools:
            factors.append(factor)
            factor *= 1 if isinstance(pool, nn.Identity) else 2
        return factors

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Each conv layer's activations (before its pooling), and the last pooled map."""
        maps = []
        for block, pool in zip(self.blocks, self.pools):
            x = block(x)
            maps.append(x)
            x = pool(x)
        return maps, x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[1].mean(dim=(-2, -1)))


class Mlp(nn.Module):
    """One hidden layer on the flattened image."""

    def __init__(self, pixels: int, hidden: int, classes: int, activation: str):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), make_activation(activation),
                                 nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_mlp(cnn: ConvNet, side: int, classes: int, activation: str) -> Mlp:
    """The MLP whose parameter count is nearest the CNN's: pixels·h + h + h·classes + classes ≈ P."""
    pixels = side * side
    hidden = max(1, round((parameter_count(cnn) - classes) / (pixels + 1 + classes)))
    return Mlp(pixels, hidden, classes, activation)


def initialize(module: nn.Module, generator: torch.Generator) -> None:
    """He-uniform weights (variance 2/fan_in, for ReLU-like units), drawn from `generator` (not torch's global
    RNG, which other jobs' threads share); zero biases."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                fan_in = layer.weight[0].numel()
                bound = (6.0 / fan_in) ** 0.5
                layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
                if layer.bias is not None:
                    layer.bias.zero_()
