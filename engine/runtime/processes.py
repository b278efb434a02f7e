"""The `processes` host: a pool of worker processes, each training many jobs in turns.

The web server's interpreter runs one thread at a time; a worker process has an interpreter of its own, so a
pool of `cores - 1` workers trains on every core, and a crash inside torch (a segfault, the kernel's OOM
killer) ends one worker, not the server. Each worker is this module run as a program
(`python -m engine.runtime.processes FD INDEX COUNT`), at a lower OS priority than the web server (nice), so
pages stay responsive when every core trains. It holds `JobService`s (engine.runtime.remote) by id and runs
each request in a thread of its own, so a read never waits behind a slow command or another reader's wait.

Server and worker talk over a socket pair: requests `(id, method, args)` one way, `(id, ok, result)` the other,
pickled (protocol 5: arrays as raw buffers). A worker reads until the socket ends: when the server stops, by
SIGTERM or SIGKILL, the kernel closes its end and every worker exits, so none outlives it. When a worker dies,
the server's reader of its socket sees the end, fails its calls with `TrainerLost` (the jobs it trained report
FAILED, "press Reset") and starts a replacement in its place.

Jobs are placed on the least loaded worker; a job that would train on the GPU goes to the one worker that owns
it (one CUDA context for every GPU job); the other workers see no GPU.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.common.device import pick_device
from engine.runtime.remote import JobService, RemoteHost, TrainerLost

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WORKER_NICE = 10  # how much lower a worker's priority is than the server's
START_TIMEOUT_S = 120.0  # a worker imports torch and the engine before it answers (seconds on a small machine)
QUICK_DEATH_S, MAX_QUICK_DEATHS = 30.0, 3  # a worker that dies this soon this many times running is not replaced


def _send(conn: Connection, lock: threading.Lock, message: Any) -> None:
    data = pickle.dumps(message, protocol=5)
    with lock:
        conn.send_bytes(data)


# ------------------------------------------------------------------ the server's side
class Worker:
    """One worker process, seen from the server: calls to it, and whether it is still there."""

    def __init__(self, index: int, count: int, accelerator: bool, on_death: Any):
        self.index, self.count, self.accelerator = index, count, accelerator
        self.jobs = 0  # jobs placed here and not yet closed: what "least loaded" counts
        self._on_death = on_death
        self._ids = itertools.count(1)
        self._pending: dict[int, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._dead: str | None = None
        self._started = time.monotonic()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        if not accelerator:
            env["CUDA_VISIBLE_DEVICES"] = ""  # the GPU belongs to the accelerator worker alone
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, sys.path)])  # what the server imports
        self.process = subprocess.Popen(  # noqa: S603 - this Python running this module, with numbers
            [sys.executable, "-m", "engine.runtime.processes", str(theirs.fileno()), str(index), str(count)],
            pass_fds=(theirs.fileno(),), cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())
        threading.Thread(target=self._read, name=f"worker-{index}-reader", daemon=True).start()

    @property
    def where(self) -> str:
        return "the GPU worker" if self.accelerator else f"worker {self.index + 1} of {self.count} (CPU)"

    @property
    def alive(self) -> bool:
        return self._dead is None

    @property
    def lifetime_s(self) -> float:
        return time.monotonic() - self._started

    def call(self, method: str, *args: Any, timeout: float) -> Any:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._dead is not None:
                raise _lost(self._dead)
            request = next(self._ids)
            self._pending[request] = future
        try:
            _send(self._conn, self._send_lock, (request, method, args))
        except OSError:
            pass  # the reader sees the end and fails the future
        try:
            ok, result = future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"{self.where} did not answer {method} within {timeout:.0f} s") from None
        finally:
            with self._lock:
                self._pending.pop(request, None)
        if not ok:
            raise result
        return result

    def _read(self) -> None:
        try:
            while True:
                request, ok, result = pickle.loads(self._conn.recv_bytes())  # noqa: S301 - our own worker's socket
                with self._lock:
                    future = self._pending.get(request)
                if future is not None:
                    future.set_result((ok, result))
        except (EOFError, OSError):
            pass
        code = self.process.wait()
        why = f"killed by signal {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        with self._lock:
            self._dead = why
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            future.set_result((False, _lost(why)))
        self._conn.close()
        self._on_death(self)

    def stop(self) -> None:
        """End the process: closing the socket ends it; SIGKILL if it does not go within a few seconds."""
        self._dead = self._dead or "stopped with the server"
        try:
            self._conn.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _lost(why: str) -> Exception:
    return TrainerLost(f"The trainer process stopped ({why}): this experiment's training is lost. "
                       "Press Reset to start it again.")


class WorkerChannel:
    """A job on a worker, as `RemoteJob` reaches it."""

    def __init__(self, worker: Worker, job_id: int):
        self.worker, self.job_id = worker, job_id
        self.where = worker.where

    def call(self, method: str, *args: Any, timeout: float = 30.0) -> Any:
        return self.worker.call(method, self.job_id, *args, timeout=timeout)

    def close(self) -> None:
        self.worker.jobs -= 1
        try:
            self.worker.call("stop", self.job_id, timeout=5.0)
        except Exception as error:  # a dead worker took the job with it; a stuck one is replaced when it dies
            log.info("stopping a job on %s: %s", self.where, error)


class ProcessHost(RemoteHost):
    """A pool of worker processes (see the module docstring)."""

    name = "processes"

    def __init__(self, workers: int, accelerator: bool | None = None):
        if accelerator is None:
            accelerator = pick_device().type != "cpu"
        self._lock = threading.Lock()
        self._closed = False
        self._job_ids = itertools.count(1)
        self._quick_deaths = 0
        count = max(1, workers)
        # With a GPU, one more worker owns it and trains every GPU job.
        self.workers = [Worker(i, count, False, self._replace) for i in range(count)]
        self.accelerator_worker = Worker(count, count, True, self._replace) if accelerator else None
        atexit.register(self.shutdown)

    @property
    def description(self) -> str:
        gpu = " and one for the GPU" if self.accelerator_worker else ""
        return f"{len(self.workers)} worker processes{gpu}"

    def _place(self, job_type: type, config: Any, hp: dict[str, Any], seed: int, force_cpu: bool,
               trainer_type: type | None, branch: Any = None) -> WorkerChannel:
        with self._lock:
            if self._closed:
                raise _lost("the server is stopping")
            on_gpu = self.accelerator_worker is not None and pick_device(force_cpu).type != "cpu"
            least_loaded = min(self.workers, key=lambda w: (not w.alive, w.jobs, w.index))
            worker = self.accelerator_worker if on_gpu else least_loaded
            worker.jobs += 1
            job_id = next(self._job_ids)
        try:
            worker.call("create", job_id, job_type, config, hp, seed, force_cpu, trainer_type, branch,
                        timeout=START_TIMEOUT_S)
        except BaseException:
            worker.jobs -= 1
            raise
        return WorkerChannel(worker, job_id)

    def _replace(self, dead: Worker) -> None:
        with self._lock:
            if self._closed:
                return
            # A worker that cannot even start (a broken install, no memory left) is not restarted forever.
            self._quick_deaths = self._quick_deaths + 1 if dead.lifetime_s < QUICK_DEATH_S else 0
            if self._quick_deaths > MAX_QUICK_DEATHS:
                log.error("%s keeps dying at its start; not starting another", dead.where)
                return
            log.warning("%s stopped; starting a replacement", dead.where)
            fresh = Worker(dead.index, dead.count, dead.accelerator, self._replace)
            if dead is self.accelerator_worker:
                self.accelerator_worker = fresh
            else:
                self.workers[self.workers.index(dead)] = fresh

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._all()]

    def _all(self) -> list[Worker]:
        return [*self.workers, *([self.accelerator_worker] if self.accelerator_worker else [])]

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        for worker in self._all():
            worker.stop()


def workers_of(pid: int) -> list[int]:
    """The worker processes whose parent is process `pid` (a running server), read from Linux's /proc: for
    benches and tests that check none is left behind."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"engine.runtime.processes" in command:
            found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ the worker's side
def _serve(conn: Connection) -> None:
    services: dict[int, JobService] = {}
    send_lock = threading.Lock()

    def handle(request: int, method: str, args: tuple) -> None:
        try:
            if method == "create":
                job_id, *rest = args
                services[job_id] = JobService(*rest)
                result: Any = None
            elif method == "stop":
                service = services.pop(args[0], None)
                result = service.stop() if service is not None else None
            else:
                job_id, *rest = args
                result = getattr(services[job_id], method)(*rest)
            reply = (request, True, result)
        except BaseException as error:  # the caller gets it raised; this worker goes on
            reply = (request, False, error)
        try:
            try:
                _send(conn, send_lock, reply)
            except (pickle.PicklingError, TypeError, AttributeError) as error:  # an answer that cannot travel
                _send(conn, send_lock, (request, False, RuntimeError(f"{method}: {type(error).__name__}: {error}")))
        except OSError:
            pass  # the server is gone; the main loop sees the end

    while True:
        try:
            request, method, args = pickle.loads(conn.recv_bytes())  # noqa: S301 - the server's socket pair
        except (EOFError, OSError):
            break
        # A thread per request, ended with it: a pool's idle threads would stay (and hide whether jobs ended).
        threading.Thread(target=handle, args=(request, method, args), daemon=True).start()
    for service in list(services.values()):
        service.job.stop(timeout=1.0)


def main(argv: list[str]) -> None:
    fd, index, count = (int(a) for a in argv)
    os.nice(WORKER_NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal stops the server, not us
    import engine.preload  # before the first request: engine.preload says why

    engine.preload.tune_garbage_collector()
    engine.preload.warm_first_jobs()
    try:
        _serve(Connection(fd))
    finally:
        os._exit(0)  # training threads may sit in a torch kernel: do not wait for them


if __name__ == "__main__":
    main(sys.argv[1:])
