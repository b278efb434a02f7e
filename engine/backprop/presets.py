"""Networks built by hand from the course notes, each solving its data with no training:

- AND and OR: one sigmoid unit, no hidden layer (a perceptron): σ(k(x₁ + x₂ − 1.5)) and σ(k(x₁ + x₂ − 0.5));
- XOR from two ReLU hyperplanes: h₁ = ReLU(x₁ + x₂), h₂ = ReLU(x₁ + x₂ − 1), output σ(k(h₁ − 2h₂ − ½));
- XNOR: the same hidden units, the output's sign flipped;
- max(a, b) = ReLU(a − b) + b, with b = ReLU(b) − ReLU(−b): three ReLU units and a linear output, exact;
- the Playground's XOR (class 1 where x₁x₂ > 0, i.e. |x₁ + x₂| > |x₁ − x₂|): |u| = ReLU(u) + ReLU(−u), four
  ReLU units.

k = 10 makes the sigmoid's output decisive (above 0.99 or below 0.01 on the Boolean points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.backprop.network import Architecture

SHARPNESS = 10.0


@dataclass(frozen=True)
class Preset:
    label: str
    data: str
    arch: Architecture
    weights: tuple[float, ...]


def _flat(*parts) -> tuple[float, ...]:
    return tuple(float(v) for part in parts for v in np.ravel(part))


k = SHARPNESS
XOR_HIDDEN = ([[1, 1], [1, 1]], [0, -1])  # h1 = ReLU(x1 + x2), h2 = ReLU(x1 + x2 − 1)
PRESETS = {
    "and": Preset("AND: one unit", "and", Architecture(hidden=(), activation="relu"),
                  _flat([[k, k]], [-1.5 * k])),
    "or": Preset("OR: one unit", "or", Architecture(hidden=(), activation="relu"), _flat([[k, k]], [-0.5 * k])),
    "xor_bool": Preset("XOR: two ReLU hyperplanes", "xor_bool", Architecture(hidden=(2,)),
                       _flat(*XOR_HIDDEN, [[k, -2 * k]], [-0.5 * k])),
    "xnor": Preset("XNOR: XOR's units, the output flipped", "xnor", Architecture(hidden=(2,)),
                   _flat(*XOR_HIDDEN, [[-k, 2 * k]], [0.5 * k])),
    "max": Preset("max(a, b) = ReLU(a − b) + b", "max", Architecture(hidden=(3,), loss="mse"),
                  _flat([[1, -1], [0, 1], [0, -1]], [0, 0, 0], [[1, 1, -1]], [0])),
    "xor": Preset("Playground XOR: |x₁ + x₂| − |x₁ − x₂|", "xor", Architecture(hidden=(4,)),
                  _flat([[1, 1], [-1, -1], [1, -1], [-1, 1]], [0, 0, 0, 0], [[k, k, -k, -k]], [0])),
}
