"""The Generalization page's engine against independent oracles: NumPy's Legendre polynomials and least squares,
a brute-force Monte-Carlo test error, a direct ridge solve, the lasso's optimality conditions, and the recorded
history of a trained MLP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.generalization.bias_variance import decompose, held_out_labels
from engine.generalization.data import TRUE_FUNCTIONS, generator, held_out_inputs, training_sets, true_function
from engine.generalization.experiment import Problem, bias_variance, independent_test_error, regularization, \
    sweep, sweep_refits
from engine.generalization.features import Features
from engine.generalization.least_squares import RANK_TOLERANCE, fit, interpolation_thresholds, weights
from engine.generalization.mlp import MlpConfig, MlpTrainer
from engine.generalization.regularization import l1_against_l2, noisy_inputs, ridge_weights, shrinkage_factors
from engine.runtime import train


def test_the_features_are_scaled_legendre_polynomials_and_hinges():
    x = np.linspace(-1, 1, 7)
    legendre = np.polynomial.legendre.legvander(x, 5) * np.sqrt(2 * np.arange(6) + 1)
    assert np.allclose(Features("poly").matrix(x, 6), legendre / np.sqrt(6))
    relu = Features("relu", seed=3)
    bends, faces = relu.hinges
    brute = np.array([[max(0.0, faces[j] * (xi - bends[j])) for j in range(9)] for xi in x]) / 3.0
    assert np.allclose(relu.matrix(x, 9), brute)
    assert np.allclose(Features("relu", seed=3).hinges[0][:9], bends[:9])  # the seed fixes them
    fourier = Features("fourier", seed=3, points=25)
    omegas, phases = fourier.frequencies
    brute = np.array([[np.sqrt(2) * np.cos(omegas[j] * xi + phases[j]) for j in range(9)] for xi in x]) / 3.0
    assert np.allclose(fourier.matrix(x, 9), brute)
    assert 0.8 * 50 < np.std(omegas) < 1.2 * 50  # ω ~ N(0, (2N)²)


def test_training_sets_keep_their_draws_whatever_the_number_of_refits():
    few, many = training_sets("sine", 0.3, 10, 2, 5), training_sets("sine", 0.3, 10, 7, 5)
    assert np.array_equal(few[0], many[0][:2]) and np.array_equal(few[1], many[1][:2])
    x, y = many
    assert x.min() >= -1 and x.max() <= 1 and not np.allclose(x[0], x[1])
    for name in TRUE_FUNCTIONS:
        assert np.all(np.abs(true_function(name, held_out_inputs())) <= 1.0 + 1e-12)


@pytest.mark.parametrize("family, sizes", [("poly", [2, 9, 25]), ("relu", [5, 30, 120]), ("fourier", [5, 20, 90])])
@pytest.mark.parametrize("alpha", [0.0, 0.01])
def test_a_sweep_matches_least_squares_and_ridge_solved_directly(family, sizes, alpha):
    """Every size of one nested sweep against NumPy: lstsq's minimum-norm solution (α = 0) or the ridge normal
    equations, refit by refit."""
    features = Features(family, seed=1)
    x, y = training_sets("cubic", 0.2, 20, 3, 1)
    grid = held_out_inputs(50)
    fits = fit(features, sizes, x, y, grid, (alpha,))
    for c, size in enumerate(sizes):
        p = features.count(size)
        for r in range(3):
            phi = features.matrix(x[r], p)
            if alpha == 0:
                w = np.linalg.lstsq(phi, y[r], rcond=RANK_TOLERANCE)[0]
            else:
                w = np.linalg.solve(phi.T @ phi + alpha * np.eye(p), phi.T @ y[r])
            expected = features.matrix(grid, p) @ w
            assert np.allclose(fits.test_predictions[0, r, c], expected, atol=1e-6 * max(1, np.abs(expected).max()))
            assert fits.train_mse[0, r, c] == pytest.approx(np.mean((phi @ w - y[r]) ** 2), abs=1e-9)
            assert fits.ranks[r, c] == np.linalg.matrix_rank(phi, tol=RANK_TOLERANCE * np.linalg.norm(phi, 2))
        assert np.allclose(weights(features, size, x[0], y[0], alpha)
                           @ features.matrix(grid, p).T, fits.test_predictions[0, 0, c])


def test_the_interpolation_threshold_is_where_the_training_error_falls_to_zero():
    problem = Problem(family="relu", n=30, seed=2)
    x, y = problem.training_sets(8)
    sizes = problem.sweep_sizes()
    fits = fit(problem.features, sizes, x, y, held_out_inputs(50))
    thresholds = interpolation_thresholds(fits, 30)
    assert np.all(np.isfinite(thresholds))
    for r in range(8):
        past = sizes >= thresholds[r]
        assert np.all(fits.train_mse[0, r, past] < 1e-20)  # rank N: the fit goes through every point
        assert np.all(fits.train_mse[0, r, ~past] > 1e-12)
    assert 2 * 30 < np.median(thresholds) < 12 * 30  # hinges on 1-D inputs: several times N


@pytest.mark.parametrize("problem", [Problem(complexity=1), Problem(complexity=5, sigma=0.5, function="step"),
                                     Problem(family="relu", complexity=20, alpha=1e-3, function="abs")])
def test_bias2_variance_and_noise_add_up_to_a_brute_force_test_error(problem):
    """bias² + variance + σ² from 300 refits against the test MSE of 300 other refits, each fitted alone and
    measured on 400 fresh uniformly random test points with fresh noise: within 3 standard errors."""
    result = bias_variance(problem, 300).decomposition
    measured, measured_se = independent_test_error(problem, 300, seed=problem.seed + 1000)
    gap = abs(measured - result.expected_error) / math.hypot(measured_se, result.expected_error_se)
    assert gap < 3, (result, measured, measured_se)
    assert result.noise == pytest.approx(problem.sigma**2)


def test_the_decomposition_of_known_predictions():
    """Predictions with a known mean and spread: bias² and variance come out as built, unbiased."""
    rng = np.random.default_rng(0)
    truth = np.zeros(200)
    predictions = 0.3 + 0.5 * rng.standard_normal((4000, 200))  # bias 0.3, variance 0.25 at every x
    d = decompose(predictions, truth, 0.1, held_out_labels(truth, 0.1, 4000, 0))
    assert d.bias2 == pytest.approx(0.09, abs=0.002) and d.variance == pytest.approx(0.25, rel=0.01)
    assert d.expected_error == pytest.approx(d.bias2 + d.variance + d.noise)
    assert d.gap_se < 3


def test_the_sweep_shows_the_u_curve_and_the_second_descent():
    result = sweep(Problem(family="relu", seed=0), 50)
    test = result.test_mse[0]
    best = int(np.argmin(test))
    assert 3 <= result.sizes[best] <= 30  # the classical U: a few hinges fit sin(πx) best
    assert test.max() > 10 * test[best]  # the peak
    assert result.peak < result.threshold  # measured: hinges' worst conditioning comes first (bench/generalization)
    assert test[-1] < test.max() / 2  # the second descent past the threshold
    ridge = sweep(Problem(family="relu", seed=0, alpha=1e-3), 50)
    assert ridge.test_mse[1].max() < test.max() / 5  # ridge flattens the peak
    assert np.allclose(ridge.test_mse[0], test)  # least squares drawn beside it is the same


@pytest.mark.parametrize("n, seed", [(20, 1), (40, 0), (80, 2)])
def test_the_double_descent_peak_of_random_fourier_features_is_at_the_interpolation_threshold(n, seed):
    """Generic features: the median test error peaks where Φ first reaches rank N (at most one step of the page's
    sweep away), about N, and falls again past it."""
    result = sweep(Problem(family="fourier", n=n, seed=seed), 30)
    test = result.test_mse[0]
    at = int(np.searchsorted(result.sizes, result.threshold))
    assert result.sizes[at] == result.threshold and n <= result.threshold <= 1.25 * n
    assert abs(int(np.argmax(test)) - at) <= 1
    assert test[-1] < test.max() / 10


def test_shrinkage_factors_against_a_direct_ridge_solve():
    """Ridge's fitted values are the least-squares projection with λᵢ/(λᵢ + α) along each eigendirection."""
    x, y = training_sets("sine", 0.3, 25, 1, 4)
    for family, size in (("poly", 8), ("relu", 60)):
        phi = Features(family, 4).matrix(x[0], Features(family).count(size))
        alphas = np.array([1e-4, 0.01, 1.0])
        eigenvalues, factors = shrinkage_factors(phi, alphas)
        u, singular, _ = np.linalg.svd(phi, full_matrices=False)
        u = u[:, :len(eigenvalues)]
        assert np.allclose(eigenvalues, singular[:len(eigenvalues)] ** 2)
        for a, alpha in enumerate(alphas):
            direct = phi @ np.linalg.solve(phi.T @ phi + alpha * np.eye(phi.shape[1]), phi.T @ y[0])
            assert np.allclose(u @ (factors[:, a] * (u.T @ y[0])), direct, atol=1e-8)
            assert np.allclose(phi @ ridge_weights(phi, y[0], alpha), direct, atol=1e-8)


def test_least_squares_on_noisy_inputs_approaches_ridge_with_alpha_n_s_squared():
    x, y = training_sets("sine", 0.3, 40, 1, 0)
    phi = Features("poly").matrix(x[0], 11)
    result = noisy_inputs(phi, y[0], 0.1, generator(0, "input noise"))
    assert result.alpha == pytest.approx(40 * 0.01)
    differences = result.relative_differences
    assert result.copies[-1] == 1000 and differences[-1] < 0.05 and differences[-1] < differences[0] / 5
    wrong = ridge_weights(phi, y[0], 4 * result.alpha)  # a different α is not what the noise gives
    assert np.linalg.norm(result.noisy_weights[-1] - wrong) > 3 * np.linalg.norm(result.noisy_weights[-1] -
                                                                                  result.ridge_weights)


def test_the_lasso_meets_its_optimality_conditions_at_ridges_training_error():
    x, y = training_sets("sine", 0.3, 40, 1, 0)
    phi = Features("relu", 0).matrix(x[0], 60)
    result = l1_against_l2(phi, y[0], 0.01)
    w, strength = result.lasso_weights, result.lasso_strength
    gradient = 2 * phi.T @ (y[0] - phi @ w)  # −∂‖y − Φw‖²/∂w
    active = w != 0
    assert np.allclose(gradient[active], strength * np.sign(w[active]), rtol=0.02, atol=0.02 * strength)
    assert np.all(np.abs(gradient[~active]) <= strength * 1.02)
    assert result.lasso_train_mse == pytest.approx(result.train_mse, rel=0.05)
    ridge_zeros, lasso_zeros = result.zeros
    assert lasso_zeros > 3 * max(ridge_zeros, 1)


def test_regularization_panels_stop_at_their_size_limit():
    result = regularization(Problem(family="relu", complexity=1000, alpha=0.01), 0.1)
    assert result.noisy is None and result.l1_l2 is None and len(result.eigenvalues) <= 40
    assert regularization(Problem(alpha=0.0), 0.1).l1_l2 is None  # least squares has no strength to match


def test_the_mlp_stops_early_where_its_validation_error_was_lowest():
    config = MlpConfig(n=30, validation=20, width=64)
    trainer = MlpTrainer(config, {"lr": 0.01, "max_steps": 800}, seed=1)
    history = train(trainer, 1000)
    assert len(history) == 800  # max_steps ends it
    validation = [m["validation_mse"] for m in history]
    test = [m["test_mse"] for m in history]
    visuals = trainer.observe()
    assert visuals.early_step == int(np.argmin(validation)) + 1
    assert visuals.early_test == pytest.approx(test[visuals.early_step - 1])
    assert visuals.best_test_step == int(np.argmin(test)) + 1 and visuals.best_test <= visuals.early_test
    x, y = training_sets("sine", 0.3, 30, 1, 1)  # the first training set of the closed-form views
    assert np.allclose(visuals.train_x, x[0], atol=1e-6) and np.allclose(visuals.train_y, y[0], atol=1e-6)
    assert not np.isin(visuals.validation_x, visuals.train_x).any()
    patient = MlpTrainer(config, {"lr": 0.01, "patience": 50, "max_steps": 5000}, seed=1)
    stopped = train(patient, 5000)
    best = int(np.argmin([m["validation_mse"] for m in stopped])) + 1
    assert len(stopped) == best + 50  # no lower validation error for 50 steps: done


def test_a_sweep_refits_at_most_fifty_sets_and_fewer_for_many_points():
    assert [sweep_refits(n, 100) for n in (5, 40, 60, 200)] == [50, 50, 22, 10]
    assert sweep_refits(40, 20) == 20 and sweep_refits(200, 5) == 5
