"""The job runtime: every live experiment trains in a `Job` (its thread, commands, snapshots), taking turns
with the others (`turns`) under a server-wide cap (`cap`); readers only ever see a `Snapshot`."""

from engine.runtime.cap import RUNNING_JOBS, JobLimitReached, RunningJobs
from engine.runtime.job import Job
from engine.runtime.snapshot import JobStatus, Snapshot
from engine.runtime.trainer import Trainer, train
from engine.runtime.turns import TRAINING_TURNS, TURN_SLICE_S, TrainingTurns

__all__ = ["RUNNING_JOBS", "TRAINING_TURNS", "TURN_SLICE_S", "Job", "JobLimitReached", "JobStatus", "RunningJobs",
           "Snapshot", "Trainer", "TrainingTurns", "train"]
