"""A job that trains in another process (a worker of the pool, a Ray actor), used as if it were here.

Two halves, one on each side of the process boundary:

- `JobService` lives where the job trains: it builds the `Job`, applies the commands it is sent and answers
  snapshot reads with `SnapshotDelta`s, only what changed since the reader's last version. A history is
  append-only between resets, so a delta carries each series' new points (the reader keeps the rest), and the
  visuals only when they were observed anew. Arrays travel as raw buffers (pickle protocol 5), never element
  by element.
- `RemoteJob` lives in the web server: the `Job` API the pages use (commands in, snapshots out), over a
  `Channel` to its service. It keeps the latest snapshot and merges deltas into it, so a read costs one small
  round trip. When the process that trained it is gone (killed, crashed, out of memory), the job reports
  FAILED with a message the student can act on, and Reset builds it again in a process that is alive.

Reading never waits for a training step: the job trains in its own thread over there, and the service
answers from the job's last published snapshot (a fresh read waits for an observation, at most
`engine.runtime.snapshot.FRESH_WAIT_S`, exactly as it would here).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import torch

from engine.common.device import pick_device
from engine.common.history import Series
from engine.runtime.checkpoints import Branch
from engine.runtime.job import Job
from engine.runtime.snapshot import JobStatus, Snapshot, freeze_visuals

# The commands a service takes: the Job API's, by name, and nothing else.
COMMANDS = frozenset({"play", "pause", "step", "step_epoch", "reset", "set_hyperparameters", "rewind"})
CALL_TIMEOUT_S = 30.0  # a command or a read that takes longer means the other side is stuck
WAIT_PIECE_S = 1.0  # a reader waiting for a condition asks for news at least this often
# A plain read this soon after the last answer reuses it: a job publishes at most every PUBLISH_INTERVAL_S
# (0.1 s) while it trains, and one page run reads its job several times within milliseconds (the controls, the
# live area, the class room's report). Under a class's load a round trip took 18 ms (median) and 123 ms (p90),
# and the script threads spent half their time waiting for them. A command sent ends the reuse at once.
REUSE_READ_S = 0.1


class TrainerLost(RuntimeError):
    """The process a job trained in is gone; the text says so in words a student can act on."""


# ------------------------------------------------------------------------- deltas
@dataclass(frozen=True)
class Known:
    """What a reader already has: the version, build and visuals of its snapshot, and each series' length."""

    version: int = 0
    build: int = -1
    visuals_id: int = -1
    series: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # name -> (points, the last step)

    @classmethod
    def of(cls, snap: Snapshot | None) -> "Known":
        if snap is None:
            return cls()
        return cls(snap.version, snap.build, snap.visuals_id,
                   {name: (len(s), int(s.steps[-1])) for name, s in snap.history.items() if len(s)})


@dataclass(frozen=True)
class SnapshotDelta:
    """A snapshot as a reader that knows `Known` needs it."""

    fields: dict[str, Any]  # every Snapshot field but history and visuals
    series: dict[str, tuple[int, np.ndarray, np.ndarray]]  # name -> (points the reader keeps, new steps, values)
    visuals: Any = None
    visuals_changed: bool = False

    @property
    def version(self) -> int:
        return self.fields["version"]


_PLAIN_FIELDS = tuple(f.name for f in dataclasses.fields(Snapshot) if f.name not in ("history", "visuals"))


def _plain(value: Any) -> Any:
    """A read-only mapping as a dict (mappingproxy does not pickle)."""
    return dict(value) if isinstance(value, MappingProxyType) else value


def make_delta(snap: Snapshot, known: Known) -> SnapshotDelta | None:
    """What a reader that knows `known` lacks of `snap`; None when it has this version already."""
    if snap.version == known.version:
        return None
    same_build = snap.build == known.build
    series = {}
    for name, s in snap.history.items():
        points, last_step = known.series.get(name, (0, None))
        # Compaction merges old points, and a reset starts over: then the last known step no longer sits at
        # the same place, and the whole series is sent.
        kept = points if same_build and 0 < points <= len(s) and s.steps[points - 1] == last_step else 0
        series[name] = (kept, s.steps[kept:], s.values[kept:])
    changed = snap.visuals_id != known.visuals_id
    # The config changes only with a rebuild: within one build the reader keeps its own (and its identity,
    # which the pages' memo of figures goes by).
    fields = {name: _plain(getattr(snap, name)) for name in _PLAIN_FIELDS if not (same_build and name == "config")}
    return SnapshotDelta(fields, series, _plain(snap.visuals) if changed else None, changed)


def reuse_unchanged(new: Any, old: Any) -> Any:
    """`new` (just unpickled, so nobody else holds it) with every part equal to the same part of `old` replaced
    by old's object, and `old` itself when nothing differs. Pages memoize figures by the identity of what they
    draw (ui.live.remembered): visuals observed anew share what did not change, as they do in one process."""
    if type(new) is not type(old):
        return new
    if isinstance(new, np.ndarray):
        same = new.shape == old.shape and new.dtype == old.dtype and np.array_equal(
            new, old, equal_nan=new.dtype.kind in "fc")
        return old if same else new
    if isinstance(new, torch.Tensor):
        same = new.shape == old.shape and new.dtype == old.dtype and torch.equal(new, old)
        return old if same else new
    if dataclasses.is_dataclass(new):
        parts = {f.name: reuse_unchanged(getattr(new, f.name), getattr(old, f.name)) for f in dataclasses.fields(new)}
        if all(value is getattr(old, name) for name, value in parts.items()):
            return old
        for name, value in parts.items():
            object.__setattr__(new, name, value)  # a frozen dataclass, but ours alone until returned
        return new
    if isinstance(new, (tuple, list)):
        parts = [reuse_unchanged(a, b) for a, b in zip(new, old)] if len(new) == len(old) else None
        if parts is not None and all(a is b for a, b in zip(parts, old)):
            return old
        return type(new)(parts) if parts is not None and type(new) in (tuple, list) else new
    if isinstance(new, dict):
        parts = {key: reuse_unchanged(value, old[key]) if key in old else value for key, value in new.items()}
        return old if parts.keys() == old.keys() and all(parts[k] is old[k] for k in parts) else parts
    try:
        return old if bool(new == old) else new
    except Exception:  # a value without a plain equality
        return new


def apply_delta(base: Snapshot | None, delta: SnapshotDelta) -> Snapshot:
    """The snapshot `delta` describes, given the snapshot it was made against."""
    history = {}
    for name, (kept, steps, values) in delta.series.items():
        if kept and not len(steps) and kept == len(base.history[name]):
            history[name] = base.history[name]  # unchanged: the same object
            continue
        if kept:
            old = base.history[name]
            steps, values = np.concatenate([old.steps[:kept], steps]), np.concatenate([old.values[:kept], values])
        steps.setflags(write=False)
        values.setflags(write=False)
        history[name] = Series(steps, values)
    visuals = base.visuals if base is not None else None
    if delta.visuals_changed:
        previous = dict(visuals) if isinstance(visuals, MappingProxyType) else visuals
        visuals = freeze_visuals(reuse_unchanged(delta.visuals, previous))
    fields = dict(delta.fields)
    fields.setdefault("config", base.config if base is not None else None)
    hyperparameters = fields["hyperparameters"]
    fields["hyperparameters"] = (base.hyperparameters if base is not None and dict(base.hyperparameters) ==
                                 hyperparameters else MappingProxyType(dict(hyperparameters)))
    return Snapshot(history=MappingProxyType(history), visuals=visuals, **fields)


# ------------------------------------------------------------- where it trains
class JobService:
    """One job where it trains, served to a `RemoteJob` (a worker process holds many; a Ray actor is one)."""

    def __init__(self, job_type: type[Job], config: Any, hyperparameters: dict[str, Any], seed: int,
                 force_cpu: bool, trainer_type: type | None = None, branch: Branch | None = None):
        extra = {"trainer_type": trainer_type} if trainer_type is not None else {}
        if branch is not None:
            extra["branch"] = branch
        self.job = job_type(config, hyperparameters, seed=seed, force_cpu=force_cpu, **extra)

    def command(self, name: str, args: tuple, kwargs: dict[str, Any]) -> int:
        if name not in COMMANDS:
            raise ValueError(f"not a job command: {name}")
        return getattr(self.job, name)(*args, **kwargs)

    def branch(self, step: int) -> Branch:
        """What a fork at `step` starts from (it travels to wherever the branch is placed)."""
        return self.job.branch(step)

    def delta(self, known: Known, fresh: bool = False) -> SnapshotDelta | None:
        return make_delta(self.job.snapshot(fresh=fresh), known)

    def wait(self, known: Known, timeout: float, visuals: bool = True) -> SnapshotDelta | None:
        """The next version after `known` (as `Job.wait_for` waits: with `visuals`, observed meanwhile), or None."""
        try:
            snap = self.job.wait_for(lambda s: s.version > known.version, timeout, visuals)
        except TimeoutError:
            return None
        return make_delta(snap, known)

    def stop(self) -> None:
        self.job.stop(timeout=2.0)

    def device(self) -> str:
        return self.job.device.type

    def pid(self) -> int:
        return os.getpid()


class Channel(Protocol):
    """How a `RemoteJob` reaches its service: `call("delta", known, False)` runs `JobService.delta` over there."""

    where: str  # for people: "worker 2 of 7 (CPU)"

    def call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        """The method's result; raises TrainerLost when the process is gone, TimeoutError when it is stuck."""

    def close(self) -> None:
        """Stop the job over there and forget it (the channel is not used again)."""


# (config, hp, seed, force_cpu, branch) -> a new job's channel
Placer = Callable[[Any, dict[str, Any], int, bool, "Branch | None"], Channel]


class RemoteJob:
    """The Job API over a channel. See the module docstring."""

    def __init__(self, place: Placer, config: Any, hyperparameters: dict[str, Any] | None = None, *,
                 seed: int = 0, force_cpu: bool = False, branch: Branch | None = None):
        self._place = place
        self._branch = branch  # a fork's start: built from it again after a loss, until a reset
        self._lock = threading.Lock()
        self._snap: Snapshot | None = None
        self._answered_at = -math.inf  # when the other side last answered a read (time.monotonic)
        self._lost: str | None = None  # why the process that trained it is gone
        self._stopped = False
        self._sent = 0
        self._force_cpu = force_cpu
        self.device = pick_device(force_cpu)
        self._spec = (config, dict(hyperparameters or {}), int(seed))  # to build it again after a loss
        self._channel: Channel | None = None
        self._connect()

    # ------------------------------------------------------------ what pages read
    @property
    def where(self) -> str:
        return self._channel.where if self._channel is not None and not self._lost else "nowhere (stopped)"

    def trainer_pid(self) -> int:
        """The process that trains it (for tests and operators: `kill -9` it to see a fault handled)."""
        return self._channel.call("pid")

    # What the job was last seen with (a read, a wait): no round trip of its own.
    @property
    def config(self) -> Any:
        return self._known().config

    @property
    def seed(self) -> int:
        return self._known().seed

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self._known().hyperparameters)

    @property
    def alive(self) -> bool:
        return not self._stopped and self._lost is None and self._known().status is not JobStatus.STOPPED

    def _known(self) -> Snapshot:
        return self._last() or self.snapshot()

    def snapshot(self, fresh: bool = False) -> Snapshot:
        if self._lost is not None or self._stopped:
            return self._last()
        asked = time.monotonic()
        if not fresh and asked - self._answered_at < REUSE_READ_S:
            return self._last()
        known = Known.of(self._snap)
        try:
            delta = self._channel.call("delta", known, fresh)
        except TrainerLost as error:
            return self._lose(str(error))
        self._answered_at = asked
        return self._merge(known, delta)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0,
                 visuals: bool = True) -> Snapshot:
        deadline = time.monotonic() + timeout
        snap = self.snapshot()
        while not predicate(snap):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._lost is not None or self._stopped:
                if predicate(snap):
                    break
                raise TimeoutError(f"condition not met within {timeout}s; last status {snap.status.value}, "
                                   f"step {snap.step}")
            known = Known.of(snap)
            try:
                delta = self._channel.call("wait", known, min(remaining, WAIT_PIECE_S), visuals,
                                           timeout=min(remaining, WAIT_PIECE_S) + CALL_TIMEOUT_S)
            except TrainerLost as error:
                snap = self._lose(str(error))
                continue
            snap = self._merge(known, delta)
        return snap

    def wait_applied(self, ticket: int, timeout: float = 10.0) -> Snapshot:
        return self.wait_for(lambda s: s.commands_applied >= ticket or s.status is JobStatus.STOPPED, timeout,
                             visuals=False)

    def wait_version(self, version: int, timeout: float = 10.0) -> Snapshot:
        return self.wait_for(lambda s: s.version > version, timeout)

    def has_unapplied_commands(self) -> bool:
        return self.alive and self.snapshot().commands_applied < self._sent

    # --------------------------------------------------------------- commands
    def play(self) -> int:
        return self._command("play")

    def pause(self) -> int:
        return self._command("pause")

    def step(self, n: int = 1) -> int:
        return self._command("step", n)

    def step_epoch(self) -> int:
        return self._command("step_epoch")

    def set_hyperparameters(self, **changes: Any) -> int:
        self._spec[1].update(changes)
        return self._command("set_hyperparameters", **changes)

    def rewind(self, new_seed: bool = False) -> int:
        if new_seed:
            config, hp, seed = self._spec
            self._spec, self._branch = (config, hp, seed + 1), None
        return self._command("rewind", bool(new_seed))

    def branch(self, step: int) -> Branch:
        return self._channel.call("branch", int(step))

    def fork(self, step: int, **hyperparameters: Any) -> "RemoteJob":
        """The branch (see Job.fork), placed by this job's host: the checkpoint comes here and goes there."""
        config, hp, seed = self._spec
        return RemoteJob(self._place, config, {**hp, **hyperparameters}, seed=seed, force_cpu=self._force_cpu,
                         branch=self.branch(step))

    def reset(self, config: Any = None, seed: int | None = None, force_cpu: bool | None = None) -> int:
        self._branch = None
        old_config, hp, old_seed = self._spec
        self._spec = (old_config if config is None else config, hp, old_seed if seed is None else int(seed))
        moves = force_cpu is not None and pick_device(force_cpu) != self.device
        if force_cpu is not None:
            self._force_cpu, self.device = force_cpu, pick_device(force_cpu)
        if self._lost is not None or moves:  # build it again where it can train (another process, device)
            self._disconnect()
            self._connect()
            return 0
        return self._command("reset", config, seed, force_cpu)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped = True
        self._disconnect()
        with self._lock:  # what a stopped Job shows: stopped for good, waiting for nothing
            if self._snap is not None and self._snap.status is not JobStatus.STOPPED:
                self._snap = dataclasses.replace(self._snap, version=self._snap.version + 1, status=JobStatus.STOPPED,
                                                 busy=False, steps_per_second=0.0, commands_applied=self._sent)

    # --------------------------------------------------------------- inside
    def _connect(self) -> None:
        config, hp, seed = self._spec
        with self._lock:  # a new job over there: its versions and tickets start again
            self._snap, self._lost, self._sent, self._answered_at = None, None, 0, -math.inf
        try:
            self._channel = self._place(config, hp, seed, self._force_cpu, self._branch)
        except TrainerLost as error:
            self._channel = None
            self._lose(str(error))
        except Exception as error:  # a stuck or refusing trainer: the page says so, Reset tries again
            self._channel = None
            self._lose(f"Could not start training ({type(error).__name__}: {error}). Press Reset to try again.")

    def _disconnect(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def _command(self, name: str, *args: Any, **kwargs: Any) -> int:
        if self._stopped or self._lost is not None:
            return self._sent  # as a stopped Job: the command is never applied, nothing waits for it
        try:
            ticket = self._channel.call("command", name, args, kwargs)
        except TrainerLost as error:
            self._lose(str(error))
            return self._sent
        self._sent = max(self._sent, ticket)
        self._answered_at = -math.inf  # the next read shows whether it was applied
        return ticket

    def _merge(self, known: Known, delta: SnapshotDelta | None) -> Snapshot:
        while True:
            with self._lock:
                if delta is None or (self._snap is not None and delta.version <= self._snap.version):
                    return self._snap
                if Known.of(self._snap) == known:
                    self._snap = apply_delta(self._snap, delta)
                    return self._snap
                known = Known.of(self._snap)  # another thread moved on: that delta was made against an older one
            try:
                delta = self._channel.call("delta", known, False)
            except TrainerLost as error:
                return self._lose(str(error))

    def _last(self) -> Snapshot:
        with self._lock:
            return self._snap

    def _lose(self, why: str) -> Snapshot:
        """The process is gone: the job is FAILED, and says why and what to do."""
        with self._lock:
            self._lost = why
            base = self._snap or _empty_snapshot(*self._spec)
            self._snap = dataclasses.replace(
                base, version=base.version + 1, status=JobStatus.FAILED, message=why, busy=False,
                steps_per_second=0.0, commands_applied=max(base.commands_applied, self._sent),
                published_at=time.time())
            return self._snap


def _empty_snapshot(config: Any, hyperparameters: dict[str, Any], seed: int) -> Snapshot:
    """What a job that never started shows (its process could not take it)."""
    return Snapshot(version=0, step=0, epoch=0.0, status=JobStatus.FAILED, message="", history={}, visuals=None,
                    hyperparameters=MappingProxyType(dict(hyperparameters)), config=config, seed=seed,
                    steps_per_second=0.0, device="")


class RemoteHost:
    """A host whose jobs train in other processes (engine.runtime.processes, engine.runtime.ray_host): `start`
    gives a `RemoteJob` that `_place` puts somewhere, and puts again when its process is lost."""

    def start(self, job_type: type[Job], config: Any, hyperparameters: dict[str, Any] | None = None, *,
              seed: int = 0, force_cpu: bool = False, trainer_type: type | None = None) -> RemoteJob:
        def place(config: Any, hp: dict[str, Any], seed: int, force_cpu: bool, branch: Branch | None) -> Channel:
            return self._place(job_type, config, hp, seed, force_cpu, trainer_type, branch)

        return RemoteJob(place, config, hyperparameters, seed=seed, force_cpu=force_cpu)

    def _place(self, job_type: type[Job], config: Any, hp: dict[str, Any], seed: int, force_cpu: bool,
               trainer_type: type | None, branch: Branch | None = None) -> Channel:
        """A new job's channel: the job built in a process that has room for it (raises TrainerLost if none)."""
        raise NotImplementedError
