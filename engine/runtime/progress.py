"""What a training step does to a job: the step counter, the history, epochs, and the ends of training (stop
conditions, divergence, failures). A part of `engine.runtime.job.Job` (its mixin), kept in a module of its own
for size; it runs in the job's thread only, on the state `Job.__init__` and `Job._build` set up."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch

from engine.common.history import MetricHistory
from engine.runtime.cap import RunningJobs
from engine.runtime.snapshot import JobStatus

log = logging.getLogger("engine.runtime.job")


class Progress:
    """The step and its consequences, for `Job` (see the module docstring)."""

    _status: JobStatus
    _message: str
    _step: int
    _steps_left: int  # for step(n) while paused
    _epoch_goal: int | None  # for step_epoch()
    _history: MetricHistory
    _epoch_loss_sum: float
    _epoch_loss_count: int
    _train_time: float
    _running_jobs: RunningJobs
    hp: dict[str, Any]
    trainer: Any

    def _one_step(self) -> None:
        epoch_before = math.floor(self._safe_epoch() + 1e-9)
        started = time.perf_counter()
        try:
            metrics = self.train_step()
        except Exception as error:
            self._fail(f"training step {self._step + 1}", error)
            return
        self._train_time += time.perf_counter() - started
        self._step += 1
        self.trainer.steps_done = self._step
        for name, value in metrics.items():
            if not math.isfinite(value):
                self._end(JobStatus.DIVERGED, self.explain_divergence(self._step, name, value))
                return
        self._history.record(self._step, metrics)
        loss = metrics.get("loss")
        if loss is not None:
            self._epoch_loss_sum += loss
            self._epoch_loss_count += 1
        if self._steps_left > 0:
            self._steps_left -= 1
            if self._steps_left == 0:
                self._status = JobStatus.PAUSED
        epoch_now = math.floor(self._safe_epoch() + 1e-9)
        if epoch_now > epoch_before:
            self._epoch_finished(epoch_now)

    def _epoch_finished(self, epoch: int) -> None:
        mean_loss = self._epoch_loss_sum / max(1, self._epoch_loss_count)
        self._epoch_loss_sum, self._epoch_loss_count = 0.0, 0
        self.on_epoch_end(epoch, mean_loss)
        if self._epoch_goal is not None and epoch >= self._epoch_goal:
            self._epoch_goal = None  # step_epoch() is done; the job stays paused
            return
        if self._status is not JobStatus.RUNNING:
            return
        target, last_epoch = self.hp.get("target_loss"), self.hp.get("stop_at_epoch")
        if target is not None and mean_loss <= float(target):
            self._end(JobStatus.DONE, f"Reached the target loss {float(target):g}: the mean training loss of "
                                      f"epoch {epoch} was {mean_loss:.4g} (step {self._step}).")
        elif last_epoch is not None and epoch >= int(last_epoch):
            self._end(JobStatus.DONE, f"Stopped after epoch {epoch}, as asked (step {self._step}).")

    def _fail(self, doing: str, error: Exception) -> None:
        log.exception("job %s failed while %s", type(self).__name__, doing)
        text = str(error).strip() or type(error).__name__
        if isinstance(error, torch.OutOfMemoryError):
            text = "the device ran out of memory; make the network or the batch smaller and press Reset"
        self._end(JobStatus.FAILED, f"Failed while {doing}: {text}")

    def _end(self, status: JobStatus, message: str) -> None:
        self._status, self._message = status, message
        self._steps_left, self._epoch_goal = 0, None
        self._running_jobs.release(self)

    def _safe_epoch(self) -> float:
        try:
            return float(self.epoch)
        except Exception:  # a job whose setup failed may not know its data size
            return 0.0
