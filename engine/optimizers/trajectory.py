"""One optimizer's path, and where it left the plotted region.

A trajectory stops when the point leaves the surface's divergence bound (the
plot range grown on each side: far enough out that it will not come back) or
becomes non-finite. Where a run "left the region" is one thing,
`left_region_at`: the step from which the path stayed outside the plotted
region (`Surface.x_range` × `y_range`) to its end. A run that diverged ends
there, and `diverged_at` is that step (or the non-finite one, inside the
region): the contour's ✕, the curves' ✕ and the summary table name one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.optimizers.table import OptimizerSpec


@dataclass(frozen=True)
class Trajectory:
    """One optimizer's path. points[k] is w after k steps (points[0] is the start)."""

    spec: OptimizerSpec
    points: np.ndarray  # (n + 1, 2)
    losses: np.ndarray  # (n + 1,)
    distances: np.ndarray  # (n + 1,), to the nearest minimum (or saddle)
    learning_rates: np.ndarray  # (n,), the lr in effect at each step
    diverged_at: int | None = None  # where the run ends: the step it left the region for good, or was non-finite
    divergence: str = ""  # what happened, naming `left_region_at` when the path ended outside the plotted region
    left_region_at: int | None = None  # the step from which the path stayed outside the plotted region

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def steps_taken(self) -> int:
        return len(self.points) - 1

    def first_step_within(self, distance: float) -> int | None:
        """The first step at which the point is within `distance` of a minimum (or saddle)."""
        hits = np.flatnonzero(self.distances <= distance)
        return int(hits[0]) if len(hits) else None


def left_region_at(points: np.ndarray, x_range, y_range) -> int | None:
    """The step from which a path (points[k] after k steps) stays outside the box x_range × y_range to its end.

    None when the path ends inside the box (leaving it and coming back is not leaving); 0 when it never was in it.
    """
    points = np.asarray(points, dtype=float)
    inside = ((x_range[0] <= points[:, 0]) & (points[:, 0] <= x_range[1])
              & (y_range[0] <= points[:, 1]) & (points[:, 1] <= y_range[1]))
    if inside[-1]:
        return None
    was_inside = np.flatnonzero(inside)
    return int(was_inside[-1]) + 1 if len(was_inside) else 0


def describe_leaving(left_at: int) -> str:
    """`left_region_at` in words, as the plot and the table both show it."""
    return "started outside the region" if left_at == 0 else f"left the region at step {left_at}"


def divergence_text(left_at: int | None, stopped_at: int, non_finite: bool) -> str:
    """What ended a diverged run."""
    if left_at is None:  # it blew up inside the region
        return f"became non-finite at step {stopped_at}"
    return f"{describe_leaving(left_at)}, then overflowed" if non_finite else describe_leaving(left_at)
