"""A job: one mechanism that trains every live experiment in a thread.

A `Job` runs a plain trainer (engine.runtime.trainer: the experiment, which owns model, data and optimizer) in
a daemon thread that loops: apply pending commands, take one training step if running, and every ~100 ms
publish an immutable `Snapshot`. Readers (pages, tests, benches) only ever call `snapshot()`, so they never
touch the live model and never slow the trainer down beyond reading one reference.

What only a reader needs (the trainer's `observe()`: decision surfaces, per-neuron images, probes) is done
when a reader asks for it, at most every ~100 ms: a page that draws calls `snapshot(fresh=True)`, which waits
for the job to observe its current step (one step, typically). Nobody watching, nothing observed; a page
reading once a second costs one observation a second. A page's job names its trainer (or a caller passes
`trainer_type=`):

    class PlaygroundJob(Job):
        trainer_type = PlaygroundTrainer

The job builds `self.trainer` from its config, hyperparameters, seed and device (the trainer seeds what its
modules draw), and keeps the runtime's own rules: commands, epochs, stop conditions and divergence
(engine.runtime.progress), turns at training with the other jobs (engine.runtime.turns) and a cap on how many
train at once in this process (engine.runtime.cap). Where the job's process is (this one, a
worker, a Ray actor) is the host's business (engine.runtime.hosts).

A job whose trainer has a `state()` keeps a ring of checkpoints (engine.runtime.checkpoints; what the job does
with them is engine.runtime.forking): the initial one and one every k steps. `rewind()` goes back to the initial
weights (the same run again, without rebuilding); `fork(step, **hyperparameters)` starts a second job, the
branch, from the checkpoint at that step with the original's history up to there, so the two runs share data,
initial weights and every step before the fork.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import math
import queue
import threading
import time
import weakref
from types import MappingProxyType
from typing import Any, Callable

import torch

from engine.common.device import describe_device, limit_threads, name_os_thread, pick_device
from engine.common.history import MetricHistory
from engine.runtime.cap import RUNNING_JOBS, JobLimitReached, RunningJobs
from engine.runtime.checkpoints import Branch, CheckpointRing
from engine.runtime.forking import Forking
from engine.runtime.progress import Progress
from engine.runtime.snapshot import JobStatus, Snapshot, SnapshotBoard, freeze_visuals
from engine.runtime.trainer import Trainer
from engine.runtime.turns import TRAINING_TURNS, TURN_SLICE_S, TrainingTurns

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 0.1  # also the shortest time between two observations while training

# Every job alive in this process, so interpreter exit can stop their threads
# first (a daemon thread killed inside a torch kernel aborts the process).
_LIVE_JOBS: "weakref.WeakSet[Job]" = weakref.WeakSet()


@atexit.register
def _stop_all_jobs() -> None:
    for job in list(_LIVE_JOBS):
        job.stop(timeout=2.0)


class Job(Progress, Forking):
    """Base class of every live experiment. See the module docstring."""

    #: Hyperparameters the base class itself understands (subclasses add theirs).
    BASE_HYPERPARAMETERS = {"max_steps_per_second": None, "stop_at_epoch": None, "target_loss": None}
    #: The plain trainer this job runs.
    trainer_type: type[Trainer]

    def __init__(self, config: Any, hyperparameters: dict[str, Any] | None = None, *, seed: int = 0,
                 force_cpu: bool = False, running_jobs: RunningJobs = RUNNING_JOBS,
                 turns: TrainingTurns = TRAINING_TURNS, trainer_type: type[Trainer] | None = None,
                 branch: Branch | None = None):
        if trainer_type is not None:
            self.trainer_type = trainer_type
        self.config = config
        self.seed = int(seed)
        self.device = pick_device(force_cpu)
        self.hp: dict[str, Any] = {**self.BASE_HYPERPARAMETERS, **(hyperparameters or {})}
        self._running_jobs = running_jobs
        self._turns = turns
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._tickets = itertools.count(1)
        self._sent = 0  # the last ticket handed out
        self._applied = 0
        self._board = SnapshotBoard(on_visuals_wanted=lambda: self._turns.wake(self))
        # Trainer-thread state.
        self._status = JobStatus.READY
        self._message = ""
        self._step = 0
        self._steps_left = 0  # for step(n) while paused
        self._jump_queue = False  # someone just pressed Train, Step or Epoch: their first turn comes first
        self._epoch_goal: int | None = None  # for step_epoch()
        self._history = MetricHistory()
        self._branch = branch  # what the first build starts from (a fork); a reset starts from scratch
        self.checkpoints = CheckpointRing()
        self._checkpointable = True
        self._epoch_loss_sum = 0.0
        self._epoch_loss_count = 0
        self._train_time = 0.0
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._visuals_step = -1
        self._visuals_id = 0
        self._builds = 0
        self._next_observe = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"gradscape-{type(self).__name__}", daemon=True)
        _LIVE_JOBS.add(self)
        self._thread.start()

    # ------------------------------------------------------------------ hooks
    # Each hands over to the trainer; the runtime's own rules (turns, epochs, stop conditions) stay here.
    trainer: Trainer

    def setup(self) -> None:
        # The job's own hp dict: the trainer sees every live change the job stores in it.
        self.trainer = self.trainer_type(self.config, self.hp, seed=self.seed, device=self.device)

    def train_step(self) -> dict[str, float]:
        self.trainer.steps_done = self._step
        return self.trainer.train_step()

    def evaluate(self) -> dict[str, float]:
        self.trainer.training = self._busy()
        return self.trainer.evaluate()

    def observe(self) -> Any:
        self.trainer.training = self._busy()
        return self.trainer.observe()

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        """Apply live changes to the optimizer or model; the base stores them in `self.hp`."""
        self.trainer.apply_hyperparameters(changes)

    @property
    def epoch(self) -> float:
        return self.trainer.epoch

    @property
    def steps_done(self) -> int:
        """Training steps completed so far."""
        return self._step

    def on_epoch_end(self, epoch: int, mean_loss: float) -> None:
        """Called by the trainer thread each time a whole epoch has been trained; a trainer that says why
        training is done (a perceptron that converged, early stopping) ends it."""
        reason = self.trainer.on_epoch_end(epoch, mean_loss)
        if reason:
            self._end(JobStatus.DONE, reason)

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return self.trainer.explain_divergence(step, name, value)

    # ------------------------------------------------------------ control API
    def play(self) -> int:
        """Start or resume training. Raises JobLimitReached when the server is full."""
        if not self.alive:  # a stopped job never trains again; it must not hold a slot
            return self._send("play", None)
        if not self._running_jobs.acquire(self):
            raise JobLimitReached(
                f"The server is already training {self._running_jobs.limit} models at once, its limit. "
                "Pause an experiment in another tab, or try again in a moment.")
        return self._send("play", None)

    def pause(self) -> int:
        return self._send("pause", None)

    def step(self, n: int = 1) -> int:
        """Train exactly `n` steps (minibatches), then pause."""
        return self._send("step", max(1, int(n)))

    def step_epoch(self) -> int:
        """Train until the next whole epoch, then pause."""
        return self._send("step_epoch", None)

    def reset(self, config: Any = None, seed: int | None = None, force_cpu: bool | None = None) -> int:
        """Rebuild from scratch, with a new config, seed or device if given; status becomes READY."""
        return self._send("reset", (config, seed, force_cpu))

    def set_hyperparameters(self, **changes: Any) -> int:
        """Change live hyperparameters (no reset): they take effect at the next step."""
        return self._send("set", changes)

    def rewind(self, new_seed: bool = False) -> int:
        """Back to the initial weights, status READY: with the same seed, the initial checkpoint (the same
        weights and data order, so training again repeats the run; the hyperparameters stay as they are now);
        with a new seed (the next one), new initial weights and batches on the same data (a rebuild)."""
        return self._send("rewind", bool(new_seed))

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread for good. Safe to call more than once and from any thread."""
        self._send("stop", None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._running_jobs.release(self)

    def _send(self, kind: str, arg: Any) -> int:
        """Queue a command; the returned ticket can be passed to `wait_applied`."""
        ticket = next(self._tickets)
        self._sent = ticket
        self._commands.put((ticket, kind, arg))
        self._turns.wake(self)  # a job waiting for its turn applies it now
        return ticket

    def wait_applied(self, ticket: int, timeout: float = 10.0) -> Snapshot:
        """Block until the command with this ticket has been applied and published."""
        return self.wait_for(lambda s: s.commands_applied >= ticket or s.status is JobStatus.STOPPED, timeout,
                             visuals=False)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def where(self) -> str:
        """Where it trains, for people (a job in another process says which: engine.runtime.hosts)."""
        return "the web server's process"

    def has_unapplied_commands(self, snap: Snapshot | None = None) -> bool:
        """Whether a command sent to this job still waits for the trainer (on a busy server a click can
        take longer to be applied than the page's run waits for it): in `snap`, a snapshot the caller read
        after its commands (a job in another process is not asked again), else in the latest."""
        return self.alive and (snap or self.snapshot()).commands_applied < self._sent

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """The latest snapshot; `fresh=True`, for a reader that draws the visuals: those of the current step
        (engine.runtime.snapshot.SnapshotBoard.read)."""
        return self._board.read(fresh=fresh and self.alive)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0,
                 visuals: bool = True) -> Snapshot:
        """Block until a published snapshot satisfies `predicate`. A waiter may be waiting for visuals: while it
        waits, the job observes as often as it may; `visuals=False` for one that waits for a command or a step
        only (a click: observing for it would delay the very step it waits for)."""
        return self._board.wait_for(predicate, timeout, want_visuals=visuals)

    def wait_version(self, version: int, timeout: float = 10.0) -> Snapshot:
        return self.wait_for(lambda s: s.version > version, timeout)

    # ----------------------------------------------------------------- thread
    def _loop(self) -> None:
        name_os_thread(self._thread.name)
        try:
            self._train_in_turns()
        finally:
            self._turns.give_back(self)
        self._set_stopped()

    def _train_in_turns(self) -> None:
        limit_threads()
        self._build()
        self._publish()
        next_publish = time.monotonic() + PUBLISH_INTERVAL_S
        next_step_at = 0.0
        turn_ends = None  # while this job has a turn: when it hands it on
        while True:
            wait = None
            if not self._busy():
                wait = 1.0
            elif self.hp.get("max_steps_per_second"):
                wait = max(0.0, next_step_at - time.monotonic())
            if wait:  # never sleep holding a turn, or a place in the queue, that another job could use
                self._turns.give_back(self)
                turn_ends = None
            if not self._drain_commands(wait):
                return
            if not self._busy():
                continue
            rate_limit = self.hp.get("max_steps_per_second")
            now = time.monotonic()
            if rate_limit:
                if now < next_step_at:
                    continue
            if turn_ends is None:
                # Wait for a turn until a command (pause, stop) or a reader's wish for visuals wakes the wait: they
                # are applied meanwhile, and a page waiting for visuals gets them without waiting for a turn
                # (observing is a reader's work, done as often as readers ask, not training).
                wanted = self._board.visuals_wanted.is_set()
                if not self._turns.take(self, timeout=max(0.0, self._next_observe - time.monotonic()) if wanted
                                         else 1.0, first=self._jump_queue):
                    if self._board.visuals_wanted.is_set() and time.monotonic() >= self._next_observe:
                        self._publish(observe=True, evaluate=False)
                    continue
                self._jump_queue = False
                turn_ends = time.monotonic() + TURN_SLICE_S
            if rate_limit:
                next_step_at = max(next_step_at, time.monotonic()) + 1.0 / float(rate_limit)
            self._one_step()
            if self.checkpoints.due(self._step) and self._status not in (JobStatus.FAILED, JobStatus.DIVERGED):
                self._take_checkpoint()
            now = time.monotonic()
            observe = not self._busy() or (self._board.visuals_wanted.is_set() and now >= self._next_observe)
            if observe or now >= next_publish:
                self._publish(observe=observe)
                next_publish = now + PUBLISH_INTERVAL_S
            if not self._busy() or now >= turn_ends:
                self._turns.give_back(self)
                turn_ends = None

    def _drain_commands(self, block_for: float | None) -> bool:
        """Apply queued commands; False once a stop was received."""
        if not block_for and self._commands.empty():  # between two steps: no exception raised and caught
            return True
        try:
            command = self._commands.get(timeout=block_for) if block_for else self._commands.get_nowait()
        except queue.Empty:
            return True
        while True:
            if not self._apply(command):
                return False
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return True

    def _apply(self, command: tuple[int, str, Any]) -> bool:
        ticket, kind, arg = command
        self._applied = ticket
        if kind == "stop":
            return False
        if kind == "play":
            if self._status in (JobStatus.READY, JobStatus.PAUSED, JobStatus.DONE):
                self._status = JobStatus.RUNNING
                self._message = ""
                self._rate_mark = (time.monotonic(), self._step)
                self._jump_queue = True
            else:
                self._running_jobs.release(self)
        elif kind == "pause":
            if self._status is JobStatus.RUNNING:
                self._status = JobStatus.PAUSED
            self._steps_left, self._epoch_goal = 0, None
            self._running_jobs.release(self)
        elif kind == "step":
            if self._can_step():
                self._status = JobStatus.PAUSED
                self._steps_left = arg
                self._jump_queue = True
                self._running_jobs.release(self)
        elif kind == "step_epoch":
            if self._can_step():
                self._status = JobStatus.PAUSED
                self._epoch_goal = math.floor(self._safe_epoch() + 1e-9) + 1
                self._jump_queue = True
                self._running_jobs.release(self)
        elif kind == "reset":
            config, seed, force_cpu = arg
            if config is not None:
                self.config = config
            if seed is not None:
                self.seed = int(seed)
            if force_cpu is not None:
                self.device = pick_device(force_cpu)
            self._running_jobs.release(self)
            self._build()
        elif kind == "set":
            self._set_hyperparameters(arg)
        elif kind == "rewind":
            self._running_jobs.release(self)
            initial = self.checkpoints.initial()
            if arg or initial is None:
                self.seed += int(arg)
                self._build()
            else:
                self._restart_from(initial)
        self._publish()
        return True

    def _busy(self) -> bool:
        return self._status is JobStatus.RUNNING or self._steps_left > 0 or self._epoch_goal is not None

    def _can_step(self) -> bool:
        return self._status in (JobStatus.READY, JobStatus.PAUSED, JobStatus.DONE, JobStatus.RUNNING)

    def _set_hyperparameters(self, changes: dict[str, Any]) -> None:
        try:
            self.apply_hyperparameters(changes)
            self.hp.update(changes)
        except Exception as error:  # a bad value must not kill the job
            log.exception("hyperparameter change failed")
            self._message = f"Could not apply {sorted(changes)}: {error}"

    def _build(self) -> None:
        self._builds += 1
        self._status, self._message = JobStatus.READY, ""
        self._step, self._steps_left, self._epoch_goal = 0, 0, None
        self._history = MetricHistory()
        self._epoch_loss_sum, self._epoch_loss_count = 0.0, 0
        self._train_time, self._rate = 0.0, 0.0
        self.checkpoints.start()
        branch, self._branch = self._branch, None
        try:
            self.setup()
            self.apply_hyperparameters(dict(self.hp))
            if branch is not None:
                self.checkpoints.start(branch.initial, branch.checkpoint)
                self._restart_from(branch.checkpoint, branch.history)
                return
            with torch.no_grad():
                self._history.record(0, self.evaluate())
            self._take_checkpoint()
        except Exception as error:
            self._fail("setting up", error)

    def _set_stopped(self) -> None:
        self._status = JobStatus.STOPPED
        self._running_jobs.release(self)
        self._publish(observe=False, evaluate=False)

    def _publish(self, observe: bool = True, evaluate: bool = True) -> None:
        """Pin a snapshot; `evaluate`: with the trainer's evaluation at this step; `observe`: with its visuals
        (else the last ones stay, with the step they were observed at)."""
        visuals: Any = self._board.last.visuals if self._board.last else None
        now = time.monotonic()
        if self._status not in (JobStatus.FAILED, JobStatus.DIVERGED, JobStatus.STOPPED):
            try:
                with torch.no_grad():
                    if evaluate and self._step:
                        self._history.record(self._step, self.evaluate())
                    if observe:
                        self._board.visuals_wanted.clear()
                        visuals, self._visuals_step = freeze_visuals(self.observe()), self._step
                        self._visuals_id += 1
                        self._next_observe = now + PUBLISH_INTERVAL_S
            except Exception as error:
                self._fail(f"measuring step {self._step}", error)
        mark_time, mark_step = self._rate_mark
        if self._step < mark_step:  # the counter went back (a rebuild, a rewind): no rate across it
            self._rate, self._rate_mark = 0.0, (now, self._step)
        elif now - mark_time >= 0.5:
            self._rate = (self._step - mark_step) / (now - mark_time)
            self._rate_mark = (now, self._step)
        if self._status is not JobStatus.RUNNING:
            self._rate_mark = (now, self._step)
        self._board.pin(
            step=self._step, epoch=self._safe_epoch(), status=self._status, message=self._message,
            history=MappingProxyType(self._history.frozen()), visuals=visuals,
            hyperparameters=MappingProxyType(dict(self.hp)), config=self.config, seed=self.seed,
            steps_per_second=self._rate if self._status is JobStatus.RUNNING else 0.0,
            device=describe_device(self.device), busy=self._busy(), commands_applied=self._applied,
            elapsed_s=self._train_time, visuals_step=self._visuals_step, build=self._builds,
            visuals_id=self._visuals_id, checkpoints=self.checkpoints.summary())
