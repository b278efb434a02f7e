"""The two linear-in-the-parameters models of the page, as feature maps φ(x) ∈ R^p:

- polynomial of degree D: the orthonormal Legendre polynomials √(2k+1)·P_k(x), k = 0..D (p = D + 1). They span
  the same functions as 1, x, ..., x^D, but stay well conditioned on [-1, 1] where the monomials do not;
- random ReLU features of width W: hinges max(0, s_j (x − t_j)) with t_j uniform on [-1, 1] and s_j = ±1 at
  random (p = W). The hinges are drawn once per seed and nested: width W uses the first W of them. On 1-D inputs
  they reach rank N only at W ≈ 6 N (a hinge adds a direction only in a gap between two inputs that no hinge
  separates yet), and their test error peaks near W ≈ N, long before that;
- random Fourier features of width W (Rahimi and Recht): √2·cos(ω_j x + b_j) with ω_j ~ N(0, (2N)²) and b_j
  uniform on [0, 2π) (p = W), drawn once per seed and nested. They are generic: W ≥ N of them reach rank N at
  once, and least squares' test error peaks right there, as the double-descent theory says. The frequencies
  grow with N so that the features can tell N points on [-1, 1] apart (with a fixed spread, rank N at this
  tolerance moves far beyond N as the points crowd).

Every feature vector is divided by √p, so ‖φ(x)‖² stays about the same as the model grows and one ridge strength α
means the same thing at every width (the predictions of least squares do not depend on the scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.generalization.data import generator

FAMILIES = ("poly", "relu", "fourier")
FAMILY_LABELS = {"poly": "Polynomial", "relu": "Random ReLU features",
                 "fourier": "Random Fourier features"}
MAX_HINGES = 4000  # the widest model offered (hinges or frequencies)
FREQUENCY_PER_POINT = 2.0  # the Fourier features' frequencies spread as FREQUENCY_PER_POINT · N


def legendre(x: np.ndarray, count: int) -> np.ndarray:
    """√(2k+1)·P_k(x) for k < count, by Bonnet's recursion: shape x.shape + (count,)."""
    values = np.empty(x.shape + (count,))
    previous, current = np.ones_like(x), x
    for k in range(count):
        if k == 0:
            values[..., 0] = previous
            continue
        if k > 1:
            previous, current = current, ((2 * k - 1) * x * current - (k - 1) * previous) / k
        values[..., k] = current
    return values * np.sqrt(2 * np.arange(count) + 1.0)


@dataclass(frozen=True)
class Features:
    """A family's feature map; `seed` draws the hinges of the ReLU features and the Fourier features' frequencies,
    whose spread grows with the number of training points `points`."""

    family: str
    seed: int = 0
    points: int = 40

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model {self.family!r}; choose one of {', '.join(FAMILIES)}")

    def count(self, complexity: int) -> int:
        """How many features a degree (polynomial) or a width (ReLU features) has."""
        return complexity + 1 if self.family == "poly" else complexity

    @cached_property
    def hinges(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each ReLU feature bends, and which way it faces (+1: rises to the right)."""
        draws = generator(self.seed, "features")
        return draws.uniform(-1.0, 1.0, MAX_HINGES), draws.choice([-1.0, 1.0], MAX_HINGES)

    @cached_property
    def frequencies(self) -> tuple[np.ndarray, np.ndarray]:
        """Each Fourier feature's frequency ω and phase b."""
        draws = generator(self.seed, "frequencies")
        spread = FREQUENCY_PER_POINT * self.points
        return spread * draws.standard_normal(MAX_HINGES), draws.uniform(0.0, 2 * np.pi, MAX_HINGES)

    def matrix(self, x: np.ndarray, count: int, scale_for: int | None = None) -> np.ndarray:
        """The first `count` features at x, shape x.shape + (count,), divided by √(scale_for or count)."""
        if self.family == "poly":
            values = legendre(x, count)
        elif self.family == "fourier":
            omegas, phases = self.frequencies
            values = np.sqrt(2.0) * np.cos(x[..., None] * omegas[:count] + phases[:count])
        else:
            bends, faces = self.hinges
            values = np.maximum(0.0, faces[:count] * (x[..., None] - bends[:count]))
        return values / np.sqrt(scale_for or count)
