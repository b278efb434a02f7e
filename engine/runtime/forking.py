"""Checkpoints, forks and rewinds of a job: a part of `engine.runtime.job.Job` (its mixin), kept in a module of its
own for size. The ring itself is engine.runtime.checkpoints; this is what a job does with it: take a checkpoint
every k steps (in the job's thread), offer a branch at a step (to a reader), start a fork from one, and restart
the trainer from one (a rewind, a fork's first build)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from engine.common.history import MetricHistory
from engine.runtime.checkpoints import (Branch, Checkpoint, CheckpointRing, NotCheckpointable, history_from,
                                        history_until)
from engine.runtime.snapshot import JobStatus

if TYPE_CHECKING:
    from engine.runtime.job import Job


class Forking:
    """Checkpoints and what is made of them, for `Job` (see the module docstring)."""

    checkpoints: CheckpointRing
    _checkpointable: bool
    _status: JobStatus
    _message: str
    _step: int
    _steps_left: int
    _epoch_goal: int | None
    _builds: int
    _history: MetricHistory
    _epoch_loss_sum: float
    _epoch_loss_count: int
    hp: dict[str, Any]
    trainer: Any

    def branch(self, step: int) -> Branch:
        """What a fork at `step` starts from: the checkpoint at or before it and the history up to there.
        Raises NotCheckpointable for an experiment without checkpoints."""
        snap = self.snapshot()  # its history reaches the checkpoint's step: checkpoints after it are not offered
        ring = self.checkpoints
        initial = ring.initial()
        if initial is None:
            raise NotCheckpointable(snap.message or f"{self.trainer_type.__name__} cannot be checkpointed")
        checkpoint = ring.at(min(int(step), snap.step))
        return Branch(checkpoint, initial, history_until(snap.history, checkpoint.step))

    def fork(self, step: int, **hyperparameters: Any) -> "Job":
        """A new job in this process, the branch: this one's experiment from its checkpoint at (or the last
        before) `step`, with these hyperparameters changed; READY, its history the original's up to there."""
        return type(self)(self.config, {**self.hp, **hyperparameters}, seed=self.seed,
                          force_cpu=self.device.type == "cpu", running_jobs=self._running_jobs, turns=self._turns,
                          trainer_type=self.trainer_type, branch=self.branch(step))

    def _job_state(self) -> dict[str, Any]:
        return {"epoch_loss_sum": self._epoch_loss_sum, "epoch_loss_count": self._epoch_loss_count,
                "hyperparameters": dict(self.hp)}

    def _take_checkpoint(self) -> None:
        if not self._checkpointable:
            return
        try:
            state = self.trainer.state()
        except NotCheckpointable:
            self._checkpointable = False  # the trainer will not learn how
            return
        self.checkpoints.add(Checkpoint.of(self._step, state, self._job_state()))

    def _restart_from(self, checkpoint: Checkpoint, history: Any = None) -> None:
        """Load `checkpoint` into the trainer and go on from its step, READY, with the hyperparameters the job
        has now (those that differ from the checkpoint's applied anew) and the history up to that step."""
        self.trainer.load_state(checkpoint.trainer_state())
        self._builds += 1  # a history that is not the last one's continued (readers elsewhere: deltas.make_delta)
        self._step = self.trainer.steps_done = checkpoint.step
        self._status, self._message, self._steps_left, self._epoch_goal = JobStatus.READY, "", 0, None
        self._epoch_loss_sum = checkpoint.job["epoch_loss_sum"]
        self._epoch_loss_count = checkpoint.job["epoch_loss_count"]
        saved = checkpoint.job["hyperparameters"]
        changed = {name: value for name, value in self.hp.items() if saved.get(name, object()) != value}
        if changed:
            self.apply_hyperparameters(changed)
        history = history_until(self._history.frozen(), checkpoint.step) if history is None else history
        self._history = history_from(history)
        with torch.no_grad():
            measured = self.evaluate()
        self._history.record(checkpoint.step, {name: value for name, value in measured.items() if not len(
            history.get(name, ())) or history[name].steps[-1] < checkpoint.step})
        self.checkpoints.add(checkpoint)
