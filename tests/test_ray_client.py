"""A web server on another machine trains on a Ray cluster through Ray Client (`GRADSCAPE_RAY_ADDRESS=ray://...`):
a real head started with `ray start --head` (its own ports, temp dir and token: the session's other Ray is left
alone), and a driver in a process of its own that reaches it only through ray://, as README "Beyond one machine"
says to run it. The project is shipped to the cluster (runtime_env working_dir), so the test's own trainer class
trains over there."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from scripts.browser import free_port

ROOT = Path(__file__).resolve().parent.parent
RAY = shutil.which("ray")

pytestmark = pytest.mark.skipif(RAY is None, reason="Ray is not installed (requirements-dev.txt)")

DRIVER = textwrap.dedent("""
    import sys
    from engine.runtime import JobStatus
    from engine.runtime.ray_host import RayHost
    from tests.test_engine_jobs import make_job

    host = RayHost(sys.argv[1])
    job = make_job(config={"lam": 1e-6}, host=host)
    try:
        job.wait_applied(job.play())
        snap = job.wait_for(lambda s: s.step >= 50, timeout=60)
        print("WHERE", job.where)
        print("STEPS", snap.step, snap.status is JobStatus.RUNNING)
    finally:
        job.stop()
""")


@pytest.fixture()
def ray_head():
    """`ray start --head --block` with a client server, token authentication on (Ray's default for new clusters
    since 2.59), on free ports; yields (the ray:// address, the environment a driver needs, its temp dir) and
    stops it."""
    gcs, client = free_port(), free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    head = subprocess.Popen(  # noqa: S603 - Ray's own command line, fixed arguments
        [RAY, "start", "--head", "--block", f"--port={gcs}", f"--ray-client-server-port={client}", "--num-cpus=1",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats",
         "--min-worker-port=20002", "--max-worker-port=20999"],  # (not the ports of a Ray this session runs)
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:  # until the head's client server listens
            try:
                socket.create_connection(("127.0.0.1", client), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("`ray start --head` did not bring its client server up") from None
                time.sleep(0.5)
        yield f"ray://127.0.0.1:{client}", env, Path(temp)
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # the head's processes are its group (SIGTERM: a 30 s shutdown)
        head.wait(30)
        # and any of its daemons that left the group (each names the temp dir on its command line)
        subprocess.run(["pkill", "-9", "-f", temp], check=False)  # noqa: S603, S607 - procps' pkill, fixed args
        shutil.rmtree(temp, ignore_errors=True)


def test_a_job_trains_on_the_cluster_through_ray_client(ray_head):
    address, env, temp = ray_head
    driver = subprocess.run([sys.executable, "-c", DRIVER, address], cwd=ROOT, env=env,  # noqa: S603
                            capture_output=True, text=True, timeout=180)
    # (a failure says why the head's client server for this driver stopped: its logs go with the temp dir. Seen
    # in full CI runs: "Starting Ray client server failed" with an empty ray_client_server_23000.err; so every
    # client-server log, the proxy's too, and the runtime environment's, which sets the driver's server up)
    logs = "".join(f"\n--- {log.name}:\n{log.read_text(errors='replace')[-2000:]}"
                   for pattern in ("ray_client_server*", "runtime_env*")
                   for log in sorted(temp.glob(f"session_latest/logs/{pattern}")))
    assert driver.returncode == 0, driver.stderr[-3000:] + logs
    lines = dict(line.split(" ", 1) for line in driver.stdout.splitlines() if line.startswith(("WHERE", "STEPS")))
    assert lines["WHERE"].startswith("Ray cluster: node "), lines
    steps, running = lines["STEPS"].split()
    assert int(steps) >= 50 and running == "True"
