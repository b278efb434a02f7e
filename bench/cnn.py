"""Convolutional networks: the page's default CNN against an MLP with as many parameters, on one CPU thread.

- digits (scikit-learn's 8x8): steps and seconds until the CNN's held-out accuracy first reaches 97%, and its
  accuracy afterwards (the mean of its last 5 evaluations, every 50 steps up to DIGIT_STEPS); the MLP's at the
  same steps. The seconds are the page's trainer's: each step trains the CNN *and* the MLP (and, here, the
  adversarially trained copy), so they are an upper bound on the CNN's own.
- shapes (16x16, generated, anywhere in the frame): held-out accuracy of both after SHAPE_STEPS steps (~60 s).
- shifts: both trained on centred shapes, then tested on the same held-out shapes moved 3 pixels (zeros
  coming in), averaged over up, down, left and right: `shift3_drop_ratio` = the CNN's accuracy drop / the MLP's.
- FGSM on digits: `fgsm_eps` is the smallest eps on the page's grid (grey levels of 16) at which the standard
  CNN's held-out accuracy falls to <= 0.5; at that eps, the copy trained on half FGSM examples (same start, same
  batches, same steps).

The reference in the same run is the MLP of the same size (and the standard CNN for the attack). Prints one JSON
object as its last line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.cnn.attacks import accuracy, accuracy_under_attack  # noqa: E402
from engine.cnn.config import CnnConfig  # noqa: E402
from engine.cnn.data import shift_images  # noqa: E402
from engine.cnn.trainer import EPS_GRID, CnnTrainer  # noqa: E402
from engine.runtime import train  # noqa: E402

SEED = 0
DIGIT_STEPS = 2_000
EVERY = 50
SHAPE_STEPS = 10_000  # ~60 s of CNN + MLP steps on one thread of the 2-core machine here
CENTRED_STEPS = 1_500
SHIFT = 3


def digits() -> dict[str, float]:
    trainer = CnnTrainer(CnnConfig(adversarial=True), seed=SEED)
    seconds, reached, cnn, mlp = 0.0, None, [], []
    while trainer.steps_done < DIGIT_STEPS:
        started = time.perf_counter()
        train(trainer, EVERY)
        seconds += time.perf_counter() - started
        metrics = trainer.evaluate()
        cnn.append(metrics["test_accuracy"])
        mlp.append(metrics["mlp_test_accuracy"])
        if reached is None and cnn[-1] >= 0.97:
            reached = trainer.steps_done, seconds
    x, y = trainer.data.test_x, trainer.data.test_y
    eps = [e * trainer.data.level for e in EPS_GRID]
    standard = accuracy_under_attack("fgsm", trainer.cnn, x, y, eps)
    robust = accuracy_under_attack("fgsm", trainer.robust, x, y, eps)
    at = next((i for i, value in enumerate(standard) if value <= 0.5), None)
    return {
        "digits_accuracy": round(statistics.mean(cnn[-5:]), 4),
        "digits_mlp_accuracy": round(statistics.mean(mlp[-5:]), 4),
        "digits_steps_to_97": reached[0] if reached else None,
        "digits_seconds_to_97": round(reached[1], 2) if reached else None,
        "digits_mlp_accuracy_at_97": round(mlp[reached[0] // EVERY - 1], 4) if reached else None,
        "digits_seconds_per_step": round(seconds / trainer.steps_done, 5),
        "fgsm_eps": EPS_GRID[at] if at is not None else None,
        "fgsm_standard_accuracy": round(standard[at], 4) if at is not None else None,
        "fgsm_adversarial_accuracy": round(robust[at], 4) if at is not None else None,
        "fgsm_standard_curve": [round(a, 3) for a in standard], "fgsm_adversarial_curve": [round(a, 3) for a in robust],
    }


def shapes() -> dict[str, float]:
    trainer = CnnTrainer(CnnConfig(dataset="shapes"), seed=SEED)
    started = time.perf_counter()
    train(trainer, SHAPE_STEPS)
    seconds = time.perf_counter() - started
    metrics = trainer.evaluate()
    return {"shapes_steps": SHAPE_STEPS, "shapes_seconds": round(seconds, 1),
            "shapes_cnn_accuracy": round(metrics["test_accuracy"], 4),
            "shapes_mlp_accuracy": round(metrics["mlp_test_accuracy"], 4)}


def shifted() -> dict[str, float]:
    trainer = CnnTrainer(CnnConfig(dataset="shapes_centred"), seed=SEED)
    train(trainer, CENTRED_STEPS)
    x, y = trainer.data.test_x, trainer.data.test_y
    drops = {}
    for name, network in (("cnn", trainer.cnn), ("mlp", trainer.mlp)):
        plain = accuracy(network, x, y)
        moved = statistics.mean(accuracy(network, shift_images(x, dy, dx), y)
                                for dy, dx in ((SHIFT, 0), (-SHIFT, 0), (0, SHIFT), (0, -SHIFT)))
        drops[name] = plain - moved
    return {"shift3_cnn_drop": round(drops["cnn"], 4), "shift3_mlp_drop": round(drops["mlp"], 4),
            "shift3_drop_ratio": round(drops["cnn"] / drops["mlp"], 4) if drops["mlp"] > 0 else None}


def main() -> None:
    torch.set_num_threads(1)
    results = {**digits(), **shapes(), **shifted()}
    results["targets_met"] = bool(
        results["digits_accuracy"] >= 0.97 and results["digits_seconds_to_97"] is not None
        and results["digits_seconds_to_97"] <= 30 and results["shapes_cnn_accuracy"] > results["shapes_mlp_accuracy"]
        and results["shift3_drop_ratio"] is not None and results["shift3_drop_ratio"] <= 0.5
        and results["fgsm_eps"] is not None
        and results["fgsm_adversarial_accuracy"] - results["fgsm_standard_accuracy"] >= 0.2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
