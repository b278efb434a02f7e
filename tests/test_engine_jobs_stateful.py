"""Random interleavings of every job command, from several threads (hypothesis)."""

import threading

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.runtime import RUNNING_JOBS, Job, JobStatus, Trainer

COMMANDS = ["play", "pause", "step", "epoch", "reset", "set", "snapshot"]


class Drift(Trainer):
    """A job that can train forever: w slowly decays; ten steps an epoch."""

    def setup(self):
        self.w = torch.tensor(1.0)
        self.n = 0

    def train_step(self):
        self.w = self.w * (1 - 1e-4 * self.hp["lr"])
        self.n += 1
        return {"loss": float(self.w)}

    @property
    def epoch(self):
        return self.n / 10


def send(job, command, value):
    if command == "play":
        return job.play()
    if command == "pause":
        return job.pause()
    if command == "step":
        return job.step(value)
    if command == "epoch":
        return job.step_epoch()
    if command == "reset":
        return job.reset()
    if command == "set":
        return job.set_hyperparameters(lr=float(value))
    job.snapshot()
    return None


class JobCommands(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.job = Job({}, {"lr": 1.0}, trainer_type=Drift)
        self.last = self.job.snapshot()
        self.stopped = False

    @rule(command=st.sampled_from(COMMANDS), value=st.integers(1, 20))
    def one_command(self, command, value):
        ticket = send(self.job, command, value)
        if ticket is not None:
            snap = self.job.wait_applied(ticket)
            if self.stopped:
                assert snap.status is JobStatus.STOPPED and not self.job.alive
            elif command == "reset":
                assert snap.step == 0 and snap.status is JobStatus.READY
                self.last = snap

    @precondition(lambda self: not self.stopped)
    @rule(commands=st.lists(st.tuples(st.sampled_from(COMMANDS), st.integers(1, 20)), min_size=2, max_size=12),
          threads=st.integers(2, 4))
    def commands_from_several_threads(self, commands, threads):
        errors = []

        def worker(share):
            try:
                for command, value in share:
                    send(self.job, command, value)
            except Exception as error:  # reported by the assertion below
                errors.append(error)

        workers = [threading.Thread(target=worker, args=(commands[i::threads],)) for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(10)
        assert not errors
        assert not any(t.is_alive() for t in workers), "a command blocked"
        self.last = self.job.wait_applied(self.job.pause())  # resets break monotonicity; start afresh

    @precondition(lambda self: not self.stopped)
    @rule()
    def stop(self):
        self.job.stop()
        self.stopped = True
        assert not self.job.alive

    @invariant()
    def steps_never_go_back_and_history_matches(self):
        snap = self.job.snapshot()
        assert snap.status is not JobStatus.FAILED, snap.message
        assert snap.version >= self.last.version
        if snap.status is not JobStatus.READY:
            assert snap.step >= self.last.step
        losses = snap.series("loss")
        assert len(losses) == snap.step  # one loss per step, none lost, none doubled
        assert np.all(np.diff(losses.steps) == 1)
        self.last = snap

    def teardown(self):
        self.job.stop()
        assert not self.job.alive
        assert id(self.job) not in RUNNING_JOBS._running  # no slot of the cap held by a finished job


JobCommands.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestJobCommands = JobCommands.TestCase
