"""Generalization: is the page's bias-variance decomposition right, where is the double-descent peak, and how
fast is a sweep?

- decomposition_gap_se: over a grid of settings (every true function, both model families, small and large
  models, least squares and ridge), bias² + variance + σ² from REFITS refits against the test error measured the
  long way on REFITS other refits (each fitted alone, 400 fresh uniformly random test points with fresh noise):
  the largest distance in standard errors of their difference. Target <= 3.
- The random-features sweep of the page's default data (sin(πx), σ = 0.3, N = 40, seed 0) over widths 2 to
  2,400, each 8% above the last, 50 refits: the median test error's peak divided by the interpolation threshold
  (the median over refits of the smallest width whose features reach numerical rank N, singular values above
  1e-6 of the largest; the training error is ~0 from there on), and that threshold over N. The keys without a
  prefix are the random Fourier features' (generic features: the textbook double descent, the peak at the
  threshold); `relu_`: the same for random ReLU hinges, whose threshold lies at W ≈ 6 N and whose peak comes
  long before it, near W ≈ N (the page says why).
- sweep_seconds: the page's sweep (R = 50, N = 40, 40 widths from 1 to 1,600), best of 3, against the naive way
  (NumPy's lstsq, refit by refit and width by width) in the same run.
- validation_split: the MLP's and the Playground's early stopping choose on validation points that are neither
  training nor test points (checked on a short run of each).

Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.generalization.data import held_out_inputs  # noqa: E402
from engine.generalization.experiment import Problem, bias_variance, independent_test_error, sweep  # noqa: E402
from engine.generalization.least_squares import RANK_TOLERANCE  # noqa: E402
from engine.generalization.mlp import MlpConfig, MlpTrainer  # noqa: E402
from engine.playground.spec import PlaygroundSpec  # noqa: E402
from engine.playground.trainer import PlaygroundTrainer  # noqa: E402
from engine.runtime import train  # noqa: E402

REFITS = 300
SETTINGS = [Problem(function=f, family="poly", complexity=d, sigma=s)
            for f, d, s in (("sine", 1, 0.3), ("sine", 3, 0.3), ("step", 8, 0.5), ("cubic", 15, 0.1), ("abs", 5, 1.0))]
SETTINGS += [Problem(function=f, family="relu", complexity=w, alpha=a, sigma=0.3)
             for f, w, a in (("sine", 10, 0.0), ("abs", 60, 0.0), ("step", 400, 1e-3), ("cubic", 2000, 0.0))]
SETTINGS += [Problem(function=f, family="fourier", complexity=w, alpha=a, sigma=0.3)
             for f, w, a in (("sine", 20, 0.0), ("step", 200, 0.0), ("abs", 800, 1e-3))]
PEAK_WIDTHS = np.unique(np.round(np.geomspace(2, 2400, int(np.log(1200) / np.log(1.08)) + 1)).astype(int))


def decomposition_gaps() -> list[dict]:
    rows = []
    for problem in SETTINGS:
        d = bias_variance(problem, REFITS).decomposition
        measured, measured_se = independent_test_error(problem, REFITS, seed=problem.seed + 1000)
        gap = abs(measured - d.expected_error) / math.hypot(measured_se, d.expected_error_se)
        rows.append({"setting": f"{problem.function} {problem.family}{problem.complexity} alpha{problem.alpha:g}",
                     "decomposed": round(d.expected_error, 5), "measured": round(measured, 5),
                     "gap_se": round(gap, 2)})
        print(rows[-1], flush=True)
    return rows


def naive_sweep_seconds(problem: Problem, refits: int) -> float:
    """lstsq refit by refit and width by width, with the predictions at the test inputs."""
    x, y = problem.training_sets(refits)
    grid = held_out_inputs()
    started = time.perf_counter()
    for size in problem.sweep_sizes():
        count = problem.features.count(int(size))
        grid_features = problem.features.matrix(grid, count)
        for r in range(refits):
            w = np.linalg.lstsq(problem.features.matrix(x[r], count), y[r], rcond=RANK_TOLERANCE)[0]
            grid_features @ w
    return time.perf_counter() - started


def validation_is_apart() -> bool:
    mlp = MlpTrainer(MlpConfig(width=16), {"max_steps": 50}, seed=0)
    history = train(mlp, 50)
    v = mlp.observe()
    mlp_ok = (v.early_step == int(np.argmin([m["validation_mse"] for m in history])) + 1
              and not np.isin(v.validation_x, v.train_x).any() and not np.isin(v.validation_x, v.grid).any())
    spec = PlaygroundSpec(patience=5, noise=0.2)
    playground = PlaygroundTrainer(spec.config(), spec.hyperparameters(), seed=0)
    data = playground.dataset
    points = lambda a: {tuple(row) for row in np.round(np.asarray(a, dtype=float), 9)}  # noqa: E731
    apart = not (points(data.x_val) & points(data.x_train)) and not (points(data.x_val) & points(data.x_test))
    return bool(mlp_ok and apart and len(data.x_val) > 0)


def main() -> None:
    rows = decomposition_gaps()
    peaks = {}
    for family in ("fourier", "relu"):
        default = Problem(family=family, n=40)
        peak_sweep = sweep(default, 50, PEAK_WIDTHS)
        peaks[family] = peak_sweep.peak, peak_sweep.threshold
        test = peak_sweep.test_mse[0]
        print({"family": family, "threshold": peak_sweep.threshold, "peak": peak_sweep.peak,
               "peak_test_mse": float(test.max()), "min_test_mse": float(test.min()),
               "widest_test_mse": float(test[-1])}, flush=True)
    (peak, threshold), (relu_peak, relu_threshold) = peaks["fourier"], peaks["relu"]
    page_sweep = Problem(family="relu", n=40, complexity=1)  # its own width is one of the 40
    if len(page_sweep.sweep_sizes()) != 40:
        raise RuntimeError(f"the page's sweep has {len(page_sweep.sweep_sizes())} widths, not 40")
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        sweep(page_sweep, 50)
        seconds.append(time.perf_counter() - started)
    naive = naive_sweep_seconds(page_sweep, 50)
    print(json.dumps({
        "decomposition_gap_se": max(row["gap_se"] for row in rows),
        "peak_w_over_interpolation_w": round(peak / threshold, 3),
        "interpolation_w_over_n": round(threshold / default.n, 2),
        "peak_w_over_n": round(peak / default.n, 2),
        "relu_peak_w_over_interpolation_w": round(relu_peak / relu_threshold, 3),
        "relu_interpolation_w_over_n": round(relu_threshold / default.n, 2),
        "relu_peak_w_over_n": round(relu_peak / default.n, 2),
        "refits": REFITS,
        "sweep_seconds": round(min(seconds), 3),
        "naive_sweep_seconds": round(naive, 3),
        "sweep_speedup": round(naive / min(seconds), 1),
        "peak_width": peak, "interpolation_width": threshold, "relu_peak_width": relu_peak,
        "relu_interpolation_width": relu_threshold,
        "rank_tolerance": RANK_TOLERANCE,
        "validation_split": validation_is_apart(),
    }))


if __name__ == "__main__":
    main()
