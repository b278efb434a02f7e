"""A job that trains in another process (a worker of the pool, a Ray actor), used as if it were here.

Two halves, one on each side of the process boundary:

- `JobService` lives where the job trains: it builds the `Job`, applies the commands it is sent and answers
  snapshot reads with `SnapshotDelta`s, only what changed since the reader's last version (engine.runtime.deltas).
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
from types import MappingProxyType
from typing import Any, Callable, Protocol

from engine.common.device import pick_device
from engine.runtime.checkpoints import Branch
from engine.runtime.deltas import Known, SnapshotDelta, apply_delta, make_delta
from engine.runtime.job import Job
from engine.runtime.snapshot import JobStatus, Snapshot

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

    def has_unapplied_commands(self, snap: Snapshot | None = None) -> bool:
        return self.alive and (snap or self.snapshot()).commands_applied < self._sent

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
