"""What a job publishes: its status and an immutable snapshot that readers (pages, tests, benches) read
without ever touching the live model."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from engine.common.history import Series
from engine.runtime.checkpoints import CheckpointSummary


class JobStatus(str, Enum):
    READY = "ready"  # built, never trained yet
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"  # reached its stop condition; can be resumed
    DIVERGED = "diverged"  # loss went non-finite; needs a reset
    FAILED = "failed"  # an exception; needs a reset (maybe with another config)
    STOPPED = "stopped"  # thread ended; the job is finished for good


@dataclass(frozen=True)
class Snapshot:
    """What readers see of a job at one moment. Nothing in it is shared with the trainer."""

    version: int
    step: int
    epoch: float
    status: JobStatus
    message: str
    history: Mapping[str, Series]
    visuals: Any  # the trainer's typed visuals (None before the first), or a read-only dict
    hyperparameters: Mapping[str, Any]
    config: Any
    seed: int
    steps_per_second: float
    device: str
    busy: bool = False  # training right now: running, or working through step(n) / step_epoch()
    commands_applied: int = 0
    elapsed_s: float = 0.0
    visuals_step: int = -1  # the step `visuals` were observed at (-1: none yet); while training it may trail `step`
    # For readers in another process (engine.runtime.remote), which are sent only what changed:
    build: int = 0  # how many times the experiment was built (1 at first, +1 at every reset): a new history
    visuals_id: int = 0  # how many times visuals were observed: a new value means new visuals
    published_at: float = 0.0  # time.time() when pinned, comparable across processes on one machine
    # The steps a run can be forked at or rewound to, and the memory they take (None: cannot be checkpointed)
    checkpoints: CheckpointSummary | None = None

    def series(self, name: str) -> Series:
        empty = np.empty(0)
        return self.history.get(name, Series(empty.astype(np.int64), empty))

    def latest(self, name: str) -> float:
        return self.series(name).last

    @property
    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The history as viz's curve charts take it: name -> (steps, values)."""
        return {name: (series.steps, series.values) for name, series in self.history.items()}

    @property
    def is_running(self) -> bool:
        return self.status is JobStatus.RUNNING


FRESH_WAIT_S = 0.5  # the longest a fresh read waits for the job to observe (a busy server: then the last visuals)


class SnapshotBoard:
    """Where a job's thread pins its latest snapshot and readers wait for one: the only state they share,
    with `visuals_wanted`, a reader's request for the visuals of the current step."""

    def __init__(self, on_visuals_wanted: Callable[[], None] = lambda: None) -> None:
        self._changed = threading.Condition()
        self._latest: Snapshot | None = None
        self._version = 0
        self.visuals_wanted = threading.Event()  # the job observes (at most every PUBLISH_INTERVAL_S) when set
        self._on_visuals_wanted = on_visuals_wanted  # wakes the job, which may be waiting for its turn

    @property
    def last(self) -> Snapshot | None:
        """The latest snapshot, or None before the first (for the publisher itself: it never waits)."""
        return self._latest

    def pin(self, **fields: Any) -> None:
        """Publish a snapshot of these fields, with the next version number, and wake every reader."""
        with self._changed:
            self._version += 1
            self._latest = Snapshot(version=self._version, published_at=time.time(), **fields)
            self._changed.notify_all()

    def latest(self) -> Snapshot:
        """The latest snapshot (waiting for the first)."""
        with self._changed:
            while self._latest is None:
                self._changed.wait()
            return self._latest

    def read(self, fresh: bool = False) -> Snapshot:
        """The latest snapshot. `fresh=True`: while the job trains, ask it to observe and wait until it has (its
        visuals then show the step its counter does), at most FRESH_WAIT_S; the latest snapshot after that."""
        snap = self.latest()
        if not fresh or not snap.busy or snap.visuals_step >= snap.step:
            return snap
        step = snap.step
        self._want_visuals()
        try:
            return self.wait_for(lambda s: s.visuals_step >= step or not s.busy, FRESH_WAIT_S)
        except TimeoutError:
            return self.latest()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0,
                 want_visuals: bool = False) -> Snapshot:
        """Block until a published snapshot satisfies `predicate` (for tests, benches, scripts); `want_visuals`:
        asking the job to observe meanwhile, as often as it may (the waiter may be waiting for visuals)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snap = self._latest
                if want_visuals:
                    self._want_visuals()
                if snap is not None and predicate(snap):
                    return snap
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s; last status "
                                       f"{snap.status.value if snap else None}, step {snap.step if snap else None}")
                self._changed.wait(remaining)

    def _want_visuals(self) -> None:
        if not self.visuals_wanted.is_set():
            self.visuals_wanted.set()
            self._on_visuals_wanted()


def _freeze(value: Any) -> None:
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _freeze(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            _freeze(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _freeze(getattr(value, field.name))


def freeze_visuals(visuals: Any) -> Any:
    """Visuals as readers get them, every array in them read-only: a trainer's frozen dataclass as it is;
    a dict (what jobs not yet turned into trainers publish) as a read-only mapping."""
    _freeze(visuals)
    return MappingProxyType(dict(visuals)) if isinstance(visuals, dict) else visuals
