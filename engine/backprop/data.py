"""What the hand-built networks learn: the four Boolean points of AND, OR, XOR and XNOR, max(a, b) on a grid (a
regression), or a small draw of the Playground's own data sets (their training points, coordinates in [-6, 6])."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.playground.data import DataSpec, make_dataset

BOOLEAN = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "xor_bool": (0, 1, 1, 0), "xnor": (1, 0, 0, 1)}
PLAYGROUND = ("xor", "circle", "gauss", "moons")
DATA = (*BOOLEAN, "max", *PLAYGROUND)
DATA_LABELS = {"and": "AND (4 points)", "or": "OR (4 points)", "xor_bool": "XOR (4 points)",
               "xnor": "XNOR (4 points)", "max": "max(a, b) on a grid (regression)",
               "xor": "Playground: XOR", "circle": "Playground: circle", "gauss": "Playground: two Gaussians",
               "moons": "Playground: moons"}
PLAYGROUND_POINTS = 40  # drawn, of which the Playground's training half is used: every example can be shown
MAX_GRID = 9


@dataclass(frozen=True)
class Examples:
    x: np.ndarray  # (B, 2) float64
    y: np.ndarray  # (B,) 0/1 labels, or targets
    loss: str  # "bce" or "mse"
    extent: tuple[float, float, float, float]


def examples(kind: str, noise: float = 0.0, seed: int = 0) -> Examples:
    if kind in BOOLEAN:
        x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return Examples(x, np.array(BOOLEAN[kind], dtype=float), "bce", (-0.5, 1.5, -0.5, 1.5))
    if kind == "max":
        ticks = np.linspace(-1.0, 1.0, MAX_GRID)
        x = np.array([[a, b] for a in ticks for b in ticks])
        return Examples(x, x.max(axis=1), "mse", (-1.2, 1.2, -1.2, 1.2))
    if kind not in PLAYGROUND:
        raise ValueError(f"unknown data {kind!r}; choose one of {', '.join(DATA)}")
    data = make_dataset(DataSpec(kind=kind, n_points=PLAYGROUND_POINTS, noise=noise, seed=seed))
    return Examples(data.x_train.astype(np.float64), data.y_train.astype(np.float64), "bce", data.extent)
