"""Jobs in other processes: deltas against full snapshots, faults that stay local, caps per host, and a server
that leaves no process behind. (The job API itself runs on every host in tests/test_engine_jobs.py.)"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import torch

from engine.common.history import MetricHistory
from engine.runtime import JobLimitReached, JobStatus
from engine.runtime.processes import workers_of
from engine.runtime.deltas import Known, apply_delta, make_delta, reuse_unchanged
from engine.runtime.snapshot import Snapshot
from tests.test_engine_jobs import make_job

ROOT = Path(__file__).resolve().parent.parent


def snapshot(version: int, history: MetricHistory, build: int = 1, visuals_id: int = 1) -> Snapshot:
    return Snapshot(version=version, step=version, epoch=0.0, status=JobStatus.RUNNING, message="",
                    history=MappingProxyType(history.frozen()), visuals={"v": np.full(3, float(visuals_id))},
                    hyperparameters=MappingProxyType({"lr": 0.1}), config={"c": 1}, seed=0, steps_per_second=1.0,
                    device="CPU", build=build, visuals_id=visuals_id)


def assert_same_history(a: Snapshot, b: Snapshot) -> None:
    assert set(a.history) == set(b.history)
    for name in a.history:
        np.testing.assert_array_equal(a.history[name].steps, b.history[name].steps)
        np.testing.assert_array_equal(a.history[name].values, b.history[name].values)


def test_a_reader_fed_deltas_holds_exactly_the_full_snapshot_through_compaction_and_resets():
    rng = np.random.default_rng(0)
    history, build, version, reader = MetricHistory(capacity=8), 1, 0, None
    for step in range(1, 200):
        if step in (60, 130):  # a reset: a new build starts its history again
            history, build = MetricHistory(capacity=8), build + 1
        history.record(step, {"loss": float(rng.normal()), **({"acc": 0.5} if step % 3 == 0 else {})})
        if rng.random() < 0.4:  # the reader reads now and then, as a page does
            version += 1
            full = snapshot(version, history, build, visuals_id=step // 25)
            delta = make_delta(full, Known.of(reader))
            before, reader = reader, apply_delta(reader, delta)
            assert_same_history(reader, full)
            assert reader.config == full.config and reader.hyperparameters == full.hyperparameters
            if before is not None and before.build == build:  # the same objects: the pages' memo goes by them
                assert reader.config is before.config and reader.hyperparameters is before.hyperparameters
            np.testing.assert_array_equal(reader.visuals["v"], full.visuals["v"])
            assert reader.version == full.version and reader.build == full.build
            assert make_delta(full, Known.of(reader)) is None  # nothing new: nothing sent
    kept = make_delta(snapshot(version + 1, history, build, visuals_id=199 // 25), Known.of(reader))
    assert kept.visuals is None and not kept.visuals_changed  # the same visuals are not sent again


@dataclasses.dataclass(frozen=True)
class Measured:
    step: int
    samples: np.ndarray


@dataclasses.dataclass(frozen=True)
class Seen:
    x0: np.ndarray
    weights: torch.Tensor
    measurement: Measured
    losses: tuple


def test_visuals_observed_anew_keep_the_objects_of_every_part_that_did_not_change():
    old = Seen(np.arange(6.0).reshape(3, 2), torch.ones(3), Measured(5, np.full(4, np.nan)), (1.0, 2.0))
    same = pickle.loads(pickle.dumps(old))  # noqa: S301 - what a worker sends: equal values, new objects
    assert reuse_unchanged(same, old) is old
    moved = pickle.loads(pickle.dumps(dataclasses.replace(old, measurement=Measured(6, np.zeros(4)))))  # noqa: S301
    got = reuse_unchanged(moved, old)
    assert got.x0 is old.x0 and got.weights is old.weights and got.losses is old.losses  # unchanged: kept
    assert got.measurement is not old.measurement and got.measurement.step == 6
    np.testing.assert_array_equal(got.measurement.samples, np.zeros(4))
    grown = pickle.loads(pickle.dumps(dataclasses.replace(old, losses=(1.0, 2.0, 3.0))))  # noqa: S301
    assert reuse_unchanged(grown, old).losses == (1.0, 2.0, 3.0)


def test_a_killed_worker_fails_only_its_jobs_and_the_pool_trains_on(processes_host):
    doomed, bystander = make_job(config={"lam": 1e-6}, host=processes_host), \
        make_job(config={"lam": 1e-6}, host=processes_host)
    try:
        assert doomed.trainer_pid() != bystander.trainer_pid()  # the least loaded worker took the second
        doomed.wait_applied(doomed.play())
        bystander.wait_applied(bystander.play())
        doomed.wait_for(lambda s: s.step > 10)
        os.kill(doomed.trainer_pid(), signal.SIGKILL)
        snap = doomed.wait_for(lambda s: s.status is JobStatus.FAILED, timeout=10)
        assert "trainer process stopped" in snap.message and "SIGKILL" in snap.message and "Reset" in snap.message
        before = bystander.snapshot().step
        bystander.wait_for(lambda s: s.step > before + 100)  # the other job never stopped
        assert bystander.snapshot().status is JobStatus.RUNNING
        fresh = make_job(host=processes_host)  # the pool takes new jobs (a replacement worker started)
        try:
            fresh.wait_applied(fresh.step(5))
            assert fresh.wait_for(lambda s: s.step == 5 and not s.busy).status is JobStatus.PAUSED
        finally:
            fresh.stop()
        doomed.wait_applied(doomed.reset())  # Reset builds it again in a live worker
        doomed.wait_applied(doomed.step(3))
        assert doomed.wait_for(lambda s: s.step == 3 and not s.busy).status is JobStatus.PAUSED
    finally:
        doomed.stop()
        bystander.stop()


def test_a_killed_ray_actor_fails_its_job_with_the_same_message_and_reset_recovers(ray_host):
    job = make_job(config={"lam": 1e-6}, host=ray_host)
    try:
        assert job.where.startswith("Ray cluster: node ")
        job.wait_applied(job.play())
        os.kill(job.trainer_pid(), signal.SIGKILL)
        snap = job.wait_for(lambda s: s.status is JobStatus.FAILED, timeout=20)
        assert "trainer process stopped" in snap.message and "Reset" in snap.message
        job.wait_applied(job.reset(), timeout=60)
        job.wait_applied(job.step(2))
        assert job.wait_for(lambda s: s.step == 2 and not s.busy).status is JobStatus.PAUSED
    finally:
        job.stop()


def test_a_ray_actor_is_released_with_its_job(ray_host):
    import ray

    job = make_job(host=ray_host)
    actor = job._channel.actor
    job.stop()
    deadline = time.monotonic() + 30
    with pytest.raises(ray.exceptions.RayActorError):
        while time.monotonic() < deadline:  # ray.kill is asynchronous: a call just after it may still run
            ray.get(actor.pid.remote(), timeout=30)
            time.sleep(0.1)


def test_the_cap_is_per_worker_and_a_start_over_it_gets_its_message(monkeypatch):
    from engine.runtime.processes import ProcessHost

    monkeypatch.setenv("GRADSCAPE_MAX_RUNNING_JOBS", "1")  # read by each worker at its start
    host = ProcessHost(1, accelerator=False)
    first, second = make_job(config={"lam": 1e-6}, host=host), make_job(config={"lam": 1e-6}, host=host)
    try:
        first.wait_applied(first.play())
        with pytest.raises(JobLimitReached, match="limit"):
            second.play()
        first.wait_applied(first.pause())
        second.wait_applied(second.play())  # a slot is free again
        assert second.snapshot().status is JobStatus.RUNNING
    finally:
        first.stop()
        second.stop()
        host.shutdown()


SERVER = textwrap.dedent("""
    import sys, time
    from engine.runtime.processes import ProcessHost
    from engine.runtime import Job
    from tests.test_engine_jobs import Quadratic
    host = ProcessHost(2, accelerator=False)
    jobs = [host.start(Job, {"w0": 1.0, "lam": 1e-6}, {"lr": 0.1}, trainer_type=Quadratic) for _ in range(2)]
    for job in jobs:
        job.wait_applied(job.play())
    print(*host.pids(), flush=True)
    time.sleep(600)
""")


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def assert_all_end(pids: list[int], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if running(pid)], "worker processes outlived the server"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_no_worker_outlives_its_server(stop):
    server = subprocess.Popen(  # noqa: S603 - this Python running the script above
        [sys.executable, "-c", SERVER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        pids = [int(pid) for pid in server.stdout.readline().split()]
        assert len(pids) == 2 and all(running(pid) for pid in pids)
        server.send_signal(stop)
        server.wait(10)
        assert_all_end(pids)
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_the_app_server_stopped_leaves_no_worker_behind(stop):
    import asyncio

    from scripts.browser import running_app
    from scripts.streamlit_client import StreamlitSession

    async def open_playground(url: str) -> None:
        session = StreamlitSession(url, "one")
        await session.connect()
        try:
            assert (await session.open("playground")).ok
            assert "worker" in " ".join(str(e) for e in session.elements.values())  # where it trains, said
        finally:
            await session.close()

    with running_app(env={"GRADSCAPE_JOBS": "processes", "GRADSCAPE_WORKERS": "2"}) as (url, server):
        asyncio.run(open_playground(url))
        pids = workers_of(server.pid)
        assert len(pids) == 2
        server.send_signal(stop)
        server.wait(15)
    assert_all_end(pids)


def test_a_method_that_is_not_a_job_command_is_refused(processes_host):
    job = make_job(host=processes_host)
    try:
        with pytest.raises(ValueError, match="not a job command"):
            job._channel.call("command", "trainer", (), {})
    finally:
        job.stop()



def test_plain_reads_close_together_make_one_round_trip_and_a_command_ends_the_reuse(processes_host):
    from engine.runtime.remote import REUSE_READ_S

    job = make_job(host=processes_host)
    reads = []
    call = job._channel.call
    job._channel.call = lambda method, *args, **kw: (reads.append(method) if method == "delta" else None,
                                                      call(method, *args, **kw))[1]
    try:
        job.wait_applied(job.play(), timeout=30)
        time.sleep(REUSE_READ_S)
        reads.clear()
        first = job.snapshot()
        assert job.snapshot() is first and reads == ["delta"]  # within REUSE_READ_S: the same answer
        job.snapshot(fresh=True)  # a fresh read always asks
        assert reads == ["delta", "delta"]
        time.sleep(REUSE_READ_S)
        job.snapshot()
        assert reads.count("delta") == 3  # a read later than that asks again
        ticket = job.pause()
        job.wait_applied(ticket, timeout=30)
        assert not job.has_unapplied_commands()  # the read after a command asks over there, not the reuse
        assert job.snapshot().status is JobStatus.PAUSED
        reads.clear()
        shown = job.snapshot(fresh=True)
        assert not job.has_unapplied_commands(shown) and reads == ["delta"]  # asked of the snapshot: no read
    finally:
        job.stop()


def test_the_host_settings_are_read_as_documented_and_bad_values_are_named(monkeypatch):
    from engine.runtime.hosts import host_kind, worker_count

    for name in ("GRADSCAPE_JOBS", "GRADSCAPE_RAY_ADDRESS", "GRADSCAPE_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert host_kind() == "threads" and worker_count() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert host_kind() == "processes" and worker_count() == 15  # cores - 1: one core for the web server
    monkeypatch.setenv("GRADSCAPE_RAY_ADDRESS", "auto")
    assert host_kind() == "ray"
    monkeypatch.setenv("GRADSCAPE_JOBS", "threads")  # a laptop's choice wins over the core count
    assert host_kind() == "threads"
    monkeypatch.setenv("GRADSCAPE_JOBS", "gpu-farm")
    with pytest.raises(ValueError, match="GRADSCAPE_JOBS must be one of threads, processes, ray"):
        host_kind()
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("GRADSCAPE_WORKERS", bad)
        with pytest.raises(ValueError, match="GRADSCAPE_WORKERS must be a whole number"):
            worker_count()
    monkeypatch.setenv("GRADSCAPE_WORKERS", "3")
    assert worker_count() == 3


@pytest.mark.parametrize("name, value", [("GRADSCAPE_JOBS", "gpu-farm"), ("GRADSCAPE_WORKERS", "many")])
def test_a_wrong_host_setting_is_said_on_the_page_not_as_a_traceback(monkeypatch, name, value):
    from streamlit.testing.v1 import AppTest

    from engine.runtime import hosts

    monkeypatch.setenv("GRADSCAPE_JOBS", "processes")
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(hosts, "_host", None)  # made again from these settings
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert any(name in error.value and "restart the server" in error.value for error in at.error)
