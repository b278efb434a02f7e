"""What the gradient-flow probes cost.

Trains the Gradient Flow page's default deep network (engine.gradients.deep_config.DeepConfig())
through DeepJob for the same number of steps (a) with probes off: a bare
step (forward, backward, clip, update), and (b) with the live probes on: per-layer
gradient norms every few steps plus a full probe at the UI's refresh rate, while
another thread reads snapshots as a page would.

Both jobs live side by side and take turns in chunks of CHUNK steps, the order
swapped every turn, so that what else runs on the machine falls on both alike. (A paused
job takes its first probe as soon as it resumes, so chunked runs probe a little more
often than a continuous run: the ratio is, if anything, pessimistic.)

Each chunk is timed twice: wall clock, and the CPU time this process spent (the trainer,
the snapshot reader and the waiting main thread; the other job is paused). On a busy
shared 2-core machine the wall clock mostly measures other people's work (chunks of the
same job vary 3x); the CPU time is what the probes cost, and on an idle machine the two
agree. So on a CPU device the JSON's rates are steps per CPU second; on a GPU, whose work
the CPU clock does not see, they are steps per wall-clock second. The line before the
JSON gives the other measure. Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.gradients.deep_trainer import DeepJob  # noqa: E402
from engine.runtime import Job, JobStatus  # noqa: E402

READ_EVERY_S = 1.0  # as a page's live area reads its job (ui.live.UI_REFRESH_S)
CHUNK = 250
TURNS = 16
STEPS = CHUNK * TURNS  # per side


def train_chunk(job: Job) -> tuple[float, float]:
    """(wall-clock seconds, process CPU seconds) for CHUNK more steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    ticket = job.step(CHUNK)
    snap = job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=600)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if snap.status is not JobStatus.PAUSED:
        raise RuntimeError(f"the run ended {snap.status.value} at step {snap.step}: {snap.message}")
    return wall, cpu


def rates(seconds: dict[str, list[float]]) -> dict[str, float]:
    return {name: STEPS / sum(values) for name, values in seconds.items()}


def main() -> None:
    torch.set_num_threads(1)  # what each job uses (engine.common.device.torch_threads_per_job)
    jobs = {"plain": DeepJob(hyperparameters={"probes": False}, seed=0),
            "probed": DeepJob(hyperparameters={"probes": True}, seed=0)}
    stop_reading = threading.Event()

    def ui_reader():
        while not stop_reading.is_set():
            for job in jobs.values():
                job.snapshot()
            stop_reading.wait(READ_EVERY_S)

    reader = threading.Thread(target=ui_reader)
    wall: dict[str, list[float]] = {name: [] for name in jobs}
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    try:
        for job in jobs.values():
            job.wait_for(lambda s: s.visuals is not None, timeout=120)
        reader.start()
        for turn in range(TURNS):
            for name in (("plain", "probed") if turn % 2 == 0 else ("probed", "plain")):
                chunk_wall, chunk_cpu = train_chunk(jobs[name])
                wall[name].append(chunk_wall)
                cpu[name].append(chunk_cpu)
        probes = len(jobs["probed"].snapshot().visuals.history_steps)
        steps = {name: job.snapshot().step for name, job in jobs.items()}
        device = jobs["probed"].device
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
    for name in jobs:
        print(f"{name}: {[round(CHUNK / s) for s in wall[name]]} wall-clock steps/s per chunk of {CHUNK}")
    print(f"probes recorded: {probes} on {device}")
    by_wall, by_cpu = rates(wall), rates(cpu)
    shown, other, other_name = (by_cpu, by_wall, "wall clock") if device.type == "cpu" else \
        (by_wall, by_cpu, "CPU time")
    print(f"by {other_name}: plain {other['plain']:.1f} steps/s, probed {other['probed']:.1f} steps/s, "
          f"ratio {other['probed'] / other['plain']:.3f}")
    print(json.dumps({"steps": STEPS, "plain_steps_per_s": round(shown["plain"], 1),
                      "probed_steps_per_s": round(shown["probed"], 1),
                      "ratio": round(shown["probed"] / shown["plain"], 3)}))


if __name__ == "__main__":
    main()
