"""The step-size theory of quadratics (course notes, unit 7): along each eigen-direction of the Hessian,
which regime GD's step η is in, where momentum and Nesterov stop being stable, and Newton's one step."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from engine.optimizers.surfaces import Surface


@dataclass(frozen=True)
class EigenDirection:
    """One eigen-direction of a Hessian: along it f is ½λu², and GD multiplies u by (1 - ηλ) per step."""

    eigenvalue: float
    vector: tuple[float, float]

    @property
    def eta_opt(self) -> float:
        """η_opt = 1/λ: the step that lands on the minimum along this direction in one step."""
        return 1.0 / self.eigenvalue if self.eigenvalue > 0 else math.inf

    @property
    def eta_max(self) -> float:
        """2η_opt: beyond it GD diverges along this direction."""
        return 2.0 * self.eta_opt


def eigen_directions(hessian: np.ndarray) -> list[EigenDirection]:
    """Eigen-directions, steepest (largest λ) first."""
    values, vectors = np.linalg.eigh(np.asarray(hessian, dtype=float))
    order = np.argsort(values)[::-1]
    return [EigenDirection(float(values[i]), (float(vectors[0, i]), float(vectors[1, i]))) for i in order]


REGIMES = ("monotone", "one step", "oscillating", "oscillates forever", "diverging", "escaping", "flat")


def gd_regime(eta: float, eigenvalue: float, rtol: float = 1e-9) -> str:
    """What GD with step η does along a direction of curvature λ (the contraction factor is 1 - ηλ)."""
    if eigenvalue < 0:
        return "escaping"  # negative curvature: |1 - ηλ| > 1 for every η > 0
    if eigenvalue == 0:
        return "flat"
    ratio = eta * eigenvalue  # η / η_opt
    if math.isclose(ratio, 1.0, rel_tol=rtol):
        return "one step"
    if math.isclose(ratio, 2.0, rel_tol=rtol):
        return "oscillates forever"
    if ratio < 1:
        return "monotone"
    return "oscillating" if ratio < 2 else "diverging"


def regime_rows(hessian: np.ndarray, learning_rates: Mapping[str, float]) -> list[dict]:
    """For each named learning rate and each eigen-direction: λ, η_opt, 2η_opt, 1 - ηλ and the regime."""
    rows = []
    for name, eta in learning_rates.items():
        for index, direction in enumerate(eigen_directions(hessian), start=1):
            rows.append({
                "optimizer": name, "η": eta, "direction": index, "λ": direction.eigenvalue,
                # No step size lands on, or converges to, a point of zero or negative curvature.
                "η_opt = 1/λ": direction.eta_opt if direction.eigenvalue > 0 else None,
                "2·η_opt": direction.eta_max if direction.eigenvalue > 0 else None,
                "factor 1 − ηλ": 1.0 - eta * direction.eigenvalue,
                "regime": gd_regime(eta, direction.eigenvalue),
            })
    return rows


def momentum_stability_limit(kind: str, momentum: float, eigenvalue: float) -> float:
    """The largest stable η along a direction of curvature λ > 0, for torch's momentum (heavy ball,
    w' = w - ηλw + μ(w - w_prev)): 2(1+μ)/λ; and for torch's Nesterov: (2+2μ)/((1+2μ)λ).
    Both are where a root of the two-step recurrence reaches -1."""
    if kind == "momentum":
        return 2 * (1 + momentum) / eigenvalue
    if kind == "nesterov":
        return (2 + 2 * momentum) / ((1 + 2 * momentum) * eigenvalue)
    raise ValueError(f"no momentum stability limit for {kind!r}")


def newton_step(surface: Surface, point) -> np.ndarray:
    """w - H(w)^-1 ∇f(w): on a quadratic with positive-definite H, the minimum itself."""
    point = np.asarray(point, dtype=float)
    return point - np.linalg.solve(surface.hessian(point), surface.gradient(point))
