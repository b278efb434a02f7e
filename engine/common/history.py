"""Metric history that stays small however long a job trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Series:
    """One metric against training step: read-only arrays of equal length."""

    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def last(self) -> float:
        return float(self.values[-1]) if len(self.values) else float("nan")


class CompactingSeries:
    """Appends (step, value) pairs into at most `capacity` points.

    When full, neighbouring pairs are merged (values averaged, the later step
    kept) and from then on `stride` consecutive points are averaged into one.
    A curve of a million steps therefore keeps its shape in bounded memory, and
    appending costs O(1), which matters because the loss is recorded every step.
    """

    def __init__(self, capacity: int = 1 << 16):
        if capacity < 4 or capacity % 2:
            raise ValueError("capacity must be an even number >= 4")
        self._steps = np.empty(capacity, dtype=np.int64)
        self._values = np.empty(capacity, dtype=np.float64)
        self._n = 0
        self._stride = 1
        self._pending_sum = 0.0
        self._pending_count = 0

    def append(self, step: int, value: float) -> None:
        if self._n == len(self._steps):
            self._compact()
        self._pending_sum += value
        self._pending_count += 1
        if self._pending_count < self._stride:
            return
        self._steps[self._n] = step
        self._values[self._n] = self._pending_sum / self._pending_count
        self._n += 1
        self._pending_sum = 0.0
        self._pending_count = 0

    def _compact(self) -> None:
        half = self._n // 2
        self._values[:half] = 0.5 * (self._values[0 : 2 * half : 2] + self._values[1 : 2 * half : 2])
        self._steps[:half] = self._steps[1 : 2 * half : 2]
        self._n = half
        self._stride *= 2

    def frozen(self) -> Series:
        steps = self._steps[: self._n].copy()
        values = self._values[: self._n].copy()
        steps.setflags(write=False)
        values.setflags(write=False)
        return Series(steps, values)


class MetricHistory:
    """Named series; the job's thread writes, snapshots get frozen copies."""

    def __init__(self, capacity: int = 1 << 16):
        self._capacity = capacity
        self._series: dict[str, CompactingSeries] = {}

    def record(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = CompactingSeries(self._capacity)
            series.append(step, float(value))

    def frozen(self) -> dict[str, Series]:
        return {name: series.frozen() for name, series in self._series.items()}


class WeightTrajectory:
    """The weights along training, kept to at most `capacity` snapshots.

    Records every `interval` steps; when full, drops every other snapshot and
    doubles the interval, so a run of any length keeps evenly spaced points
    from start to now (what a PCA of the trajectory needs).
    """

    def __init__(self, capacity: int = 200):
        self.capacity = capacity
        self.interval = 1
        self._steps: list[int] = []
        self._vectors: list[np.ndarray] = []

    def maybe_record(self, step: int, flat_weights: Callable[[], np.ndarray]) -> None:
        if step % self.interval:
            return
        if len(self._steps) == self.capacity:
            self._steps, self._vectors = self._steps[::2], self._vectors[::2]
            self.interval *= 2
            if step % self.interval:
                return
        vector = flat_weights()
        vector.setflags(write=False)
        self._steps.append(step)
        self._vectors.append(vector)

    def frozen(self) -> tuple[tuple[int, ...], tuple[np.ndarray, ...]]:
        """(steps, weight vectors): immutable, and shared rather than copied, since a big
        network's trajectory is megabytes and snapshots are published ten times a second."""
        return tuple(self._steps), tuple(self._vectors)


def frame_indices(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` evenly spaced indices into n items, the first and the last always kept."""
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_frames).round().astype(int))
