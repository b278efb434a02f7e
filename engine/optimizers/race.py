"""Every optimizer from one start point on one surface, advanced in lockstep: a `Race`.

One step, for each optimizer still moving:

    gradient of f at w  ->  + seeded Gaussian noise (Noisy SGD only)
                        ->  clipped (norm or value), when asked
                        ->  η set from the schedule, optimizer.step()

A run stops when its point leaves the surface's divergence bound or becomes non-finite (see
engine.optimizers.trajectory). `OptimizersTrainer` runs a race for the page; `run_optimizers` runs one
on any `Surface` to its end (tests, the bench).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.optimizers.experiment import Clipping, Schedule
from engine.optimizers.surfaces import DTYPE, Surface
from engine.optimizers.table import RACE_OPTIMIZERS, OptimizerSpec
from engine.optimizers.trajectory import Trajectory, divergence_text, left_region_at

CONSTANT_RATE, NO_CLIPPING = Schedule(), Clipping()  # the defaults: η as given, gradients as computed


class _Run:
    """One optimizer's state while a `Race` steps every optimizer in lockstep."""

    def __init__(self, surface: Surface, spec: OptimizerSpec, start, seed: int):
        self.spec, self.hp = spec, spec.hyperparameters
        self.w = torch.tensor(start, dtype=DTYPE)  # its gradient is the surface's closed form, set by the race
        self.optimizer = RACE_OPTIMIZERS[spec.kind].build([self.w], self.hp, lambda: surface.hess(self.w))
        self.base_lr = self.optimizer.param_groups[0]["lr"]
        self.noise_std = self.hp.get("noise", 0.0)
        self.noise = torch.Generator().manual_seed(seed)
        self.points, self.lrs = [self.w.detach().clone()], []
        self.diverged_at, self.non_finite = None, False

    @property
    def active(self) -> bool:
        return self.diverged_at is None

    def step(self, k: int, lr_factor: float, clipping: Clipping, bound) -> None:
        if self.noise_std > 0:
            self.w.grad.add_(torch.randn(self.w.shape, generator=self.noise, dtype=DTYPE), alpha=self.noise_std)
        clipping.apply([self.w])
        group = self.optimizer.param_groups[0]
        group["lr"] = self.base_lr * lr_factor
        self.lrs.append(group["lr"])
        self.optimizer.step()
        x, y = self.w.detach().tolist()
        (x_lo, x_hi), (y_lo, y_hi) = bound
        if not (math.isfinite(x) and math.isfinite(y)):
            self.diverged_at, self.non_finite = k, True
            return
        self.points.append(self.w.detach().clone())
        if not (x_lo <= x <= x_hi and y_lo <= y <= y_hi):
            self.diverged_at = k

    def result(self, surface: Surface) -> Trajectory:
        path = torch.stack(self.points)
        with torch.no_grad():
            losses = surface.fn(path).numpy()
        path, lrs, diverged_at = path.numpy(), np.asarray(self.lrs, dtype=float), self.diverged_at
        left_at = left_region_at(path, surface.x_range, surface.y_range)
        divergence = "" if diverged_at is None else divergence_text(left_at, diverged_at, self.non_finite)
        if diverged_at is not None and left_at:
            # The run went on to the bound only to be sure it would not come back; it diverged where it left
            # the plotted region, and ends there: the plot, the curves and the table then name one step.
            diverged_at, path, losses, lrs = left_at, path[:left_at + 1], losses[:left_at + 1], lrs[:left_at]
        return Trajectory(self.spec, path, losses, surface.distance_to_reference(path), lrs, diverged_at, divergence,
                          left_at)


class Race:
    """Each optimizer for up to `steps` steps from `start` on `surface` (float64, CPU), one `step()` at a time.

    The optimizers advance in lockstep and share one gradient evaluation per
    step (the surface's closed-form gradient at the stacked points), which is
    what makes a page recompute all of them as a slider moves. Each optimizer
    still has its own parameter, optimizer and noise generator, so its
    trajectory is the one it would have alone.
    """

    def __init__(self, surface: Surface, specs, start, steps: int, schedule: Schedule = CONSTANT_RATE,
                 clipping: Clipping = NO_CLIPPING, seed: int = 0, bound_margin: float = 0.5):
        self.surface, self.steps, self.schedule, self.clipping = surface, steps, schedule, clipping
        self.runs = [_Run(surface, spec, start, seed) for spec in specs]
        self.bound = surface.bound(bound_margin)
        self.steps_done = 0

    @property
    def finished(self) -> bool:
        """All `steps` taken, or every optimizer has diverged."""
        return self.steps_done >= self.steps or not any(run.active for run in self.runs)

    def step(self) -> None:
        """Advance every optimizer still moving by one step (none once the race is finished)."""
        if self.finished:
            return
        active = [run for run in self.runs if run.active]
        gradients = self.surface.grad(torch.stack([run.w for run in active]))
        for run, gradient in zip(active, gradients):
            run.w.grad = gradient.clone()
        lr_factor = self.schedule.multiplier(self.steps_done, self.steps)
        self.steps_done += 1
        for run in active:
            run.step(self.steps_done, lr_factor, self.clipping, self.bound)

    def latest_values(self) -> np.ndarray:
        """f at each optimizer's latest point."""
        with torch.no_grad():
            return self.surface.fn(torch.stack([run.points[-1] for run in self.runs])).numpy()

    def trajectories(self) -> tuple[Trajectory, ...]:
        return tuple(run.result(self.surface) for run in self.runs)


def run_optimizers(surface: Surface, specs, start, steps: int, schedule: Schedule = CONSTANT_RATE,
                   clipping: Clipping = NO_CLIPPING, seed: int = 0, bound_margin: float = 0.5) -> list[Trajectory]:
    """A whole `Race`: each optimizer's trajectory after `steps` steps (or where it diverged)."""
    race = Race(surface, specs, start, steps, schedule, clipping, seed, bound_margin)
    while not race.finished:
        race.step()
    return list(race.trajectories())


def run_optimizer(surface: Surface, spec: OptimizerSpec, start, steps: int, schedule: Schedule = CONSTANT_RATE,
                  clipping: Clipping = NO_CLIPPING, seed: int = 0, bound_margin: float = 0.5) -> Trajectory:
    return run_optimizers(surface, [spec], start, steps, schedule, clipping, seed, bound_margin)[0]
