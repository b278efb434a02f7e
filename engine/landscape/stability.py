"""The step size beyond which (momentum) gradient descent on the local quadratic diverges, from λmax."""

from __future__ import annotations

import math

from engine.common.optimizers import OPTIMIZERS

STABILITY_RULES = {"sgd": "2/λmax", "momentum": "(2+2β)/λmax", "nesterov": "(2+2β)/((1+2β)λmax)"}


def stable_step_size(lambda_max: float, optimizer: str, momentum: float = 0.0) -> float | None:
    """The largest step size for which (momentum) gradient descent on the local quadratic converges.

    GD: 2/λ. Heavy-ball momentum β: (2 + 2β)/λ. Nesterov: (2 + 2β)/((1 + 2β)·λ)
    (Cohen et al. 2021, "Gradient descent on neural networks typically occurs at
    the edge of stability"). None for adaptive methods, whose step is preconditioned."""
    if not lambda_max > 0:
        return math.inf
    if optimizer == "sgd":
        return 2.0 / lambda_max
    if optimizer == "momentum":
        return (2.0 + 2.0 * momentum) / lambda_max
    if optimizer == "nesterov":
        return (2.0 + 2.0 * momentum) / ((1.0 + 2.0 * momentum) * lambda_max)
    return None


def step_size_verdict(lambda_max: float, optimizer: str, momentum: float, lr: float) -> tuple[float, str, str]:
    """(the step-size bound to set η against, its formula, a sentence saying where η stands)."""
    stable = stable_step_size(lambda_max, optimizer, momentum)
    if stable is None:
        return (stable_step_size(lambda_max, "sgd"), "2/λmax",
                f"{OPTIMIZERS.get(optimizer, optimizer)} rescales its steps, so this bound is for plain GD only.")
    rule = STABILITY_RULES[optimizer]
    if lr < stable:
        return stable, rule, f"η = {lr:.4g} is inside the stable range."
    return stable, rule, f"η = {lr:.4g} is **beyond** it: on this quadratic each step would overshoot and grow."
