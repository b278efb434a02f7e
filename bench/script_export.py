"""Script export: does the Playground's "Download as a Python script" reproduce the job's run?

- max_loss_diff: the Playground's default and three lesson presets (the perceptron rule on XOR, ReLU units
  fitting sin x, the overfitting 3 × 16 ReLU network) exported with engine.playground.script, each run as
  `python script.py --steps 200` in a subprocess of its own (one torch thread, float32, CPU), its printed losses
  against PlaygroundTrainer's for the same 200 steps, driven as a job drives it: the largest absolute
  difference over every step of the four. Target <= 1e-6 (the issue's); they come out bitwise equal (0.0).
- seconds: the longest script run (most of it importing torch).

Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.playground.script import playground_script  # noqa: E402
from engine.playground.spec import PlaygroundSpec  # noqa: E402
from engine.playground.trainer import PlaygroundTrainer  # noqa: E402
from engine.runtime import train  # noqa: E402
from ui.lessons import OVERFIT, PERCEPTRON_XOR, RELU_FIT  # noqa: E402

STEPS = 200
EXPERIMENTS = {"default": PlaygroundSpec(), "perceptron-xor": PERCEPTRON_XOR.spec, "relu-fit": RELU_FIT,
               "overfit": OVERFIT}


def trainer_losses(spec: PlaygroundSpec) -> list[float]:
    """The reference: the trainer as a job builds it (hyperparameters applied once after setup)."""
    trainer = PlaygroundTrainer(spec.config(), spec.hyperparameters(), seed=spec.job_seed())
    trainer.apply_hyperparameters(dict(trainer.hp))
    return [metrics["loss"] for metrics in train(trainer, STEPS)]


def script_losses(spec: PlaygroundSpec, folder: Path, name: str) -> tuple[list[float], float]:
    path = folder / f"{name}.py"
    path.write_text(playground_script(spec, steps=STEPS), encoding="utf-8")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(path), "--steps", str(STEPS)],  # noqa: S603 - the script just written
                         capture_output=True, text=True, timeout=300, check=True)
    seconds = time.perf_counter() - started
    return [float(line.split()[3]) for line in run.stdout.splitlines() if line.startswith("step ")], seconds


def main() -> None:
    torch.set_num_threads(1)
    worst, longest = 0.0, 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, spec in EXPERIMENTS.items():
            printed, seconds = script_losses(spec, Path(folder), name)
            expected = trainer_losses(spec)
            if len(printed) != len(expected):
                raise RuntimeError(f"{name}: the script trained {len(printed)} steps, the trainer {len(expected)}")
            diff = max(abs(a - b) for a, b in zip(printed, expected))
            worst, longest = max(worst, diff), max(longest, seconds)
            print({"experiment": name, "steps": len(printed), "max_loss_diff": diff, "bitwise": printed == expected,
                   "final_loss": printed[-1], "script_seconds": round(seconds, 2)}, flush=True)
    print(json.dumps({"scripts": len(EXPERIMENTS), "max_loss_diff": worst, "steps": STEPS,
                      "longest_script_seconds": round(longest, 2)}))


if __name__ == "__main__":
    main()
