"""What worker processes buy over threads: 8 Playground jobs training at once.

The same 8 jobs (the Playground page's default spec, seeds 0..7, one torch thread each) train for `TRAIN_S` on
the `threads` host (the web server's process) and on the `processes` host (2 worker processes), runs
interleaved, median of `ROUNDS`. Meanwhile a reader thread reads the jobs' snapshots as pages do (a plain read
of each job in turn, a fresh one of each once a second) and times every plain read and how old the snapshot it
got was (now - its `published_at`). Last line: one JSON object; `snapshot_read_p95_s` and `snapshot_age_p95_s`
are the processes host's (the threads host's are printed beside them).

    python bench/scaling.py [--jobs 8] [--seconds 20] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.playground.spec import PlaygroundSpec  # noqa: E402
from engine.playground.trainer import PlaygroundJob  # noqa: E402
from engine.runtime.hosts import ThreadsHost  # noqa: E402
from engine.runtime.processes import ProcessHost  # noqa: E402

WARM_UP_S = 2.0  # every job trains this long before the window opens
READ_PAUSE_S = 0.01  # between two plain reads (a class of pages reads about this often in all)
FRESH_EVERY_S = 1.0  # each job's visuals, read as a live area reads them


def one_round(host, jobs: int, seconds: float) -> dict[str, object]:
    spec = PlaygroundSpec()
    started = [host.start(PlaygroundJob, spec.config(), spec.hyperparameters(), seed=seed) for seed in range(jobs)]
    reads, ages, stop = [], [], threading.Event()

    def reader() -> None:
        next_fresh = time.monotonic()
        while not stop.is_set():
            fresh = time.monotonic() >= next_fresh
            for job in started:
                before = time.perf_counter()
                snap = job.snapshot(fresh=fresh)
                if not fresh:
                    reads.append(time.perf_counter() - before)
                    ages.append(time.time() - snap.published_at)
                stop.wait(READ_PAUSE_S)
            if fresh:
                next_fresh = time.monotonic() + FRESH_EVERY_S

    try:
        for job in started:
            job.wait_applied(job.play(), timeout=120)
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        time.sleep(WARM_UP_S)
        reads.clear()
        ages.clear()
        t0, steps0 = time.monotonic(), [job.snapshot().step for job in started]
        time.sleep(seconds)
        t1, steps1 = time.monotonic(), [job.snapshot().step for job in started]
        stop.set()
        thread.join()
        if not all(b > a for a, b in zip(steps0, steps1)):
            raise RuntimeError(f"a job did not train: steps {steps0} -> {steps1}")
        return {"steps_per_s": sum(b - a for a, b in zip(steps0, steps1)) / (t1 - t0),
                "read_p95_s": float(np.percentile(reads, 95)), "age_p95_s": float(np.percentile(ages, 95)),
                "reads": len(reads)}
    finally:
        for job in started:
            job.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    hosts = {"threads": ThreadsHost(), "processes": ProcessHost(args.workers, accelerator=False)}
    results: dict[str, list[dict]] = {name: [] for name in hosts}
    try:
        for round_ in range(args.rounds):
            for name, host in hosts.items():  # interleaved: a shared machine's load hits both alike
                result = one_round(host, args.jobs, args.seconds)
                results[name].append(result)
                print(f"round {round_ + 1} {name}: {result}", flush=True)
    finally:
        hosts["processes"].shutdown()

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    threads, processes = median("threads", "steps_per_s"), median("processes", "steps_per_s")
    print(json.dumps({
        "jobs": args.jobs, "workers": args.workers, "seconds": args.seconds, "rounds": args.rounds,
        "threads_steps_per_s": round(threads, 1), "processes_steps_per_s": round(processes, 1),
        "ratio": round(processes / threads, 3),
        "snapshot_read_p95_s": round(median("processes", "read_p95_s"), 4),
        "snapshot_age_p95_s": round(median("processes", "age_p95_s"), 3),
        "threads_snapshot_read_p95_s": round(median("threads", "read_p95_s"), 4),
        "threads_snapshot_age_p95_s": round(median("threads", "age_p95_s"), 3),
    }))


if __name__ == "__main__":
    main()
