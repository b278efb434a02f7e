"""How much faster the landscape engine evaluates a loss surface than the naive loop.

Builds the playground's default network and data, trains it briefly, draws two
filter-normalized directions and evaluates the training loss on the same
51×51 grid (a) by the naive per-point loop of Li et al.'s code (load the
perturbed weights, forward, `.item()`) and (b) by the engine (chunks of grid
points at once, one host transfer per chunk). Rounds alternate between the two
and each side keeps its best time, so background load hits both alike. The
plain `functional_call` + `vmap` evaluator is timed too, for reference.
Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.common.device import describe_device, pick_device, torch_threads_per_job  # noqa: E402
from engine.landscape.directions import random_direction  # noqa: E402
from engine.landscape.losses import loss_surface  # noqa: E402
from engine.landscape.network import PlaygroundLandscape  # noqa: E402
from engine.playground.config import PlaygroundConfig  # noqa: E402
from engine.playground.model import data_loss  # noqa: E402
from engine.playground.trainer import PlaygroundTrainer  # noqa: E402
from engine.runtime import train  # noqa: E402

GRID = 51
RANGE = 1.0
ROUNDS = 3
TRAIN_STEPS = 300


def trained_landscape() -> PlaygroundLandscape:
    trainer = PlaygroundTrainer(PlaygroundConfig(), seed=0)
    train(trainer, TRAIN_STEPS)
    visuals = trainer.observe()
    return PlaygroundLandscape.from_state(trainer.config, visuals.state, visuals.dataset, pick_device())


def naive_surface(land: PlaygroundLandscape, origin: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor,
                  coordinates: np.ndarray) -> np.ndarray:
    model, (x, y) = land.model, land.data["train"]
    surface = np.empty((len(coordinates), len(coordinates)))
    with torch.no_grad():
        for i, beta in enumerate(coordinates):
            for j, alpha in enumerate(coordinates):
                weights = land.space.unflatten(origin + float(alpha) * d1 + float(beta) * d2)
                for parameter, value in zip(model.parameters(), weights.values()):
                    parameter.copy_(value)
                surface[i, j] = data_loss(land.config, land.dataset.task, model(x), y).item()
        for parameter, value in zip(model.parameters(), land.space.unflatten(origin).values()):
            parameter.copy_(value)
    return surface


def best_time(run, rounds: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        if land.space.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best, result


if __name__ == "__main__":
    torch.set_num_threads(torch_threads_per_job())
    land = trained_landscape()
    generator = torch.Generator().manual_seed(0)
    origin = land.weights
    d1, d2 = random_direction(land.model, "filter", generator), random_direction(land.model, "filter", generator)
    coordinates = np.linspace(-RANGE, RANGE, GRID)
    engine, plain = land.evaluator(["train"]), land.evaluator(["train"], fused=False)

    def engine_surface():
        return loss_surface(engine, origin, [d1, d2], coordinates, coordinates)["train"]

    def plain_surface():
        return loss_surface(plain, origin, [d1, d2], coordinates, coordinates)["train"]

    engine_surface(), plain_surface()  # warm up allocators and kernels
    naive_s = engine_s = plain_s = float("inf")
    for _ in range(ROUNDS):
        seconds, naive = best_time(lambda: naive_surface(land, origin, d1, d2, coordinates), 1)
        naive_s = min(naive_s, seconds)
        seconds, fast = best_time(engine_surface, 5)
        engine_s = min(engine_s, seconds)
        plain_s = min(plain_s, best_time(plain_surface, 3)[0])
    max_abs_diff = float(np.max(np.abs(naive - fast)))
    print(f"device: {describe_device(land.space.device)}; {land.space.size} parameters, "
          f"{len(land.data['train'][0])} training points, chunk {engine.chunk_size} grid points")
    print(f"plain functional_call + vmap: {plain_s:.4f} s ({naive_s / plain_s:.1f}x the naive loop)")
    print(json.dumps({"grid": GRID, "naive_s": round(naive_s, 4), "engine_s": round(engine_s, 5),
                      "speedup": round(naive_s / engine_s, 1), "max_abs_diff": max_abs_diff}))
