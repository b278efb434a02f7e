"""What defines the Optimizers page's picture, as plain, hashable data (what the URL holds): the surface,
the start, the number of steps, the optimizers, and the learning-rate schedule and gradient clipping
that every optimizer shares.

Schedules are engine.common.schedules' formulas, per step (k = 0 is the first step); clipping is
`torch.nn.utils.clip_grad_*`, so what a student sees is what torch does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.common.limits import check, check_choice
from engine.common.schedules import multiplier
from engine.optimizers.surfaces import SURFACE_NAMES, Surface, make_surface
from engine.optimizers.table import OptimizerSpec

# "inverse_sqrt" keeps its name (settings files hold it); since its exponent became a control it shows as "power"
SCHEDULE_LABELS = {"constant": "constant", "step": "step decay", "exponential": "exponential", "cosine": "cosine",
                   "inverse_sqrt": "power η/(1+k)^c"}


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    gamma: float = 0.5
    every: int = 50
    power: float = 0.5  # c of the power schedule η/(1 + k)^c ("inverse_sqrt": its default c = ½)

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_LABELS:
            raise ValueError(f"unknown schedule {self.kind!r}; choose from {sorted(SCHEDULE_LABELS)}")

    def multiplier(self, k: int, steps: int) -> float:
        """The factor on each optimizer's η at step k of `steps` (k = 0 is the first step)."""
        if self.kind == "inverse_sqrt":
            return multiplier("power", k, period=1, power=self.power)
        if self.kind == "cosine":
            return multiplier("cosine", k, period=max(1, steps))
        return multiplier(self.kind, k, gamma=self.gamma, period=max(1, self.every))

    def describe(self, steps: int) -> str:
        return {
            "constant": "constant η",
            "step": f"η·{self.gamma:g}^⌊k/{self.every}⌋",
            "exponential": f"η·{self.gamma:g}^k",
            "cosine": f"η·(1+cos(πk/{steps}))/2",
            "inverse_sqrt": "η/√(1+k)" if self.power == 0.5 else f"η/(1+k)^{self.power:g}",
        }[self.kind]


@dataclass(frozen=True)
class Clipping:
    mode: str = "none"  # "none", "norm" (rescale g to at most `threshold` long), "value" (clamp each component)
    threshold: float = 1.0

    def apply(self, params) -> None:
        if self.mode == "norm":
            torch.nn.utils.clip_grad_norm_(params, self.threshold)
        elif self.mode == "value":
            torch.nn.utils.clip_grad_value_(params, self.threshold)
        elif self.mode != "none":
            raise ValueError(f"unknown clipping mode {self.mode!r}")

    def describe(self) -> str:
        return {"none": "off", "norm": f"‖g‖ ≤ {self.threshold:g}", "value": f"|gᵢ| ≤ {self.threshold:g}"}[self.mode]


@dataclass(frozen=True)
class Experiment:
    """Everything that defines a page's picture, as plain, hashable data (what the URL holds)."""

    surface: str = "quadratic"
    condition: float = 10.0
    angle_deg: float = 0.0
    start: tuple[float, float] | None = None  # None: the surface's default start
    steps: int = 100
    optimizers: tuple[OptimizerSpec, ...] = ()
    schedule: Schedule = Schedule()
    clipping: Clipping = Clipping()
    seed: int = 0  # of the gradient noise (Noisy SGD)

    def __post_init__(self) -> None:
        check_choice("test function", self.surface, SURFACE_NAMES)
        check("trajectories.steps", self.steps)
        check("trajectories.condition", self.condition)
        for coordinate in self.start or ():
            check("trajectories.start", coordinate)

    def make_surface(self) -> Surface:
        return make_surface(self.surface, self.condition, self.angle_deg)
