"""The job runtime, tested with a tiny experiment whose every number is known."""

import math
import threading
import time

import numpy as np
import pytest
import torch

from engine.common.history import CompactingSeries
from engine.runtime import Job, JobLimitReached, JobStatus, RunningJobs, Trainer


class Quadratic(Trainer):
    """Gradient descent on f(w) = ½ λ w²: w_{t+1} = (1 − ηλ) w_t, loss = ½ λ w_t²."""

    def setup(self):
        self.w = torch.tensor(float(self.config["w0"]))
        self.updates = 0
        if self.config.get("fail_setup"):
            raise RuntimeError("bad config")

    def train_step(self):
        if self.config.get("fail_at") == self.updates + 1:
            raise ValueError("boom")
        loss = 0.5 * self.config["lam"] * self.w**2
        self.w = self.w - self.hp["lr"] * self.config["lam"] * self.w
        self.updates += 1
        return {"loss": float(loss)}

    @property
    def epoch(self):
        return self.updates / 10  # ten steps an epoch

    def observe(self):
        return {"w": np.array([float(self.w)])}


def make_job(trainer_type=Quadratic, config=None, hyperparameters=None, host=None, **kwargs) -> Job:
    """A job running `trainer_type` on `config` (w0 = 1, λ = 1 unless given), with η = 0.1 unless given; on
    `host` (engine.runtime.hosts: the Job API in another process) when given."""
    config, hyperparameters = {"w0": 1.0, "lam": 1.0, **(config or {})}, {"lr": 0.1, **(hyperparameters or {})}
    if host is not None:
        return host.start(Job, config, hyperparameters, trainer_type=trainer_type, **kwargs)
    return Job(config, hyperparameters, trainer_type=trainer_type, **kwargs)


def make(host=None, **config):
    return make_job(config=config, host=host)


def test_step_runs_exactly_n_steps_and_matches_the_formula(host, no_leaked_threads):
    job = make(host)
    try:
        job.wait_applied(job.step(5))
        snap = job.wait_for(lambda s: s.step == 5 and not s.busy)
        assert snap.status is JobStatus.PAUSED
        losses = snap.series("loss").values
        expected = [0.5 * 0.9 ** (2 * t) for t in range(5)]
        np.testing.assert_allclose(losses, expected, rtol=1e-6)
        assert snap.visuals["w"][0] == pytest.approx(0.9**5, rel=1e-6)
    finally:
        job.stop()
    assert not job.alive


def test_step_epoch_stops_at_the_next_whole_epoch(host, no_leaked_threads):
    job = make(host)
    try:
        job.wait_applied(job.step(3))
        job.wait_for(lambda s: s.step == 3 and not s.busy)
        job.step_epoch()
        snap = job.wait_for(lambda s: s.step == 10 and not s.busy)
        assert snap.epoch == pytest.approx(1.0)
        time.sleep(0.2)
        assert job.snapshot().step == 10
    finally:
        job.stop()


def test_play_pause_reset_stop_in_any_order_leave_no_thread(host, no_leaked_threads):
    job = make(host, lam=1e-6)  # effectively constant loss: it can train forever
    try:
        for action in ["pause", "play", "play", "reset", "pause", "play", "step", "reset", "play", "pause"]:
            ticket = {"play": job.play, "pause": job.pause, "reset": job.reset, "step": job.step}[action]()
            snap = job.wait_applied(ticket)
            assert snap.status is not JobStatus.FAILED
        snap = job.snapshot()
        assert snap.status in (JobStatus.PAUSED, JobStatus.READY)
    finally:
        job.stop()
        job.stop()  # twice is fine
    assert not job.alive
    assert job.snapshot().status is JobStatus.STOPPED and not job.has_unapplied_commands()


def test_steps_never_go_back_except_on_reset(host):
    job = make(host, lam=1e-6)
    try:
        job.play()
        seen = [job.wait_for(lambda s: s.step > 0).step]
        for _ in range(5):
            time.sleep(0.03)
            seen.append(job.snapshot().step)
        assert seen == sorted(seen)
        job.wait_applied(job.reset())
        assert job.snapshot().step == 0
        assert job.snapshot().status is JobStatus.READY
    finally:
        job.stop()


def test_huge_learning_rate_diverges_with_a_message_not_an_exception(host):
    job = make_job(hyperparameters={"lr": 1e6}, host=host)
    try:
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.DIVERGED)
        assert "step" in snap.message and "learning rate" in snap.message
        assert math.isinf(float(snap.message.split("became ")[1].split(" ")[0]))
        job.wait_applied(job.play())  # playing a diverged job does nothing
        assert job.snapshot().status is JobStatus.DIVERGED
        job.wait_applied(job.set_hyperparameters(lr=0.1))
        job.wait_applied(job.reset())
        assert job.snapshot().status is JobStatus.READY
    finally:
        job.stop()


def test_exception_in_a_step_fails_the_job_and_reset_recovers(host):
    job = make(host, fail_at=3)
    try:
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.FAILED)
        assert "boom" in snap.message and "step 3" in snap.message
        assert snap.step == 2
        job.wait_applied(job.reset(config={"w0": 1.0, "lam": 1.0}))
        job.wait_applied(job.step(4))
        assert job.wait_for(lambda s: s.step == 4 and not s.busy).status is JobStatus.PAUSED
    finally:
        job.stop()


def test_failed_setup_is_reported(host):
    job = make(host, fail_setup=True)
    try:
        snap = job.wait_for(lambda s: s.status is JobStatus.FAILED)
        assert "bad config" in snap.message
    finally:
        job.stop()


def test_learning_rate_changes_live_without_reset(host):
    job = make(host)
    try:
        job.wait_applied(job.step(2))
        job.wait_for(lambda s: s.step == 2 and not s.busy)
        job.wait_applied(job.set_hyperparameters(lr=0.5))
        job.wait_applied(job.step(1))
        snap = job.wait_for(lambda s: s.step == 3 and not s.busy)
        # w after 2 steps at η=0.1 then one at η=0.5: 0.9² · 0.5
        assert snap.visuals["w"][0] == pytest.approx(0.81 * 0.5, rel=1e-6)
        assert snap.hyperparameters["lr"] == 0.5
    finally:
        job.stop()


def test_target_loss_stops_the_job_as_done(host):
    job = make_job(hyperparameters={"lr": 0.5, "target_loss": 1e-3}, host=host)
    try:
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.DONE)
        assert "target loss" in snap.message
        # Epoch e covers steps 10(e-1)..10e-1 with loss ½·0.25^t; find the first epoch whose mean is <= 1e-3.
        epoch = next(e for e in range(1, 10) if np.mean([0.5 * 0.25**t for t in range(10 * (e - 1), 10 * e)]) <= 1e-3)
        assert snap.step == 10 * epoch
    finally:
        job.stop()


def test_the_speed_shown_after_a_reset_is_never_negative(host):
    # A page's change rebuilds its job (step back to 0) and Train starts it again: the speed was measured across
    # the reset, and the Playground showed "Steps/s -304" for the first half second (seen in the class room bench).
    job = make(host, lam=1e-6)
    try:
        job.play()
        job.wait_for(lambda s: s.step > 200)
        job.wait_applied(job.pause())
        time.sleep(0.6)  # past the rate's half-second window, so the reset's publish measures one
        job.wait_applied(job.reset())
        job.wait_applied(job.play())
        rates = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            rates.append(job.snapshot().steps_per_second)
            time.sleep(0.02)
        assert min(rates) >= 0 and max(rates) > 0
    finally:
        job.stop()


def test_speed_limit_paces_training(host):
    job = make_job(config={"lam": 1e-6}, hyperparameters={"max_steps_per_second": 20}, host=host)
    try:
        job.play()
        time.sleep(1.0)
        job.wait_applied(job.pause())
        assert 10 <= job.snapshot().step <= 30
    finally:
        job.stop()


def test_server_cap_refuses_a_start_beyond_it_with_a_message():
    cap = RunningJobs(limit=1)
    first = make_job(config={"lam": 1e-6}, running_jobs=cap)
    second = make_job(config={"lam": 1e-6}, running_jobs=cap)
    try:
        first.play()
        with pytest.raises(JobLimitReached, match="limit"):
            second.play()
        first.wait_applied(first.pause())
        second.wait_applied(second.play())  # a slot is free again
        assert cap.count() == 1
    finally:
        first.stop()
        second.stop()
    assert cap.count() == 0


def test_snapshots_are_immutable_and_detached_from_the_trainer(host):
    job = make(host)
    try:
        job.wait_applied(job.step(3))
        snap = job.wait_for(lambda s: s.step == 3 and not s.busy)
        with pytest.raises(ValueError):
            snap.series("loss").values[0] = 1.0
        with pytest.raises(ValueError):
            snap.visuals["w"][0] = 1.0
        with pytest.raises(TypeError):
            snap.visuals["new"] = 1  # a read-only mapping
        job.wait_applied(job.step(3))
        job.wait_for(lambda s: s.step == 6 and not s.busy)
        assert len(snap.series("loss")) == 3  # the old snapshot did not change
    finally:
        job.stop()


def test_concurrent_readers_and_commands_from_many_threads_do_not_break_the_job(host):
    job = make(host, lam=1e-6)
    errors = []

    def hammer(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(40):
                choice = rng.integers(5)
                if choice == 0:
                    job.play()
                elif choice == 1:
                    job.pause()
                elif choice == 2:
                    job.step(int(rng.integers(1, 5)))
                elif choice == 3:
                    job.set_hyperparameters(lr=float(rng.uniform(0.01, 0.2)))
                else:
                    job.snapshot()
        except Exception as error:  # pragma: no cover - the assertion reports it
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        job.wait_applied(job.pause())
        assert job.snapshot().status in (JobStatus.PAUSED, JobStatus.READY)
    finally:
        job.stop()
    assert not job.alive


def test_compacting_series_keeps_bounded_size_and_the_mean():
    series = CompactingSeries(capacity=8)
    for step in range(1, 101):
        series.append(step, float(step))
    frozen = series.frozen()
    assert len(frozen) <= 8
    assert np.all(np.diff(frozen.steps) > 0)
    # Every stored value is the mean of the steps it stands for, so the curve keeps its shape.
    assert np.all(np.abs(frozen.values - (frozen.steps - (frozen.steps[1] - frozen.steps[0] - 1) / 2)) < 1e-9)


class RunsOutOfMemory(Quadratic):
    def train_step(self):
        if self.updates == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().train_step()


def test_out_of_memory_fails_the_job_with_advice_and_others_go_on(host):
    sick, healthy = make_job(RunsOutOfMemory, host=host), make(host, lam=1e-6)
    try:
        sick.play()
        healthy.play()
        snap = sick.wait_for(lambda s: s.status is JobStatus.FAILED)
        assert "ran out of memory" in snap.message and "smaller" in snap.message
        before = healthy.snapshot().step
        healthy.wait_for(lambda s: s.step > before + 10)  # the other job keeps training
        assert healthy.snapshot().status is JobStatus.RUNNING
    finally:
        sick.stop()
        healthy.stop()


def test_nan_metric_diverges_and_reset_recovers(host):
    job = make_job(config={"w0": float("nan")}, host=host)
    try:
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.DIVERGED)
        assert "nan" in snap.message and "step 1" in snap.message
        job.wait_applied(job.reset(config={"w0": 1.0, "lam": 1.0}))
        job.wait_applied(job.step(2))
        assert job.wait_for(lambda s: s.step == 2 and not s.busy).status is JobStatus.PAUSED
    finally:
        job.stop()


class SlowToApply(Quadratic):
    """A trainer held up (a busy server) while a setting is applied: commands behind it wait."""

    def apply_hyperparameters(self, changes):
        if changes.get("hold"):
            self.config["gate"].wait(10)


def test_a_command_waiting_for_the_trainer_is_reported_until_applied(no_leaked_threads):
    gate = threading.Event()
    job = make_job(SlowToApply, config={"gate": gate})
    try:
        job.wait_applied(job.step(1))
        assert not job.has_unapplied_commands()
        job.set_hyperparameters(hold=True)  # the trainer is stuck applying this one
        ticket = job.play()
        assert job.has_unapplied_commands()
        gate.set()
        applied = job.wait_applied(ticket)
        assert not job.has_unapplied_commands()
        assert not job.has_unapplied_commands(applied)  # in a snapshot read after the commands
        before_pause = job.snapshot()
        job.wait_applied(job.pause())
        assert job.has_unapplied_commands(before_pause)  # (read before the pause: it is asked of that one)
        assert not job.has_unapplied_commands()
    finally:
        job.stop()
    assert not job.has_unapplied_commands()  # a stopped job waits for nothing


class CountingObservations(Quadratic):
    """Quadratic whose visuals say at which update they were observed."""

    def observe(self):
        return {"w": np.array([float(self.w)]), "updates": self.updates}


def test_visuals_are_observed_only_as_often_as_a_reader_asks_and_a_fresh_read_shows_the_current_step(
        host, no_leaked_threads):
    job = make_job(CountingObservations, config={"lam": 1e-6}, hyperparameters={"max_steps_per_second": 2000},
                   host=host)
    try:
        job.wait_applied(job.play())
        before = job.snapshot().visuals_id  # counts the observations
        time.sleep(1.0)  # training, nobody reading: ~10 publishes, none of them observes
        assert job.snapshot().visuals_id - before <= 1
        assert job.snapshot().visuals_step < job.snapshot().step - 100  # what plain reads get meanwhile
        before, shown = job.snapshot().visuals_id, set()
        for _ in range(10):  # a page refreshing five times a second
            asked_at = job.snapshot().step
            snap = job.snapshot(fresh=True)
            assert snap.visuals_step >= asked_at and snap.visuals["updates"] == snap.visuals_step
            shown.add(snap.visuals_step)
            time.sleep(0.2)
        # one observation per read that found the visuals behind (each step shown was observed; a read between
        # two steps of a starved thread needs none), and a pause may add one
        assert len(shown) >= 5 and len(shown) <= job.snapshot().visuals_id - before <= 12
    finally:
        job.stop()
