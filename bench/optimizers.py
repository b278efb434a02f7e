"""Optimizer trajectories: engine speed, and agreement with a plain NumPy re-implementation.

Runs every optimizer (default hyperparameters of each surface, Noisy SGD with
its default noise) for 500 steps on every test function through
`engine.optimizers.race.run_optimizers`, timed. Then re-implements each update
rule in NumPy, with hand-derived gradients and Hessians (no autograd), and
compares the first 50 steps point by point. The NumPy loop only borrows
torch's seeded generator for the Noisy SGD noise, so both see the same draws.

Last line: {"optimizers", "functions", "steps", "seconds", "max_deviation_from_reference", ...}.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.optimizers.race import run_optimizers  # noqa: E402
from engine.optimizers.surfaces import PLATEAU_CENTER, PLATEAU_WIDTH, SURFACE_NAMES, make_surface  # noqa: E402
from engine.optimizers.table import RACE_OPTIMIZERS, OptimizerSpec  # noqa: E402

STEPS = 500
COMPARED_STEPS = 50
QUADRATIC = dict(condition=25.0, angle_deg=30.0)  # rotated, so the Hessian is not diagonal
SEED = 7


# ----------------------------------------------------------------- hand-derived gradients and Hessians
def quadratic_matrix(condition: float, angle_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    rotation = np.array([[c, -s], [s, c]])
    return rotation @ np.diag([1 / condition, 1.0]) @ rotation.T


A = quadratic_matrix(**QUADRATIC)


def grad_hess(name: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = w
    if name == "quadratic":
        return A @ w, A
    if name == "rosenbrock":
        return (np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]),
                np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]]))
    if name == "beale":
        t = [1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3]
        dt = [np.array([y - 1, x]), np.array([y**2 - 1, 2 * x * y]), np.array([y**3 - 1, 3 * x * y**2])]
        d2t = [np.array([[0, 1], [1, 0.0]]), np.array([[0, 2 * y], [2 * y, 2 * x]]),
               np.array([[0, 3 * y**2], [3 * y**2, 6 * x * y]])]
        grad = sum(2 * ti * di for ti, di in zip(t, dt))
        hess = sum(2 * (np.outer(di, di) + ti * hi) for ti, di, hi in zip(t, dt, d2t))
        return grad, hess
    if name == "himmelblau":
        u, v = x * x + y - 11, x + y * y - 7
        du, dv = np.array([2 * x, 1.0]), np.array([1.0, 2 * y])
        hess = 2 * (np.outer(du, du) + u * np.diag([2.0, 0]) + np.outer(dv, dv) + v * np.diag([0, 2.0]))
        return 2 * u * du + 2 * v * dv, hess
    if name == "rastrigin":
        return 2 * w + 20 * np.pi * np.sin(2 * np.pi * w), np.diag(2 + 40 * np.pi**2 * np.cos(2 * np.pi * w))
    if name == "saddle":
        return np.array([2 * x, -2 * y]), np.diag([2.0, -2.0])
    if name == "plateau":
        d = w - np.array(PLATEAU_CENTER)
        s2 = PLATEAU_WIDTH**2
        e = math.exp(-d @ d / (2 * s2))
        return e * d / s2, e / s2 * (np.eye(2) - np.outer(d, d) / s2)
    if name == "ravine":
        u = y - math.sin(x)
        return (np.array([0.2 * x - 20 * u * math.cos(x), 20 * u]),
                np.array([[0.2 + 20 * math.cos(x) ** 2 + 20 * u * math.sin(x), -20 * math.cos(x)],
                          [-20 * math.cos(x), 20.0]]))
    raise KeyError(name)


# ----------------------------------------------------------------- update rules, from their formulas
def reference_path(name: str, kind: str, hp: dict, start, steps: int, bound, seed: int) -> np.ndarray:
    w = np.array(start, dtype=float)
    lr = hp["lr"]
    noise = torch.Generator().manual_seed(seed)
    state: dict = {}
    path = [w.copy()]
    for k in range(1, steps + 1):
        g, hess = grad_hess(name, w)
        if hp.get("noise", 0.0) > 0:
            g = g + hp["noise"] * torch.randn(2, generator=noise, dtype=torch.float64).numpy()
        if kind in ("gd", "sgd_noise"):
            step = -lr * g
        elif kind in ("momentum", "nesterov"):
            v = state["v"] = hp["momentum"] * state["v"] + g if "v" in state else g.copy()
            step = -lr * (g + hp["momentum"] * v if kind == "nesterov" else v)
        elif kind == "adagrad":
            s = state["s"] = state.get("s", 0.0) + g * g
            step = -lr * g / (np.sqrt(s) + 1e-10)
        elif kind == "rmsprop":
            v = state["v"] = hp["alpha"] * state.get("v", 0.0) + (1 - hp["alpha"]) * g * g
            step = -lr * g / (np.sqrt(v) + 1e-8)
        elif kind == "adam":
            b1, b2 = hp["beta1"], hp["beta2"]
            m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
            v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
            step = -lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + 1e-8)
        elif kind == "rprop":
            delta, prev = state.get("delta", np.full(2, lr)), state.get("prev", np.zeros(2))
            sign = np.sign(g * prev)
            delta = np.clip(np.where(sign > 0, delta * hp["eta_plus"], np.where(sign < 0, delta * hp["eta_minus"],
                                                                                     delta)), 1e-6, 50)
            g = np.where(sign < 0, 0.0, g)
            state["delta"], state["prev"] = delta, g
            step = -np.sign(g) * delta
        elif kind == "newton":
            step = -lr * np.linalg.solve(hess + hp["damping"] * np.eye(2), g)
        elif kind == "quickprop":
            if "prev_step" not in state:
                step = -lr * g
            else:
                mu, pg, ps = hp["max_growth"], state["prev_grad"], state["prev_step"]
                step = np.zeros(2)
                for i in range(2):
                    same = g[i] * pg[i] > 0
                    if ps[i] == 0:
                        step[i] = -lr * g[i]
                        continue
                    if same and abs(g[i]) >= mu / (1 + mu) * abs(pg[i]):
                        factor = mu
                    else:
                        factor = g[i] / (pg[i] - g[i]) if pg[i] != g[i] else 0.0
                    step[i] = factor * ps[i] - (lr * g[i] if same else 0.0)
            state["prev_grad"], state["prev_step"] = g.copy(), step
        else:
            raise KeyError(kind)
        w = w + step
        if not np.all(np.isfinite(w)):
            break
        path.append(w.copy())
        (x_lo, x_hi), (y_lo, y_hi) = bound
        if not (x_lo <= w[0] <= x_hi and y_lo <= w[1] <= y_hi):
            break
    return np.array(path)


def main() -> None:
    torch.set_num_threads(1)
    kinds = list(RACE_OPTIMIZERS)
    deviations, engine_seconds, reference_seconds, diverged = {}, 0.0, 0.0, {}
    for name in SURFACE_NAMES:
        surface = make_surface(name, **QUADRATIC) if name == "quadratic" else make_surface(name)
        specs = [OptimizerSpec.default(kind, surface) for kind in kinds]
        run_optimizers(surface, specs, surface.start, 5, seed=SEED)  # warm-up
        t = time.perf_counter()
        trajectories = run_optimizers(surface, specs, surface.start, STEPS, seed=SEED)
        engine_seconds += time.perf_counter() - t
        for spec, traj in zip(specs, trajectories):
            t = time.perf_counter()
            ref = reference_path(name, spec.kind, spec.hyperparameters, surface.start, COMPARED_STEPS,
                                 surface.bound(), SEED)
            reference_seconds += time.perf_counter() - t
            ours = traj.points[:COMPARED_STEPS + 1]
            if len(ours) != len(ref):
                deviations[f"{name}/{spec.kind}"] = math.inf  # one stopped where the other did not
                continue
            deviations[f"{name}/{spec.kind}"] = float(np.max(np.abs(ours - ref)))
            if traj.diverged_at is not None:
                diverged[f"{name}/{spec.kind}"] = traj.diverged_at
    worst = max(deviations, key=deviations.get)
    print(f"{len(kinds)} optimizers x {len(SURFACE_NAMES)} functions x {STEPS} steps: {engine_seconds:.2f} s "
          f"({engine_seconds / (len(kinds) * len(SURFACE_NAMES) * STEPS) * 1e6:.0f} µs per optimizer step)")
    print(f"NumPy reference, first {COMPARED_STEPS} steps: {reference_seconds:.2f} s")
    print(f"worst deviation: {worst} = {deviations[worst]:.3g}; runs that diverged: {diverged}")
    print(json.dumps({
        "optimizers": len(kinds), "functions": len(SURFACE_NAMES), "steps": STEPS,
        "seconds": round(engine_seconds, 3), "max_deviation_from_reference": deviations[worst],
        "compared_steps": COMPARED_STEPS, "worst_case": worst,
        "reference_seconds_50_steps": round(reference_seconds, 3),
        "dtype": "float64",
    }))


if __name__ == "__main__":
    main()
