"""Data for the diffusion page: 2-D point sets and 8x8 handwritten digits, standardized.

Everything is generated from an explicit `torch.Generator` or read from a data
set an installed package ships (scikit-learn's digits, Pillow's font): nothing
is downloaded at run time.

Point sets are drawn from a generator, so besides the fixed training set a
fresh held-out sample of any size can be drawn for measuring sample quality.
They are standardized with one scale for both axes (centred, then divided by
the root-mean-square standard deviation), so a typed word stays readable and
circles stay round, while the data still has unit variance on average, as the
N(0, I) prior of a diffusion model expects.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from engine.common.limits import LIMITS, check

POINT_SETS = ("moons", "swissroll", "circles", "gaussians", "spiral", "checkerboard", "word")
DATASETS = POINT_SETS + ("digits",)
DATASET_LABELS = {
    "moons": "Two moons", "swissroll": "Swiss roll", "circles": "Concentric circles",
    "gaussians": "Gaussian mixture (8 blobs)", "spiral": "Two-arm spiral", "checkerboard": "Checkerboard",
    "word": "A word you type", "digits": "Handwritten digits (8x8)",
}
# Jitter added to each clean shape, in the shape's own units (each shape spans about [-1, 1]).
DEFAULT_NOISE = {"moons": 0.04, "swissroll": 0.03, "circles": 0.03, "gaussians": 0.08, "spiral": 0.03,
                 "checkerboard": 0.0, "word": 0.005}
MAX_NOISE = LIMITS["diffusion.noise"].high
MIN_POINTS, MAX_POINTS = int(LIMITS["diffusion.points"].low), int(LIMITS["diffusion.points"].high)
MAX_WORD_LENGTH = 16
WORD_FONT_SIZE = 64  # pixels; the rendered glyphs are sampled, so this sets the finest detail
DIGIT_PIXELS = 64  # 8 x 8
DIGIT_MAX_VALUE = 16.0  # scikit-learn's digits are counts 0..16 of a 4x4 block of a 32x32 bitmap


@dataclass(frozen=True)
class Standardizer:
    """x -> (x - mean) / scale with one scalar scale; `invert` maps back."""

    mean: torch.Tensor  # (d,) or a scalar
    scale: float

    @classmethod
    def isotropic(cls, x: torch.Tensor) -> "Standardizer":
        """Centre each coordinate; divide all by the root-mean-square standard deviation."""
        mean = x.mean(dim=0)
        return cls(mean, float(x.var(dim=0).mean().sqrt()))

    @classmethod
    def global_scalar(cls, x: torch.Tensor) -> "Standardizer":
        """One mean and one scale over every value (images: corner pixels have no variance of their own)."""
        return cls(x.mean(), float(x.std()))

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def invert(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale + self.mean


@dataclass(frozen=True)
class PointData:
    """A 2-D point set: a fixed standardized training set and a way to draw fresh held-out points."""

    kind: str
    train: torch.Tensor  # (n, 2) float32, standardized
    standardizer: Standardizer
    noise: float
    word: str

    @property
    def dim(self) -> int:
        return 2

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` new points from the same distribution as `train`, standardized like it."""
        return self.standardizer.apply(raw_points(self.kind, n, generator, self.noise, self.word))


@dataclass(frozen=True)
class DigitsData:
    """scikit-learn's 1,797 digits split into train and held-out, standardized with the training statistics."""

    train: torch.Tensor  # (n, 64) float32, standardized
    test: torch.Tensor
    train_labels: torch.Tensor  # int64 0..9
    test_labels: torch.Tensor
    standardizer: Standardizer

    kind = "digits"

    @property
    def dim(self) -> int:
        return DIGIT_PIXELS

    def to_pixels(self, z: torch.Tensor) -> torch.Tensor:
        """Standardized vectors -> pixel values clipped to the data's range 0..16."""
        return self.standardizer.invert(z).clamp(0.0, DIGIT_MAX_VALUE)

    def images(self, z: torch.Tensor) -> torch.Tensor:
        """(n, 64) standardized -> (n, 8, 8) in [0, 1] for display."""
        return (self.to_pixels(z) / DIGIT_MAX_VALUE).reshape(-1, 8, 8)


def load_points(kind: str, n_points: int, generator: torch.Generator, noise: float | None = None,
                word: str = "Gradscape") -> PointData:
    """A standardized training set of `n_points` points of the shape `kind`."""
    if kind not in POINT_SETS:
        raise ValueError(f"unknown point set {kind!r}; choose one of {', '.join(POINT_SETS)}")
    check("diffusion.points", n_points)
    noise = DEFAULT_NOISE[kind] if noise is None else float(noise)
    check("diffusion.noise", noise)
    raw = raw_points(kind, n_points, generator, noise, word)
    standardizer = Standardizer.isotropic(raw)
    return PointData(kind, standardizer.apply(raw), standardizer, noise, word)


def raw_points(kind: str, n: int, generator: torch.Generator, noise: float, word: str = "Gradscape") -> torch.Tensor:
    """`n` points of a shape in its own units (about [-1, 1]), with Gaussian jitter of std `noise`."""
    if kind == "word":
        points = _word(n, generator, word)
    else:
        points = _SHAPES[kind](n, generator)
    return (points + noise * torch.randn(points.shape, generator=generator, dtype=torch.float64)).float()


def _uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, dtype=torch.float64)


def _moons(n: int, generator: torch.Generator) -> torch.Tensor:
    # The two interleaved half circles of scikit-learn's make_moons, moved to about [-1, 1].
    upper = _uniform(n, generator) < 0.5  # each point picks its moon, so any slice of a draw is a fair sample
    angle = math.pi * _uniform(n, generator)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    return torch.stack([(x - 0.5) / 1.5, (y - 0.25) / 1.5], dim=1)


def _swissroll(n: int, generator: torch.Generator) -> torch.Tensor:
    # scikit-learn's swiss roll seen from its side: angle 1.5π..4.5π, radius growing with the angle.
    angle = 1.5 * math.pi * (1 + 2 * _uniform(n, generator))
    radius = angle / (4.5 * math.pi)
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def _circles(n: int, generator: torch.Generator) -> torch.Tensor:
    radius = torch.where(_uniform(n, generator) < 0.5, 1.0, 0.5).double()
    angle = 2 * math.pi * _uniform(n, generator)
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def _gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    # Eight blob centres on the unit circle; the jitter (`noise`) is each blob's standard deviation.
    which = torch.randint(0, 8, (n,), generator=generator).double()
    angle = 2 * math.pi * which / 8
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


def _spiral(n: int, generator: torch.Generator) -> torch.Tensor:
    arm = (_uniform(n, generator) < 0.5).double()
    # sqrt spreads points evenly along the arm's length rather than its angle.
    s = torch.sqrt(0.02 + 0.98 * _uniform(n, generator))
    angle = 3 * math.pi * s + math.pi * arm
    return torch.stack([s * torch.cos(angle), s * torch.sin(angle)], dim=1)


def _checkerboard(n: int, generator: torch.Generator) -> torch.Tensor:
    # Uniform in the 8 dark squares of a 4x4 board on [-1, 1]^2.
    u = _uniform(n, generator)
    row = torch.randint(0, 4, (n,), generator=generator)
    column = 2 * torch.randint(0, 2, (n,), generator=generator) + row % 2
    x = -1 + 0.5 * (column.double() + u)
    y = -1 + 0.5 * (row.double() + _uniform(n, generator))
    return torch.stack([x, y], dim=1)


_SHAPES: dict[str, Callable[[int, torch.Generator], torch.Tensor]] = {
    "moons": _moons, "swissroll": _swissroll, "circles": _circles, "gaussians": _gaussians,
    "spiral": _spiral, "checkerboard": _checkerboard,
}


def check_word(word: str) -> str:
    """The word stripped of outer spaces, or a ValueError saying what is wrong with it."""
    word = word.strip()
    if not word:
        raise ValueError("type a word to fill with points")
    if len(word) > MAX_WORD_LENGTH:
        raise ValueError(f"the word may have at most {MAX_WORD_LENGTH} characters, not {len(word)}")
    if not word.isprintable():
        raise ValueError("the word may hold only printable characters")
    if not word_ink(word).any():
        raise ValueError(f"the font that ships with Pillow draws nothing for {word!r}; use letters or digits")
    return word


@functools.lru_cache(maxsize=32)
def word_ink(word: str) -> np.ndarray:
    """Boolean (rows, columns) mask of the pixels the word covers, drawn with Pillow's bundled font."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=WORD_FONT_SIZE)  # Pillow's embedded Aileron (needs FreeType)
    left, top, right, bottom = font.getbbox(word)
    pad = 2
    image = Image.new("L", (max(1, right - left) + 2 * pad, max(1, bottom - top) + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), word, fill=255, font=font)
    mask = np.asarray(image) >= 128
    mask.setflags(write=False)
    return mask


def _word(n: int, generator: torch.Generator, word: str) -> torch.Tensor:
    mask = word_ink(check_word(word))
    rows, columns = np.nonzero(mask)
    pick = torch.randint(0, len(rows), (n,), generator=generator)
    # A uniform position inside each chosen pixel, so the points fill the strokes rather than a grid.
    x = torch.from_numpy(columns.astype(np.float64))[pick] + _uniform(n, generator)
    y = -(torch.from_numpy(rows.astype(np.float64))[pick] + _uniform(n, generator))
    height, width = mask.shape
    scale = 2.0 / max(width, height)
    return torch.stack([(x - width / 2) * scale, (y + height / 2) * scale], dim=1)


def load_digits(generator: torch.Generator, test_fraction: float = 0.2) -> DigitsData:
    """scikit-learn's bundled 8x8 digits, shuffled by `generator` and split into train / held-out."""
    if not 0.05 <= test_fraction <= 0.5:
        raise ValueError(f"the held-out share must be between 5% and 50%, not {test_fraction:.0%}")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:  # pragma: no cover - a broken install
        raise RuntimeError("the digits come from scikit-learn, which is not installed") from error
    bunch = sklearn_digits()
    pixels = torch.tensor(bunch.data, dtype=torch.float32)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.randperm(len(pixels), generator=generator)
    n_test = round(test_fraction * len(pixels))
    test, train = order[:n_test], order[n_test:]
    standardizer = Standardizer.global_scalar(pixels[train])
    return DigitsData(standardizer.apply(pixels[train]), standardizer.apply(pixels[test]),
                      labels[train], labels[test], standardizer)
