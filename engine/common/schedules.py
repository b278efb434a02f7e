"""Learning-rate schedules as functions of (fractional) epochs.

Written as formulas rather than torch.optim.lr_scheduler objects because the
base rate must change live while a job trains, and the page shows the formula
next to the rate in effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "step", "exponential", "power", "cosine", "plateau")
SCHEDULE_FORMULAS = {
    "constant": r"\eta_t = \eta_0",
    "step": r"\eta_t = \eta_0\,\gamma^{\lfloor e / k \rfloor}",
    "exponential": r"\eta_t = \eta_0\,\gamma^{e}",
    "power": r"\eta_t = \eta_0\,(1 + e/k)^{-1/2}",
    "cosine": r"\eta_t = \tfrac{\eta_0}{2}\left(1 + \cos\frac{\pi \min(e, k)}{k}\right)",
    "plateau": r"\eta \leftarrow \gamma\,\eta \text{ after } k \text{ epochs without improvement}",
}


@dataclass
class LearningRateSchedule:
    """`kind` with its two knobs: `gamma` (decay factor) and `period` (k, in epochs)."""

    kind: str = "constant"
    gamma: float = 0.5
    period: float = 10.0
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
        k, g = self.period, self.gamma
        if self.kind == "step":
            return base_lr * g ** math.floor(epoch / k)
        if self.kind == "exponential":
            return base_lr * g**epoch
        if self.kind == "power":
            return base_lr * (1.0 + epoch / k) ** -0.5
        if self.kind == "cosine":
            return 0.5 * base_lr * (1.0 + math.cos(math.pi * min(epoch, k) / k))
        if self.kind == "plateau":
            return base_lr * self._plateau_scale
        return base_lr

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
