"""The expected test error of a model, split into bias², variance and noise, measured over refits.

A model refit on R fresh training sets gives R predictions f̂_r(x) at each test input x. With the true f and
the noise σ known, at each x:  E[(y − f̂(x))²] = (E f̂(x) − f(x))² + Var f̂(x) + σ²  (expectation over training
sets and the test label's noise), averaged over x uniform on [-1, 1] (the test grid's mean).

Estimators: the variance with R − 1 in the denominator, and bias² less variance/R (the squared error of a mean
of R draws overstates the squared bias by exactly that), so both are unbiased and their sum is the mean over
refits of ‖f̂_r − f‖²: the decomposition's standard error is that mean's. The measured test error compares it
against noisy labels at the test inputs, fresh noise for each refit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.generalization.data import generator


@dataclass(frozen=True)
class Decomposition:
    """bias² + variance + σ² at one model, and the test error measured beside it (means over test inputs)."""

    bias2: float
    variance: float
    noise: float  # σ²
    expected_error: float  # bias² + variance + σ²
    expected_error_se: float
    test_mse: float  # measured on noisy test labels
    test_mse_se: float
    gap_se: float  # |test_mse − expected_error| in standard errors of their (paired) difference
    refits: int
    mean_fit: np.ndarray  # (T,) E f̂(x)
    bias2_at: np.ndarray  # (T,)
    variance_at: np.ndarray  # (T,)


def held_out_labels(truth: np.ndarray, sigma: float, refits: int, seed: int) -> np.ndarray:
    """Noisy labels at the test inputs, fresh noise for each refit (refit r's noise is the same whatever R)."""
    noise = np.stack([generator(seed, f"test noise {r}").standard_normal(len(truth)) for r in range(refits)])
    return truth + sigma * noise


def decompose(predictions: np.ndarray, truth: np.ndarray, sigma: float, labels: np.ndarray) -> Decomposition:
    """predictions (R, T) of R refits at the test inputs, the true f there (T,), the noise σ, and noisy test
    labels (R, T) for the measured test error."""
    refits = len(predictions)
    if refits < 2:
        raise ValueError("the variance needs at least 2 refits")
    mean_fit = predictions.mean(axis=0)
    variance_at = predictions.var(axis=0, ddof=1)
    bias2_at = (mean_fit - truth) ** 2 - variance_at / refits
    per_refit_error = np.mean((predictions - truth) ** 2, axis=1)  # ‖f̂_r − f‖² over the test inputs
    per_refit_test = np.mean((labels - predictions) ** 2, axis=1)
    difference = per_refit_test - (per_refit_error + sigma**2)
    expected = float(per_refit_error.mean() + sigma**2)
    test = float(per_refit_test.mean())
    difference_se = float(difference.std(ddof=1) / np.sqrt(refits))
    return Decomposition(
        bias2=float(bias2_at.mean()), variance=float(variance_at.mean()), noise=sigma**2,
        expected_error=expected, expected_error_se=float(per_refit_error.std(ddof=1) / np.sqrt(refits)),
        test_mse=test, test_mse_se=float(per_refit_test.std(ddof=1) / np.sqrt(refits)),
        gap_se=abs(test - expected) / difference_se if difference_se > 0 else 0.0,
        refits=refits, mean_fit=mean_fit, bias2_at=bias2_at, variance_at=variance_at)
