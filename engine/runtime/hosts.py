"""Where jobs train: a setting of the server, not a concern of the pages.

Pages start a job with `start_job(JobType, config, hyperparameters, seed=...)` and get the Job API (commands in,
snapshots out) whichever host trains it:

- `threads` (engine.runtime.job): in the web server's own process, taking turns at its interpreter. The
  default on a machine with fewer than 4 cores; `GRADSCAPE_JOBS=threads` on a laptop.
- `processes` (engine.runtime.processes): a pool of worker processes, `GRADSCAPE_WORKERS` of them
  (default: cores - 1). The default on 4 cores or more.
- `ray` (engine.runtime.ray_host): each job a Ray actor on a cluster; `GRADSCAPE_RAY_ADDRESS=auto` (a cluster
  started on this machine with `ray start --head`) or `ray://host:10001`. Setting the address chooses it.

The job cap belongs to the host: per process for threads and per worker for processes
(`GRADSCAPE_MAX_RUNNING_JOBS`, engine.runtime.cap), the cluster's resources for Ray.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from engine.runtime.job import Job

HOST_KINDS = ("threads", "processes", "ray")


class ThreadsHost:
    """Jobs train in this process (today's runtime): a `Job` is its own handle."""

    name = "threads"
    description = "the web server's process"

    def start(self, job_type: type[Job], config: Any, hyperparameters: dict[str, Any] | None = None, *,
              seed: int = 0, force_cpu: bool = False, trainer_type: type | None = None) -> Job:
        extra = {"trainer_type": trainer_type} if trainer_type is not None else {}
        return job_type(config, hyperparameters, seed=seed, force_cpu=force_cpu, **extra)

    def shutdown(self) -> None:
        pass  # each job stops with its session, and at exit (engine.runtime.job)


def host_kind() -> str:
    """The host this server uses: `GRADSCAPE_JOBS`, else `ray` when a Ray address is set, else by core count."""
    kind = os.environ.get("GRADSCAPE_JOBS", "").strip().lower()
    if kind:
        if kind not in HOST_KINDS:
            raise ValueError(f"GRADSCAPE_JOBS must be one of {', '.join(HOST_KINDS)}, not {kind!r}")
        return kind
    if os.environ.get("GRADSCAPE_RAY_ADDRESS"):
        return "ray"
    return "processes" if (os.cpu_count() or 1) >= 4 else "threads"


def worker_count() -> int:
    """`GRADSCAPE_WORKERS`, else one worker per core but one (the web server's)."""
    value = os.environ.get("GRADSCAPE_WORKERS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"GRADSCAPE_WORKERS must be a whole number, 1 or more, not {value!r}")
        return int(value)
    return max(1, (os.cpu_count() or 2) - 1)


def make_host(kind: str) -> Any:
    if kind == "threads":
        return ThreadsHost()
    if kind == "processes":
        from engine.runtime.processes import ProcessHost

        return ProcessHost(worker_count())
    from engine.runtime.ray_host import RayHost

    return RayHost(os.environ.get("GRADSCAPE_RAY_ADDRESS") or None)


_host: Any = None
_host_lock = threading.Lock()


def current_host() -> Any:
    """This server's host, made at the first call (ui.preload makes it at server start)."""
    global _host
    with _host_lock:
        if _host is None:
            _host = make_host(host_kind())
        return _host


def start_job(job_type: type[Job], config: Any, hyperparameters: dict[str, Any] | None = None, *, seed: int = 0,
              force_cpu: bool = False) -> Any:
    """A new job of `job_type` on this server's host: a `Job`, or a handle with the same API."""
    return current_host().start(job_type, config, hyperparameters, seed=seed, force_cpu=force_cpu)
