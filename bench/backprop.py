"""Backprop by hand: is every number the page shows right, and does a typed weight redraw at once?

- NETWORKS random networks (every activation, both losses, 0-3 hidden layers of 1-4 units, random weights and
  data): every δ and ∂L/∂w the page computes (float64, per example, unrounded) against torch's autograd: the
  largest absolute difference (target <= 1e-9);
- the same networks' gradient check: the largest relative error |fd − g| / max(|g|, 1e-8) of the fourth-order
  central difference (target <= 1e-6), parameters whose stencil crosses a ReLU kink skipped and counted;
- the hand-built presets (engine/backprop/presets.py): solved with no training (100% accuracy, or max(a, b)
  exact to 1e-12);
- edit_to_redraw_p95_s: in Chromium, a weight typed into the page's weights box (Enter) until the boundary chart
  shows the new function, 21 edits (bench/interaction.py's backprop script; target <= 0.5 s).

Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.interaction import PAGES as SCRIPTS  # noqa: E402
from bench.interaction import interactions, p95  # noqa: E402
from engine.backprop.autograd import autograd_pass  # noqa: E402
from engine.backprop.checks import gradient_check  # noqa: E402
from engine.backprop.data import examples  # noqa: E402
from engine.backprop.network import ACTIVATIONS, LOSSES, Architecture, predict, run  # noqa: E402
from engine.backprop.presets import PRESETS  # noqa: E402
from scripts.browser import chromium, running_app  # noqa: E402

NETWORKS = 32


def random_networks(count: int):
    rng = np.random.default_rng(2026)
    for index in range(count):
        activation, loss = ACTIVATIONS[index % len(ACTIVATIONS)], LOSSES[(index // len(ACTIVATIONS)) % len(LOSSES)]
        hidden = tuple(int(width) for width in rng.integers(1, 5, size=index % 4))
        arch = Architecture(hidden, activation, loss)
        flat = 1.5 * arch.initial(rng) + 0.1 * rng.standard_normal(arch.parameter_count)
        x = rng.normal(size=(8, 2))
        y = (rng.random(8) > 0.5).astype(float) if loss == "bce" else rng.normal(size=8)
        yield arch, flat, x, y


def solved(preset) -> bool:
    data = examples(preset.data)
    output = predict(preset.arch, preset.weights, data.x)
    if data.loss == "bce":
        return bool(np.all((output > 0.5) == (data.y > 0.5)))
    return bool(np.abs(output - data.y).max() <= 1e-12)


def main() -> None:
    differences, fd_errors, skipped, parameters = [], [], 0, 0
    for arch, flat, x, y in random_networks(NETWORKS):
        p = run(arch, flat, x, y)
        deltas, weight_grads = autograd_pass(arch, flat, x, y)
        for n in range(len(y)):
            for layer in range(len(arch.sizes) - 1):
                differences += [np.abs(p.delta[layer][n] - deltas[n][layer]).max(),
                                np.abs(p.grad_w[layer][n] - weight_grads[n][layer]).max()]
        check = gradient_check(arch, flat, x, y)
        fd_errors.append(check.worst)
        skipped += int(check.skipped.sum())
        parameters += arch.parameter_count
    presets_solved = sum(solved(preset) for preset in PRESETS.values())
    print({"networks": NETWORKS, "parameters": parameters, "skipped_at_kinks": skipped,
           "presets_solved": presets_solved}, flush=True)
    script = next(s for s in SCRIPTS if s.label == "backprop")
    with running_app() as (url, _process), chromium() as browser:
        times = interactions(browser, url, script)
    print(json.dumps({"networks": NETWORKS, "max_abs_diff_vs_autograd": float(max(differences)),
                      "max_fd_rel_error": float(max(fd_errors)), "fd_skipped_at_relu_kinks": skipped,
                      "fd_parameters": parameters, "presets": len(PRESETS), "presets_solved": presets_solved,
                      "edit_to_redraw_p95_s": p95(times), "edits": len(times)}))


if __name__ == "__main__":
    main()
