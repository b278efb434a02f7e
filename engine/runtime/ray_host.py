"""The `ray` host: each job a Ray actor on a cluster, so several web servers (replicas behind a load balancer
with sticky sessions) share one training cluster.

The actor is a `JobService` (engine.runtime.remote) made remote with Ray's own API: its CPU and GPU fractions
are declared as actor resources (`GRADSCAPE_RAY_CPUS_PER_JOB`, default 0.25; `GRADSCAPE_RAY_GPUS_PER_JOB`,
default 0.1, asked for only when the cluster has GPUs and the session does not force the CPU), and Ray's
scheduler places it. The cluster's resources are the job cap: a job for which no node has room stays
unscheduled, and its page says so after `PLACE_TIMEOUT_S` (Reset tries again).

Actor methods run one at a time unless the actor is threaded. The job trains in a thread of its own inside the
actor, never in an actor method, and the actor is threaded (`max_concurrency`), so a snapshot read never
waits behind a training step nor behind another reader's fresh wait. Every call is `ray.get` with a timeout.
An actor that dies (its process killed, its node gone) raises `RayActorError`: the job reports FAILED, as a
dead worker process does. Actors belong to the web server that made them: `stop` kills one when its session
ends, and Ray ends them all when that server's driver exits.

Ray is not in requirements.txt (a class on one machine does not need it); `pip install ray` adds it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from engine.runtime.remote import CALL_TIMEOUT_S, JobService, RemoteHost, TrainerLost

log = logging.getLogger(__name__)

PLACE_TIMEOUT_S = 60.0  # the first answer of a new actor: its process starts and imports torch
MAX_CONCURRENCY = 16  # readers and commands served at once by one actor


def _fraction(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class RayActorService(JobService):
    """The service as an actor: it also says on which node it runs."""

    def node(self) -> str:
        import ray

        return ray.util.get_node_ip_address()


class RayChannel:
    """A job's actor, as `RemoteJob` reaches it."""

    def __init__(self, actor: Any, where: str):
        self.actor, self.where = actor, where

    def call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        import ray

        try:
            return ray.get(getattr(self.actor, method).remote(*args), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise TimeoutError(f"the Ray actor did not answer {method} within {timeout:.0f} s") from None
        except ray.exceptions.RayActorError as error:
            raise TrainerLost("The trainer process stopped (its Ray actor died: "
                              f"{type(error).__name__}): this experiment's training is lost. "
                              "Press Reset to start it again.") from None

    def close(self) -> None:
        import ray

        ray.kill(self.actor)  # its training thread goes with its process


# A ray:// client server starts a server of its own for each client; seen in full test runs: that process died
# as it started (Ray's proxy logs "Initialization failure from server" and psutil's ZombieProcess, the process's
# log empty; Ray forks it with PR_SET_PDEATHSIG from a gRPC thread). A new client gets a new one.
CONNECT_ATTEMPTS = 3


def _connect(ray: Any, address: str | None) -> None:
    """ray.init, tried again when a ray:// cluster could not start this client's server; ConnectionError
    otherwise, or when every attempt failed."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env(address))
            return
        except ConnectionError as error:
            if attempt == CONNECT_ATTEMPTS or "Initialization failure from server" not in str(error):
                raise
            log.warning("Ray cluster at %s: its client server failed to start ours (%s); trying again", address,
                        str(error).splitlines()[0])
            ray.shutdown()
            time.sleep(1.0)


class RayHost(RemoteHost):
    """Jobs as actors on a Ray cluster (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise RuntimeError("Training on Ray (GRADSCAPE_JOBS=ray or GRADSCAPE_RAY_ADDRESS) needs Ray on this "
                               "server: pip install ray==2.60.0 (README, Beyond one machine).") from None

        if not ray.is_initialized():
            try:
                _connect(ray, address)
            except ConnectionError as error:  # (a ray:// client server that refuses or never answers)
                raise RuntimeError(
                    f"Could not reach the Ray cluster at {address} ({error}). A cluster with token "
                    "authentication (Ray's default since 2.59) needs RAY_AUTH_MODE=token and its token on this "
                    "server too: RAY_AUTH_TOKEN, or ~/.ray/auth_token (`ray get-auth-token` prints it on the head); "
                    "README, Beyond one machine.") from None
        self._ray = ray
        self._actor = ray.remote(RayActorService)
        self.cpus_per_job = _fraction("GRADSCAPE_RAY_CPUS_PER_JOB", 0.25)
        self.gpus_per_job = _fraction("GRADSCAPE_RAY_GPUS_PER_JOB", 0.1)

    @property
    def description(self) -> str:
        resources = self._ray.cluster_resources()
        return (f"a Ray cluster of {len(self._ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, "
                f"{resources.get('GPU', 0):g} GPUs")

    def _place(self, job_type: type, config: Any, hp: dict[str, Any], seed: int, force_cpu: bool,
               trainer_type: type | None, branch: Any = None) -> RayChannel:
        gpus = self.gpus_per_job if not force_cpu and self._ray.cluster_resources().get("GPU", 0) > 0 else 0
        actor = self._actor.options(num_cpus=self.cpus_per_job, num_gpus=gpus, max_concurrency=MAX_CONCURRENCY,
                                    ).remote(job_type, config, hp, seed, force_cpu, trainer_type, branch)
        channel = RayChannel(actor, "a Ray actor")
        try:
            node, device = channel.call("node", timeout=PLACE_TIMEOUT_S), channel.call("device")
        except TimeoutError:
            self._ray.kill(actor)
            raise TrainerLost(f"The Ray cluster has no room for another job now (each takes {self.cpus_per_job:g} "
                              "CPU): press Reset to try again in a moment.") from None
        channel.where = f"Ray cluster: node {node}, {'GPU' if device != 'cpu' else 'CPU'}"
        return channel

    def shutdown(self) -> None:
        pass  # actors end with their sessions, and all of them with this driver


def runtime_env(address: str | None) -> dict[str, Any]:
    """How the cluster's workers find this project: its directory on their path (a cluster started on this
    machine, or nodes with the project at the same place), or shipped to them (`ray://`, a remote cluster)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if address and address.startswith("ray://"):
        return {"working_dir": root, "excludes": [".git", "bench/out", "**/__pycache__"]}
    return {"env_vars": {"PYTHONPATH": root}}
