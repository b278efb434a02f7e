"""Gradient checking, as the notes recommend: each parameter's backpropagated gradient beside a central finite
difference of the loss. The fourth-order stencil (f(θ−2h) − 8f(θ−h) + 8f(θ+h) − f(θ+2h)) / 12h with h = 3e-4
has truncation error ~h⁴; its losses are computed in NumPy's extended precision (80-bit on x86: rounding
~1e-19/h), so that a gradient that is exactly 0 (a dead unit's weights, a minimum) still comes out below 1e-14.
(Where long double is float64, as on ARM, the floor is ~1e-13.)
Where a perturbation moves a ReLU unit's pre-activation across 0 on some example the loss has a kink inside the
stencil and the difference means nothing: that parameter is skipped and counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.backprop.network import Architecture, loss_of, run

STEP = 3e-4
FLOOR = 1e-8  # the relative error's denominator: max(|g|, FLOOR)


@dataclass(frozen=True)
class GradientCheck:
    names: list[str]
    backprop: np.ndarray
    finite_difference: np.ndarray  # NaN where skipped
    skipped: np.ndarray  # bool: a ReLU kink lies within the stencil

    @property
    def relative_errors(self) -> np.ndarray:
        return np.abs(self.finite_difference - self.backprop) / np.maximum(np.abs(self.backprop), FLOOR)

    @property
    def worst(self) -> float:
        errors = self.relative_errors[~self.skipped]
        return float(errors.max()) if errors.size else 0.0


def _relu_signs(arch: Architecture, flat, x, y) -> list[np.ndarray]:
    if arch.activation != "relu":
        return []
    return [a > 0 for a in run(arch, flat, x, y).a[:-1]]


def gradient_check(arch: Architecture, flat, x: np.ndarray, y: np.ndarray) -> GradientCheck:
    flat = np.asarray(flat, dtype=np.float64)
    backprop = run(arch, flat, x, y).mean_gradient()
    signs = _relu_signs(arch, flat, x, y)
    differences, skipped = np.full(flat.size, np.nan), np.zeros(flat.size, dtype=bool)
    extended = flat.astype(np.longdouble)
    for index in range(flat.size):
        shifted = {}
        for multiple in (-2, -1, 1, 2):
            theta = extended.copy()
            theta[index] += multiple * STEP
            if any((now != before).any() for now, before in zip(_relu_signs(arch, theta, x, y), signs)):
                skipped[index] = True
                break
            shifted[multiple] = loss_of(arch, theta, x, y, np.longdouble)
        if not skipped[index]:
            differences[index] = float((shifted[-2] - 8 * shifted[-1] + 8 * shifted[1] - shifted[2]) / (12 * STEP))
    return GradientCheck(arch.names(), backprop, differences, skipped)
