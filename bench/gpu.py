"""Training speed on the GPU against the CPU: each page's default experiment (tests/test_cuda.py's table)
trained by its plain trainer for a fixed time on each device, after a warm-up; steps per second side by side
in one run. The CPU side uses the job's thread count (engine.common.device.torch_threads_per_job), as a job
does. Needs a CUDA device (else it says so and prints {"cuda": false}). Last line: one JSON object."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.common.device import torch_threads_per_job  # noqa: E402
from engine.runtime.trainer import train  # noqa: E402
from tests.test_cuda import EXPERIMENTS  # noqa: E402

WARMUP_STEPS = 5
MEASURE_S = 4.0


def steps_per_second(job_type, spec, device: str) -> float:
    torch.manual_seed(spec.job_seed())
    trainer = job_type.trainer_type(spec.config(), spec.hyperparameters(), seed=spec.job_seed(), device=device)
    train(trainer, WARMUP_STEPS)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < MEASURE_S:
        train(trainer, 5)
        steps += 5
    sync()
    return steps / (time.perf_counter() - start)


def main() -> None:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to compare")
        print(json.dumps({"cuda": False}))
        return
    torch.set_num_threads(torch_threads_per_job())
    result = {"cuda": True, "gpu": torch.cuda.get_device_name(0), "cpu_threads": torch.get_num_threads()}
    for name, (job_type, spec) in EXPERIMENTS.items():
        cpu, gpu = steps_per_second(job_type, spec, "cpu"), steps_per_second(job_type, spec, "cuda")
        result[name] = {"cpu_steps_s": round(cpu, 1), "gpu_steps_s": round(gpu, 1), "speedup": round(gpu / cpu, 2)}
        print(f"{name:16s} cpu {cpu:9.1f}/s  gpu {gpu:9.1f}/s  x{gpu / cpu:.2f}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
