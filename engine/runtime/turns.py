"""Turns at training.

Turns: jobs share the process with the web server's script runs, and Python runs
one thread at a time (the GIL). Twenty training threads stepping at once would
each get a twentieth of it, and so would a page's script run: a click would wait
seconds for its turn. So at most `TRAINING_TURNS.width` jobs (one by default)
train at the same moment, each for a slice of `TURN_SLICE_S`, then hand the turn
to the job that has waited longest (round robin). The first turn after someone
pressed Train, Step or Epoch comes before the others, so a click shows at once.
A script run then competes with one trainer, not twenty, and the steps per
second of all jobs together stay those of one job (measured: two Playground
jobs stepping at once made fewer steps together than one alone).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.runtime.job import Job

# How long a job trains before it hands its turn on: short enough that the next job's
# counter moves a few times a second with 20 jobs, long enough that handing over costs nothing.
TURN_SLICE_S = 0.02


class TrainingTurns:
    """Round-robin turns at training: at most `width` jobs step at the same moment.

    Two ways to go ahead of the queue: `first` (someone pressed Train, Step or Epoch and waits to see it)
    goes to the front; `soon` (work a page shows but nobody clicked for: the Diffusion samples, drawn
    again and again) goes ahead of every waiting job except those that have waited `longest_wait_s`, so
    however often it asks, no one waits much longer than that.

    Each waiting thread sleeps on a wakeup of its own, woken when its turn may have come (`give_back`) or when
    something else needs it (`wake`: a command, a reader asking for visuals). When every waiter woke at every
    handover and polled every 50 ms, 40 Playground jobs in one process made 1,454 steps/s together, now 1,859
    (one alone: 2,970; seven threads that only woke to check cost that one 19%). The lock is never held while
    taking another (a reader calls `wake` holding its snapshot board's)."""

    def __init__(self, width: int = 1, longest_wait_s: float = 0.5):
        self.width, self.longest_wait_s = width, longest_wait_s
        self._lock = threading.Lock()
        self._waiting: collections.deque[Job] = collections.deque()
        self._since: dict[Job, float] = {}  # when each waiting holder asked
        self._wakeups: dict[Job, threading.Condition] = {}  # each waiting holder's own, on `_lock`
        self._woken: set[Job] = set()  # waiting holders asked to stop waiting (see `wake`)
        self._holders: set[Job] = set()

    def take(self, job: "Job", timeout: float, first: bool = False, soon: bool = False) -> bool:
        """Wait up to `timeout` s for `job`'s turn; False if it has not come, or `wake` was called (the job
        keeps its place)."""
        now = time.monotonic()
        deadline = now + timeout
        with self._lock:
            if job in self._holders:
                return True
            if job not in self._waiting:
                self._since[job] = now
                self._wakeups[job] = threading.Condition(self._lock)
                if first:
                    self._waiting.appendleft(job)
                elif soon:
                    overdue = [i for i, other in enumerate(self._waiting)
                               if now - self._since[other] >= self.longest_wait_s]
                    self._waiting.insert(overdue[-1] + 1 if overdue else 0, job)
                else:
                    self._waiting.append(job)
            while True:
                if job in itertools.islice(self._waiting, self._free()):
                    self._leave_queue(job)
                    self._holders.add(job)
                    return True
                remaining = deadline - time.monotonic()
                if job in self._woken or remaining <= 0:
                    self._woken.discard(job)
                    return False
                self._wakeups[job].wait(remaining)

    def wake(self, job: "Job") -> None:
        """Make `job`'s wait for its turn (now or its next one) return False at once, keeping its place: it has
        something else to do (a command came, a reader wants its visuals). Nothing for a job not waiting."""
        with self._lock:
            if job in self._wakeups:
                self._woken.add(job)
                self._wakeups[job].notify()

    def give_back(self, job: "Job") -> None:
        """End `job`'s turn (if it has one) and leave the queue: the next job's turn begins."""
        with self._lock:
            if job in self._holders or job in self._waiting:
                self._holders.discard(job)
                if job in self._waiting:
                    self._leave_queue(job)
                for waiting in itertools.islice(self._waiting, self._free()):  # only those whose turn it is
                    self._wakeups[waiting].notify()

    def training(self) -> int:
        with self._lock:
            return len(self._holders)

    def _free(self) -> int:
        return max(0, self.width - len(self._holders))

    def _leave_queue(self, job: "Job") -> None:
        self._waiting.remove(job)
        del self._since[job], self._wakeups[job]
        self._woken.discard(job)


TRAINING_TURNS = TrainingTurns()
