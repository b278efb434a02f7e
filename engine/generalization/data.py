"""1-D regression problems: a true function f on [-1, 1], inputs drawn uniformly, labels y = f(x) + ε with
ε ~ N(0, σ²). Because the page knows f and σ, it can split a model's expected test error exactly into bias²,
variance and σ² (engine.generalization.bias_variance).

Randomness is NumPy's (the closed forms are NumPy, float64): one generator per purpose from the seed, so drawing
more refits leaves the first ones as they were.
"""

from __future__ import annotations

import zlib

import numpy as np

TRUE_FUNCTIONS = ("sine", "step", "cubic", "abs")
TRUE_FUNCTION_LABELS = {"sine": "sin(πx)", "step": "A step", "cubic": "A cubic", "abs": "|x|"}
TEST_POINTS = 400  # the held-out inputs: an even grid of midpoints over [-1, 1], so their mean is E over x


def true_function(name: str, x: np.ndarray) -> np.ndarray:
    """f(x) of the named true function; each spans about [-1, 1] on x in [-1, 1]."""
    if name == "sine":
        return np.sin(np.pi * x)
    if name == "step":
        return np.where(x < 0.1, -0.5, 0.5)
    if name == "cubic":
        return 2.0 * x**3 - 1.2 * x  # two bends inside [-1, 1]
    if name == "abs":
        return 2.0 * np.abs(x) - 1.0
    raise ValueError(f"unknown true function {name!r}; choose one of {', '.join(TRUE_FUNCTIONS)}")


def generator(seed: int, purpose: str) -> np.random.Generator:
    """NumPy's generator of one purpose ("train", "features", "test noise", ...) for a seed."""
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode())])


def held_out_inputs(count: int = TEST_POINTS) -> np.ndarray:
    """Evenly spaced midpoints over [-1, 1]: averaging over them is the expectation over uniform inputs."""
    return -1.0 + (2.0 * np.arange(count) + 1.0) / count


def training_sets(function: str, sigma: float, n: int, refits: int, seed: int,
                  purpose: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """`refits` independent training sets of `n` points: inputs x (refits, n) uniform on [-1, 1] and noisy
    labels y. Set r is the same whatever `refits` is (each set has its own generator)."""
    x = np.empty((refits, n))
    noise = np.empty((refits, n))
    for r in range(refits):
        draws = generator(seed, f"{purpose} {r}")
        x[r] = draws.uniform(-1.0, 1.0, n)
        noise[r] = draws.standard_normal(n)
    return x, true_function(function, x) + sigma * noise
