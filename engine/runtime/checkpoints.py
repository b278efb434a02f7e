"""Checkpoints of a live job: a bounded ring the job takes every k steps, from which a run is rewound to its
initial weights or forked ("branch here") with other hyperparameters.

A checkpoint is the trainer's `state()` (its weights, optimizer state, random generators and position in the
data order: whatever makes training on from it give the very same losses as the run that made it), copied to
the CPU, with the job's own counters at that step. The ring keeps the initial one (step 0: what Rewind goes
back to) and, while its checkpoints fit in `max_bytes` and `max_count`, one every `every` steps; when they no
longer fit it keeps every other one and takes them half as often (as `WeightTrajectory` does), so a run of any
length can be forked anywhere along it, at most `every` steps from the point asked for.

Bytes are those of the tensors and writable arrays copied, also inside the trainer's own objects (a probe
history, an attention timeline); read-only NumPy arrays (a weight trajectory's vectors, a GAN film's frames, which
never change once recorded) are shared with the trainer, not copied, and not counted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import numpy as np
import torch

from engine.common.history import MetricHistory, Series

CHECKPOINT_EVERY = 50  # steps between two checkpoints while they fit
MAX_CHECKPOINT_BYTES = 64 << 20  # per job
MAX_CHECKPOINTS = 64  # per job: enough to pick a fork point from, few enough to list in every snapshot


class NotCheckpointable(RuntimeError):
    """The experiment's trainer cannot save and restore its state (so its runs cannot be forked or rewound)."""


_ATOMS = (type(None), bool, int, float, str, bytes)


def _immutable(item: Any) -> bool:
    return isinstance(item, _ATOMS) or isinstance(item, np.ndarray) and not item.flags.writeable


def copied(value: Any) -> tuple[Any, int]:
    """A deep copy of a trainer's state (tensors cloned to the CPU) and the bytes it holds."""
    if isinstance(value, _ATOMS):
        return value, 0
    if type(value) is tuple and all(map(_immutable, value)):  # a weight trajectory's steps and vectors: shared,
        return value, 0  # not walked item by item (a checkpoint took ~0.5 ms, a 6,000-step run ~2% of its time)
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to("cpu", copy=True)
        return tensor, tensor.element_size() * tensor.nelement()
    if isinstance(value, np.ndarray):
        if not value.flags.writeable:
            return value, 0
        array = value.copy()
        return array, array.nbytes
    if isinstance(value, dict):
        items = {key: copied(item) for key, item in value.items()}
        return {key: item for key, (item, _) in items.items()}, sum(n for _, n in items.values())
    if isinstance(value, (list, tuple)):
        items = [copied(item) for item in value]
        return type(value)(item for item, _ in items), sum(n for _, n in items)
    # An object of the trainer's own (a probe history, a timeline): copied deep, but its read-only arrays shared.
    arrays = list(_arrays_in(value, set()))
    clone = copy.deepcopy(value, {id(a): a for a in arrays if isinstance(a, np.ndarray) and not a.flags.writeable})
    return clone, sum(a.element_size() * a.nelement() if isinstance(a, torch.Tensor) else
                      a.nbytes if a.flags.writeable else 0 for a in arrays)


def _arrays_in(value: Any, seen: set[int]) -> Iterator[np.ndarray | torch.Tensor]:
    """The arrays and tensors an object holds, through its attributes and containers, each once."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (np.ndarray, torch.Tensor)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays_in(item, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _arrays_in(item, seen)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        yield from _arrays_in(vars(value), seen)


@dataclass(frozen=True)
class Checkpoint:
    """A job at one step: its trainer's state and its own counters. Never changed once made; whoever loads it
    loads a copy (`trainer_state`), since optimizers adopt the tensors they are given and train on them."""

    step: int
    trainer: dict[str, Any]
    job: dict[str, Any]  # the job's counters (the epoch's loss so far) and the hyperparameters it trained with
    nbytes: int

    @classmethod
    def of(cls, step: int, trainer_state: dict[str, Any], job_state: dict[str, Any]) -> "Checkpoint":
        state, nbytes = copied(trainer_state)
        return cls(int(step), state, copy.deepcopy(job_state), nbytes)

    def trainer_state(self) -> dict[str, Any]:
        return copied(self.trainer)[0]


@dataclass(frozen=True)
class CheckpointSummary:
    """What a snapshot says of a job's checkpoints: which steps can be forked from, and the memory they take."""

    steps: tuple[int, ...]
    nbytes: int
    every: int  # steps between two checkpoints now
    max_bytes: int

    def describe(self) -> str:
        """E.g. "12 checkpoints, steps 0–550, every 50 steps, 3.1 MB of 64 MB" (a small network's: "12 KB of")."""
        count = len(self.steps)
        span = f"step {self.steps[0]:,}" if count == 1 else f"steps {self.steps[0]:,}–{self.steps[-1]:,}"
        kilobytes = max(1, round(self.nbytes / 2**10))  # (under 0.1 MB: "0.0 MB" said nothing)
        size = f"{self.nbytes / 2**20:.1f} MB" if self.nbytes >= 2**20 / 10 else f"{kilobytes} KB"
        return (f"{count} checkpoint{'s' * (count != 1)}, {span}, every {self.every:,} steps, "
                f"{size} of {self.max_bytes / 2**20:.0f} MB")


class CheckpointRing:
    """A job's checkpoints (see the module docstring). The job's thread adds; any thread reads: the checkpoints
    are held in a tuple replaced whole, so a reader never sees one half-changed."""

    def __init__(self, every: int = CHECKPOINT_EVERY, max_bytes: int = MAX_CHECKPOINT_BYTES,
                 max_count: int = MAX_CHECKPOINTS):
        if every < 1 or max_count < 2:
            raise ValueError("checkpoints need every >= 1 and max_count >= 2")
        self.first_every, self.every, self.max_bytes, self.max_count = every, every, max_bytes, max_count
        self._items: tuple[Checkpoint, ...] = ()

    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        return self._items

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._items)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def start(self, *checkpoints: Checkpoint) -> None:
        """Start over with these (the initial one first; a branch also has the one it was forked at)."""
        self.every = self.first_every
        self._items = ()
        for checkpoint in checkpoints:
            self.add(checkpoint)

    def add(self, checkpoint: Checkpoint) -> None:
        kept = [c for c in self._items if c.step < checkpoint.step]  # a rewound run overwrites what followed
        items = [*kept, checkpoint]
        while len(items) > 1 and (len(items) > self.max_count or sum(c.nbytes for c in items) > self.max_bytes):
            self.every *= 2
            items = [items[0], *(c for c in items[1:] if c.step % self.every == 0)]
        self._items = tuple(items)

    def at(self, step: int) -> Checkpoint:
        """The checkpoint at `step`, or the last one before it."""
        before = [c for c in self._items if c.step <= step]
        if not before:
            raise LookupError(f"no checkpoint at or before step {step}")
        return before[-1]

    def initial(self) -> Checkpoint | None:
        first = self._items[0] if self._items else None
        return first if first is not None and first.step == 0 else None

    def summary(self) -> CheckpointSummary | None:
        if not self._items:
            return None
        return CheckpointSummary(tuple(c.step for c in self._items), self.nbytes, self.every, self.max_bytes)


@dataclass(frozen=True)
class Branch:
    """What a forked job starts from: a checkpoint of the original, the original's initial checkpoint (the
    branch rewinds to it) and the original's history up to the checkpoint (the branch's curves start there)."""

    checkpoint: Checkpoint
    initial: Checkpoint
    history: Mapping[str, Series]

    @property
    def step(self) -> int:
        return self.checkpoint.step


def history_until(history: Mapping[str, Series], step: int) -> dict[str, Series]:
    """Each series' points at steps up to `step` (read-only arrays)."""
    cut = {}
    for name, series in history.items():
        n = int(np.searchsorted(series.steps, step, side="right"))
        steps, values = series.steps[:n].copy(), series.values[:n].copy()
        steps.setflags(write=False)
        values.setflags(write=False)
        cut[name] = Series(steps, values)
    return cut


def history_from(series: Mapping[str, Series]) -> MetricHistory:
    """A live history that goes on from these points."""
    history = MetricHistory()
    for name, s in series.items():
        for step, value in zip(s.steps.tolist(), s.values.tolist()):
            history.record(step, {name: value})
    return history
