"""Equivariance and invariance, measured.

A convolution commutes with shifts: conv(shift(x)) = shift(conv(x)) wherever both see the same pixels.
2x2 pooling keeps that for shifts by a multiple of 2 (the map is half the size, so the shift halves too).
Global average pooling then forgets where a feature was: the class scores barely move. An MLP has no such
structure, and a shifted image is a different input to it.

Exactly: with circular padding and a circular shift (torch.roll) every conv layer is equivariant to the last
bit. With zero padding the zeros shifted in and the zeros padded in differ near the border, so the error is
measured away from it (a margin of the shift plus the layer's receptive-field radius).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.cnn.data import shift_images
from engine.cnn.model import ConvNet


@dataclass(frozen=True)
class LayerEquivariance:
    """conv-then-shift against shift-then-conv at one conv layer's output."""

    layer: int  # 1-based
    map_shift: tuple[int, int]  # the shift on this layer's map: the input's, divided by the pooling before it
    exact_shift: bool  # whether the input's shift is a multiple of that pooling
    margin: int  # map pixels left out at each border (0 for circular)
    relative_error: float  # ‖f(shift x) − shift f(x)‖ / ‖shift f(x)‖ over the compared region (nan: none left)

    def row(self) -> dict[str, str]:
        """As a page's table shows it."""
        rounded = "" if self.exact_shift else " (rounded: not a multiple of the pooling)"
        error = "no pixel far enough from the border" if math.isnan(self.relative_error) \
            else f"{self.relative_error:.2e}"
        return {"conv layer": str(self.layer), "shift on its map": f"{self.map_shift[0]}, {self.map_shift[1]}{rounded}",
                "‖f(shift x) − shift f(x)‖ / ‖shift f(x)‖": error}


def _radius(network: ConvNet) -> list[int]:
    """Input pixels a unit of each conv layer's map reaches beyond its own position (receptive-field radius)."""
    radii, radius = [], 0
    for factor, block in zip(network.pooling_factors, network.blocks):
        radius += (block[0].kernel_size[0] // 2) * factor + (factor - 1)  # the pooling before it, then the conv
        radii.append(radius)
    return radii


@torch.no_grad()
def equivariance(network: ConvNet, x: torch.Tensor, dy: int, dx: int, circular: bool) -> list[LayerEquivariance]:
    """Per conv layer (its activations, before pooling), how far shift-then-convolve is from
    convolve-then-shift for images x (N, 1, H, W)."""
    was_training = network.training
    network.eval()
    try:
        plain = network.features(x)[0]
        moved = network.features(shift_images(x, dy, dx, circular=circular))[0]
    finally:
        network.train(was_training)
    layers = []
    for index, (factor, radius, a, b) in enumerate(zip(network.pooling_factors, _radius(network), plain, moved)):
        exact = dy % factor == 0 and dx % factor == 0
        map_dy, map_dx = round(dy / factor), round(dx / factor)
        expected = shift_images(a, map_dy, map_dx, circular=circular)
        margin = 0 if circular else math.ceil((max(abs(dy), abs(dx)) + radius) / factor)
        h, w = a.shape[-2:]
        if 2 * margin >= min(h, w):
            error = float("nan")
        else:
            crop = (..., slice(margin, h - margin), slice(margin, w - margin))
            error = float((b[crop] - expected[crop]).norm() / expected[crop].norm().clamp_min(1e-12))
        layers.append(LayerEquivariance(index + 1, (map_dy, map_dx), exact, margin, error))
    return layers


@torch.no_grad()
def probability_shift(model: torch.nn.Module, x: torch.Tensor, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """The class probabilities of x and of x shifted (zeros coming in), as (N, classes) arrays."""
    was_training = model.training
    model.eval()
    try:
        before = torch.softmax(model(x), dim=1)
        after = torch.softmax(model(shift_images(x, dy, dx)), dim=1)
    finally:
        model.train(was_training)
    return before.cpu().numpy(), after.cpu().numpy()
