"""The CNN page's image data: scikit-learn's bundled 8x8 digits, and a generated set of shapes (circles,
squares, triangles and crosses at random positions and sizes, with noise). Nothing is downloaded.

Images are (N, 1, H, W) float32 in [0, 1]; labels int64. Each set is split into training and held-out
images by the generator it is given, so a seed fixes the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

DIGIT_LEVELS = 16.0  # scikit-learn's digits are grey levels 0..16: one level is 1/16 of the range here
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
SHAPE_SIZE = 16
HELD_OUT_SHARE = 0.2


@dataclass(frozen=True)
class ImageData:
    """Training and held-out images with their labels, and what the classes are called."""

    train_x: torch.Tensor  # (N, 1, H, W) in [0, 1]
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    level: float  # one grey level of the source images in [0, 1] units: what "one pixel unit" of eps means

    @property
    def side(self) -> int:
        return int(self.train_x.shape[-1])

    def to(self, device: torch.device) -> ImageData:
        return ImageData(self.train_x.to(device), self.train_y.to(device), self.test_x.to(device),
                         self.test_y.to(device), self.classes, self.level)


def _split(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, classes: tuple[str, ...],
           level: float) -> ImageData:
    order = torch.randperm(len(x), generator=generator)
    n_test = round(HELD_OUT_SHARE * len(x))
    test, train = order[:n_test], order[n_test:]
    return ImageData(x[train], y[train], x[test], y[test], classes, level)


@lru_cache(maxsize=1)
def _digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return (bunch.images / DIGIT_LEVELS).astype(np.float32), bunch.target.astype(np.int64)


def load_digits(generator: torch.Generator) -> ImageData:
    """scikit-learn's 1,797 8x8 digits, 20% held out."""
    images, labels = _digit_arrays()
    return _split(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), generator,
                  tuple(str(digit) for digit in range(10)), 1 / DIGIT_LEVELS)


def draw_shapes(n: int, generator: torch.Generator, side: int = SHAPE_SIZE, centred: bool = False,
                noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """n images of filled shapes (labels index SHAPE_CLASSES): radius 3..side/2.7, anywhere they fit (or at
    the centre), with Gaussian pixel noise of std `noise`, clipped to [0, 1]."""
    labels = torch.randint(0, len(SHAPE_CLASSES), (n,), generator=generator)
    radius = 3 + torch.rand(n, generator=generator) * (side / 2.7 - 3)
    centre = (side - 1) / 2
    if centred:
        cx = cy = torch.full((n,), centre)
    else:  # anywhere the whole shape fits
        room = (side - 1) / 2 - radius
        cx = centre + (2 * torch.rand(n, generator=generator) - 1) * room
        cy = centre + (2 * torch.rand(n, generator=generator) - 1) * room
    grid = torch.arange(side, dtype=torch.float32)
    dx = grid.view(1, 1, -1) - cx.view(-1, 1, 1)  # (n, 1, side): columns
    dy = grid.view(1, -1, 1) - cy.view(-1, 1, 1)  # (n, side, 1): rows, downwards
    r = radius.view(-1, 1, 1)
    bar = r / 3  # the cross's half thickness
    masks = torch.stack([
        dx ** 2 + dy ** 2 <= r ** 2,                                          # circle
        (dx.abs() <= 0.8 * r) & (dy.abs() <= 0.8 * r),                        # square (same area-ish as the circle)
        (dy >= -r) & (dy <= 0.8 * r) & (dx.abs() <= (dy + r) * 0.6),         # triangle, apex up
        ((dx.abs() <= bar) & (dy.abs() <= r)) | ((dy.abs() <= bar) & (dx.abs() <= r)),  # cross
    ])  # (classes, n, side, side)
    images = masks[labels, torch.arange(n)].float()
    images = images + noise * torch.randn(images.shape, generator=generator)
    return images.clamp(0, 1).unsqueeze(1), labels


def load_shapes(generator: torch.Generator, n: int = 3000, centred: bool = False, noise: float = 0.1) -> ImageData:
    """n generated 16x16 shapes, 20% held out."""
    x, y = draw_shapes(n, generator, centred=centred, noise=noise)
    return _split(x, y, generator, SHAPE_CLASSES, 1 / 16)


def shift_images(x: torch.Tensor, dy: int, dx: int, circular: bool = False) -> torch.Tensor:
    """Move every image dy pixels down and dx right: what leaves the frame is lost and zeros come in (or, with
    `circular`, it comes back in on the other side)."""
    if circular:
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
