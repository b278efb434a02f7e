"""What the gradient-flow probes cost.

Trains the Gradient Flow page's default deep network (engine.gradient_flow.DeepConfig())
through GradientFlowJob for the same number of steps (a) with probes off: a bare
step (forward, backward, clip, update), and (b) with the live probes on: per-layer
gradient norms every few steps plus a full probe at the UI's refresh rate, while
another thread reads snapshots as a page would.

Both jobs live side by side and take turns in chunks of CHUNK steps, so load from
other people's work on a shared 2-core machine falls on both alike; each side's
rate is its steps over its summed wall-clock time. (A paused job takes its first
probe as soon as it resumes, so chunked runs probe a little more often than a
continuous run: the ratio is, if anything, pessimistic.) Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.gradient_flow import GradientFlowJob  # noqa: E402
from engine.jobs import UI_REFRESH_S, Job, JobStatus  # noqa: E402

CHUNK = 500
TURNS = 8
STEPS = CHUNK * TURNS  # per side


def train_chunk(job: Job) -> float:
    """Wall-clock seconds for CHUNK more steps."""
    started = time.perf_counter()
    ticket = job.step(CHUNK)
    snap = job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=600)
    elapsed = time.perf_counter() - started
    if snap.status is not JobStatus.PAUSED:
        raise RuntimeError(f"the run ended {snap.status.value} at step {snap.step}: {snap.message}")
    return elapsed


def main() -> None:
    torch.set_num_threads(1)  # what each job uses (engine.device.torch_threads_per_job)
    jobs = {"plain": GradientFlowJob(hyperparameters={"probes": False}, seed=0),
            "probed": GradientFlowJob(hyperparameters={"probes": True}, seed=0)}
    stop_reading = threading.Event()

    def ui_reader():
        while not stop_reading.is_set():
            for job in jobs.values():
                job.snapshot()
            stop_reading.wait(UI_REFRESH_S)

    reader = threading.Thread(target=ui_reader)
    seconds = {name: [] for name in jobs}
    try:
        for job in jobs.values():
            job.snapshot()
        reader.start()
        for _ in range(TURNS):
            for name, job in jobs.items():
                seconds[name].append(train_chunk(job))
        probes = len(jobs["probed"].snapshot().visuals["history_steps"])
        steps = {name: job.snapshot().step for name, job in jobs.items()}
    finally:
        stop_reading.set()
        for job in jobs.values():
            job.stop()
        if reader.is_alive():
            reader.join()
    if steps != {"plain": STEPS, "probed": STEPS}:
        raise RuntimeError(f"expected {STEPS} steps on each side, got {steps}")
    if probes == 0:
        raise RuntimeError("the probed run recorded no probes: nothing was measured")
    rates = {name: STEPS / sum(values) for name, values in seconds.items()}
    for name, values in seconds.items():
        print(f"{name}: {[round(CHUNK / s) for s in values]} steps/s per chunk of {CHUNK}")
    print(f"probes recorded: {probes}")
    print(json.dumps({"steps": STEPS, "plain_steps_per_s": round(rates["plain"], 1),
                      "probed_steps_per_s": round(rates["probed"], 1),
                      "ratio": round(rates["probed"] / rates["plain"], 3)}))


if __name__ == "__main__":
    main()
