"""The cap on jobs that train at the same moment in one process (the web server's, with the `threads` host; each
worker's, with `processes`): over it, a start is refused with a message."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.runtime.job import Job


class JobLimitReached(RuntimeError):
    """Raised by `Job.play` when the server already trains as many jobs as it allows."""


class RunningJobs:
    """Server-wide cap on jobs that are training at the same moment."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._running: set[int] = set()

    def acquire(self, job: "Job") -> bool:
        with self._lock:
            if id(job) in self._running:
                return True
            if len(self._running) >= self.limit:
                return False
            self._running.add(id(job))
            return True

    def release(self, job: "Job") -> None:
        with self._lock:
            self._running.discard(id(job))

    def count(self) -> int:
        with self._lock:
            return len(self._running)


DEFAULT_LIMIT = 80  # 40 students touring the pages, each with the Playground training while another page trains


def _limit_from_env() -> int:
    try:
        return max(1, int(os.environ.get("GRADSCAPE_MAX_RUNNING_JOBS", str(DEFAULT_LIMIT))))
    except ValueError:
        return DEFAULT_LIMIT


RUNNING_JOBS = RunningJobs(_limit_from_env())
