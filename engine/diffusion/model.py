"""The ε-prediction network of the Diffusion page: an MLP of residual blocks told t by a sinusoidal embedding."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """t -> [sin(s·f_k), cos(s·f_k)] with s = 1000·t/T, so one network layout suits any T."""

    def __init__(self, dim: int, T: int, max_period: float = 10_000.0):
        super().__init__()
        half = dim // 2
        self.register_buffer("frequencies", torch.exp(-math.log(max_period) * torch.arange(half) / half),
                             persistent=False)
        self.T = T

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (1000.0 / self.T) * t.float()[:, None] * self.frequencies[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResidualBlock(nn.Module):
    """h + W₂ · SiLU(W₁ · SiLU(LayerNorm(h)) + time projection)."""

    def __init__(self, width: int, time_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        inner = nn.functional.silu(self.inner(nn.functional.silu(self.norm(h))) + self.time(time))
        return h + self.outer(inner)


class EpsilonNetwork(nn.Module):
    """ε̂(x_t, t): an MLP of residual blocks, each told t through a sinusoidal embedding."""

    def __init__(self, data_dim: int, width: int, depth: int, T: int, time_dim: int = 64):
        super().__init__()
        self.embed_time = nn.Sequential(SinusoidalEmbedding(time_dim, T), nn.Linear(time_dim, time_dim), nn.SiLU())
        self.inp = nn.Linear(data_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, time_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, data_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        time = self.embed_time(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, time)
        return self.out(nn.functional.silu(self.norm(h)))


def initialize(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialization, but drawn from `generator` instead of the global RNG."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
