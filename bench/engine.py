"""How much the job runtime costs over a bare PyTorch loop.

Trains the playground's default network on its default data for the same
number of steps (a) in a bare loop and (b) through PlaygroundJob in its thread
while another thread reads snapshots at the UI's refresh rate, as a page does
(the job observes its visuals only for a reader: engine.runtime.job). Runs are
interleaved and each side keeps its best of three, so background load on a
shared machine hits both alike. Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.runtime import JobStatus  # noqa: E402
from engine.playground.config import DEFAULT_HYPERPARAMETERS, PlaygroundConfig, n_outputs  # noqa: E402
from engine.playground.data import make_dataset  # noqa: E402
from engine.playground.model import PlaygroundNet, data_loss  # noqa: E402
from engine.playground.trainer import PlaygroundJob  # noqa: E402

READ_EVERY_S = 1.0  # as a page's live area reads its job (ui.live.UI_REFRESH_S)
STEPS = 6000
ROUNDS = 3


def bare_steps_per_second() -> float:
    config = PlaygroundConfig()
    dataset = make_dataset(config.data)
    generator = torch.Generator().manual_seed(0)
    model = PlaygroundNet(config, n_outputs(config, dataset), generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=DEFAULT_HYPERPARAMETERS["lr"])
    x, y = torch.tensor(dataset.x_train), torch.tensor(dataset.y_train)
    batch, n = DEFAULT_HYPERPARAMETERS["batch_size"], len(x)
    order, cursor = torch.randperm(n, generator=generator), 0
    started = time.perf_counter()
    for _ in range(STEPS):
        if cursor + batch > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        index = order[cursor:cursor + batch]
        cursor += batch
        loss = data_loss(config, dataset.task, model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # a training loop looks at its loss; the job records it every step
    return STEPS / (time.perf_counter() - started)


def job_steps_per_second() -> float:
    job = PlaygroundJob()
    stop_reading = threading.Event()

    def ui_reader():
        while not stop_reading.is_set():
            job.snapshot(fresh=True)  # as a page's live area reads: the visuals of the current step
            stop_reading.wait(READ_EVERY_S)

    reader = threading.Thread(target=ui_reader)
    try:
        # built first: the bare loop's setup (data, model, optimizer) is not timed either
        job.wait_for(lambda s: s.status is JobStatus.READY, timeout=60, visuals=False)
        reader.start()
        started = time.perf_counter()
        job.wait_applied(job.play())
        # (waiting for a step, not for visuals: a waiter for visuals has the job observe ten times a second,
        # where a page's live area asks once a second, as ui_reader does)
        job.wait_for(lambda s: s.step >= STEPS or s.status is not JobStatus.RUNNING, timeout=600, visuals=False)
        elapsed = time.perf_counter() - started
        steps = job.snapshot().step
        return steps / elapsed
    finally:
        stop_reading.set()
        job.stop()
        if reader.is_alive():
            reader.join()


def main() -> None:
    torch.set_num_threads(1)  # what each job uses (engine.common.device.torch_threads_per_job)
    bare, through_job = [], []
    for _ in range(ROUNDS):
        bare.append(bare_steps_per_second())
        through_job.append(job_steps_per_second())
    result = {"steps": STEPS, "bare_steps_per_s": round(max(bare), 1), "job_steps_per_s": round(max(through_job), 1),
              "ratio": round(max(through_job) / max(bare), 3)}
    print(f"bare: {[round(b) for b in bare]} steps/s; job: {[round(j) for j in through_job]} steps/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
