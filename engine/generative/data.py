"""2-D point distributions for the generative models: the mixtures the mode-coverage papers use, and shapes.

- ring: 8 Gaussians of standard deviation 0.02 on a circle of radius 2 (the VEEGAN and PacGAN benchmark);
- grid: 25 Gaussians of standard deviation 0.05 on a 5×5 grid of spacing 2 (their second benchmark);
- moons, spiral and a typed word: the Diffusion page's shapes, scaled to about [-2, 2].

Each is a distribution, not a fixed data set: every batch is a fresh draw, as in the papers. A mixture knows
its modes, so a generator's mode coverage can be measured (engine.generative.coverage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.diffusion.data import check_word, raw_points

POINT_SETS = ("ring", "grid", "moons", "spiral", "word")
POINT_SET_LABELS = {"ring": "Ring of 8 Gaussians", "grid": "5×5 grid of Gaussians", "moons": "Two moons",
                    "spiral": "Two-arm spiral", "word": "A word you type"}
SHAPE_SCALE = 2.0  # the Diffusion page's shapes span about [-1, 1]; the mixtures span [-2, 2] and [-4, 4]
SHAPE_NOISE = {"moons": 0.03, "spiral": 0.02, "word": 0.005}  # in the shapes' own units, as on that page


def _ring() -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    return 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def _grid() -> torch.Tensor:
    ticks = torch.arange(-4.0, 5.0, 2.0, dtype=torch.float64)
    return torch.cartesian_prod(ticks, ticks)


MIXTURES = {"ring": (_ring, 0.02), "grid": (_grid, 0.05)}


@dataclass(frozen=True)
class PointSet:
    """A 2-D distribution to draw from; a mixture's modes and their standard deviation (None for shapes)."""

    kind: str
    word: str = "GAN"

    def __post_init__(self) -> None:
        if self.kind not in POINT_SETS:
            raise ValueError(f"unknown point set {self.kind!r}; choose one of {', '.join(POINT_SETS)}")
        if self.kind == "word":
            object.__setattr__(self, "word", check_word(self.word))

    @property
    def centres(self) -> torch.Tensor | None:
        return MIXTURES[self.kind][0]().float() if self.kind in MIXTURES else None

    @property
    def std(self) -> float | None:
        return MIXTURES[self.kind][1] if self.kind in MIXTURES else None

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` fresh points, float32 (n, 2)."""
        if self.kind in MIXTURES:
            centres, std = MIXTURES[self.kind]
            modes = centres()
            which = torch.randint(0, len(modes), (n,), generator=generator)
            return (modes[which] + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()
        return SHAPE_SCALE * raw_points(self.kind, n, generator, SHAPE_NOISE[self.kind], self.word)

    @property
    def extent(self) -> float:
        """Half the side of the square the page draws: the data with a margin."""
        return 5.0 if self.kind == "grid" else 3.0
