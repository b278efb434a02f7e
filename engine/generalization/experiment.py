"""What the page's closed-form views compute, from plain settings (the page caches each by its arguments):
the bias-variance decomposition at one model, the sweep over model sizes, and the regularization panels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.generalization.bias_variance import Decomposition, decompose, held_out_labels
from engine.generalization.data import generator, held_out_inputs, training_sets, true_function
from engine.generalization.features import MAX_HINGES, Features
from engine.generalization.least_squares import fit, interpolation_thresholds, weights
from engine.generalization.regularization import PANEL_FEATURES, L1AgainstL2, NoisyInputs, l1_against_l2, \
    noisy_inputs, shrinkage_factors

FAN_SHOWN = 40  # fits drawn in the fan
SWEEP_REFITS = 50  # the sweep refits at most this many training sets at each size (fewer above N = 40)
SWEEP_SIZES = 40
SWEEP_TEST_POINTS = 200  # a sweep's medians over refits need fewer test inputs than one model's decomposition


@dataclass(frozen=True)
class Problem:
    """The data and the model: a true function with noise σ, N points; a feature family at one complexity."""

    function: str = "sine"
    sigma: float = 0.3
    n: int = 40
    family: str = "poly"
    complexity: int = 3  # the degree, or the width
    alpha: float = 0.0  # ridge strength; 0: minimum-norm least squares
    seed: int = 0

    @property
    def features(self) -> Features:
        return Features(self.family, self.seed, self.n)

    def training_sets(self, refits: int) -> tuple[np.ndarray, np.ndarray]:
        return training_sets(self.function, self.sigma, self.n, refits, self.seed)

    def sweep_sizes(self) -> np.ndarray:
        """The complexities a sweep visits: SWEEP_SIZES distinct degrees from 0 to 4N (at most 200) or widths from
        1 to 40N (at most the widest), evenly spaced on the chart's axis, and this problem's own."""
        if self.family == "poly":
            top = min(4 * self.n, 200)
            sizes = np.unique(np.round(np.linspace(0, top, min(SWEEP_SIZES, top + 1))).astype(int))
        else:
            top, count = min(40 * self.n, MAX_HINGES), SWEEP_SIZES
            while len(sizes := np.unique(np.round(np.geomspace(1, top, count)).astype(int))) < SWEEP_SIZES:
                count += 1  # rounding merges the smallest widths
        return np.union1d(sizes, [self.complexity])


@dataclass(frozen=True)
class BiasVariance:
    decomposition: Decomposition
    grid: np.ndarray  # test inputs
    truth: np.ndarray
    fan: np.ndarray  # (FAN_SHOWN, T) the first refits' fits
    train_x: np.ndarray  # the first training set
    train_y: np.ndarray
    train_mse: float  # mean over refits


def bias_variance(problem: Problem, refits: int) -> BiasVariance:
    x, y = problem.training_sets(refits)
    grid = held_out_inputs()
    truth = true_function(problem.function, grid)
    fits = fit(problem.features, [problem.complexity], x, y, grid, (problem.alpha,))
    predictions = fits.test_predictions[0, :, 0]
    decomposition = decompose(predictions, truth, problem.sigma, held_out_labels(truth, problem.sigma, refits,
                                                                             problem.seed))
    return BiasVariance(decomposition, grid, truth, predictions[:FAN_SHOWN], x[0], y[0],
                        float(fits.train_mse[0, :, 0].mean()))


@dataclass(frozen=True)
class Sweep:
    """Errors over model sizes: medians over refits of the training and test error, bias² and variance; for
    least squares and, when the problem has α > 0, for ridge at α."""

    sizes: np.ndarray  # (C,)
    alphas: tuple[float, ...]
    train_mse: np.ndarray  # (A, C) medians over refits
    test_mse: np.ndarray  # (A, C) medians over refits, on noisy test labels
    bias2: np.ndarray  # (A, C)
    variance: np.ndarray  # (A, C)
    thresholds: np.ndarray  # (R,) each refit's interpolation threshold
    refits: int

    @property
    def threshold(self) -> float:
        """The median over refits of the smallest size whose features reach numerical rank N."""
        return float(np.median(self.thresholds))

    @property
    def peak(self) -> int:
        """Where least squares' median test error is highest."""
        return int(self.sizes[np.argmax(self.test_mse[0])])


def sweep_refits(n: int, refits: int) -> int:
    """How many training sets a sweep refits: at most SWEEP_REFITS, and fewer for more points (its N×N
    eigendecompositions cost N³ each), down to 10 at N = 200, so that a sweep stays within a few seconds."""
    return int(min(refits, SWEEP_REFITS, max(10, SWEEP_REFITS * (40 / n) ** 2)))


def sweep(problem: Problem, refits: int = SWEEP_REFITS, sizes: np.ndarray | None = None) -> Sweep:
    sizes = problem.sweep_sizes() if sizes is None else np.asarray(sizes)
    x, y = problem.training_sets(refits)
    grid = held_out_inputs(SWEEP_TEST_POINTS)
    truth = true_function(problem.function, grid)
    alphas = (0.0, problem.alpha) if problem.alpha > 0 else (0.0,)
    fits = fit(problem.features, sizes, x, y, grid, alphas)
    labels = held_out_labels(truth, problem.sigma, refits, problem.seed)
    test = np.mean((fits.test_predictions - labels[None, :, None, :]) ** 2, axis=3)  # (A, R, C)
    mean_fit = fits.test_predictions.mean(axis=1)  # (A, C, T)
    variance_at = fits.test_predictions.var(axis=1, ddof=1)
    bias2 = np.mean((mean_fit - truth) ** 2 - variance_at / refits, axis=2)
    return Sweep(sizes, alphas, np.median(fits.train_mse, axis=1), np.median(test, axis=1), bias2,
                 variance_at.mean(axis=2), interpolation_thresholds(fits, problem.n), refits)


@dataclass(frozen=True)
class Regularization:
    eigenvalues: np.ndarray  # of ΦᵀΦ on the first training set, descending
    alphas: np.ndarray  # the shrinkage chart's axis
    factors: np.ndarray  # (len eigenvalues, len alphas)
    noisy: NoisyInputs | None  # None above PANEL_FEATURES features
    l1_l2: L1AgainstL2 | None  # also None when α = 0 (least squares has no strength to match)
    grid: np.ndarray
    truth: np.ndarray
    train_x: np.ndarray
    train_y: np.ndarray
    grid_features: np.ndarray  # (T, p): multiply by weights to draw a fit


def regularization(problem: Problem, input_noise: float) -> Regularization:
    x, y = problem.training_sets(1)
    features = problem.features
    count = features.count(problem.complexity)
    phi = features.matrix(x[0], count)
    alphas = np.logspace(-8, 3, 67)
    eigenvalues, factors = shrinkage_factors(phi, alphas)
    grid = held_out_inputs()
    small = count <= PANEL_FEATURES
    noisy = noisy_inputs(phi, y[0], input_noise, generator(problem.seed, "input noise")) if small else None
    l1_l2 = l1_against_l2(phi, y[0], problem.alpha) if small and problem.alpha > 0 else None
    return Regularization(eigenvalues, alphas, factors, noisy, l1_l2, grid, true_function(problem.function, grid),
                          x[0], y[0], features.matrix(grid, count))


def independent_test_error(problem: Problem, refits: int, seed: int) -> tuple[float, float]:
    """The expected test error measured the long way, as an oracle for `bias_variance`: `refits` training sets
    of another seed, each fitted alone and scored on 400 fresh uniformly random test inputs with fresh noise.
    (mean, its standard error)."""
    x, y = Problem(**{**problem.__dict__, "seed": seed}).training_sets(refits)
    draws = generator(seed, "independent test points")
    features = problem.features  # the same model (its random features are part of it), fresh data
    count = features.count(problem.complexity)
    errors = np.empty(refits)
    for r in range(refits):
        x_test = draws.uniform(-1.0, 1.0, 400)
        labels = true_function(problem.function, x_test) + problem.sigma * draws.standard_normal(400)
        fitted = weights(features, problem.complexity, x[r], y[r], problem.alpha)
        errors[r] = np.mean((labels - features.matrix(x_test, count) @ fitted) ** 2)
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(refits))
