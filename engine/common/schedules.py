"""Learning-rate schedules: the one place their formulas live, for every page that decays a learning rate.

A schedule is a multiplier on the base rate, a function of how far training has got, `t`: epochs
(fractional) on the Playground, optimizer steps on the Optimizers page and for diffusion.

    lr = base_lr * multiplier("cosine", t, period=1000)                  # decays to 0 over 1000 steps
    lr = base_lr * multiplier("cosine", t, period=6000, floor=0.05, warmup=200)   # warm-up, then to 5%

Written as formulas rather than torch.optim.lr_scheduler objects because the base rate must change live
while a job trains, and the pages show the formula next to the rate in effect. The formulas are the
closed forms of torch's StepLR, ExponentialLR and CosineAnnealingLR (eta_min = floor·base), which step
the rate by repeated multiplication instead; the two agree to rounding (tests check it).

Reduce-on-plateau depends on the losses seen, not on `t`: `LearningRateSchedule` keeps that state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The schedules that are functions of t alone (see `multiplier`).
MULTIPLIERS = ("constant", "step", "exponential", "power", "cosine")
#: The Playground's choices: those, and reduce-on-plateau.
SCHEDULES = (*MULTIPLIERS, "plateau")
SCHEDULE_FORMULAS = {
    "constant": r"\eta_t = \eta_0",
    "step": r"\eta_t = \eta_0\,\gamma^{\lfloor e / k \rfloor}",
    "exponential": r"\eta_t = \eta_0\,\gamma^{e}",
    "power": r"\eta_t = \eta_0\,(1 + e/k)^{-c}",
    "cosine": r"\eta_t = \tfrac{\eta_0}{2}\left(1 + \cos\frac{\pi \min(e, k)}{k}\right)",
    "plateau": r"\eta \leftarrow \gamma\,\eta \text{ after } k \text{ epochs without improvement}",
}


def multiplier(kind: str, t: float, *, gamma: float = 1.0, period: float = 1.0, floor: float = 0.0,
               warmup: int = 0, power: float = 0.5) -> float:
    """The factor on the base learning rate after `t` steps or epochs.

    - "constant": 1
    - "step": gamma^⌊t/period⌋
    - "exponential": gamma^t
    - "power": (1 + t/period)^(-power)   (course note 001's η₀/(1 + t/s)^c; c = ½ and s = 1: 1/√(1+t))
    - "cosine": floor + (1 - floor)·(1 + cos(π·min(t, period)/period))/2, then `floor` after `period`

    With `warmup` > 0 the factor first rises linearly, (t + 1)/warmup for t < warmup, and the schedule
    starts at t = warmup.
    """
    if kind not in MULTIPLIERS:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(MULTIPLIERS)}")
    if t < warmup:
        return (t + 1) / warmup
    t -= warmup
    if kind == "step":
        return gamma ** math.floor(t / period)
    if kind == "exponential":
        return gamma**t
    if kind == "power":
        return (1.0 + t / period) ** -power
    if kind == "cosine":
        return floor + (1 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(t, period) / period))
    return 1.0


@dataclass
class LearningRateSchedule:
    """`kind` with its knobs: `gamma` (decay factor), `period` (k, in epochs) and the power schedule's exponent
    `power` (c)."""

    kind: str = "constant"
    gamma: float = 0.5
    period: float = 10.0
    power: float = 0.5
    _plateau_scale: float = 1.0
    _best: float = math.inf
    _epochs_without_improvement: int = 0

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; choose one of {', '.join(SCHEDULES)}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"the decay factor γ must be in (0, 1], not {self.gamma}")
        if self.period <= 0:
            raise ValueError(f"the schedule period k must be positive, not {self.period}")

    def rate(self, base_lr: float, epoch: float) -> float:
        if self.kind == "plateau":
            return base_lr * self._plateau_scale
        return base_lr * multiplier(self.kind, epoch, gamma=self.gamma, period=self.period, power=self.power)

    def end_of_epoch(self, mean_loss: float) -> None:
        """Reduce-on-plateau bookkeeping; the other schedules ignore it."""
        if self.kind != "plateau":
            return
        if mean_loss < self._best * (1 - 1e-4):
            self._best, self._epochs_without_improvement = mean_loss, 0
            return
        self._epochs_without_improvement += 1
        if self._epochs_without_improvement >= self.period:
            self._plateau_scale *= self.gamma
            self._epochs_without_improvement = 0
