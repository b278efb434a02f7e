"""Least squares on features, refit on many training sets at once, at many model sizes at once.

Every fit goes through the N×N kernel K = ΦΦᵀ of the training inputs (Φ: N × p, features scaled by 1/√p):
the minimum-norm least-squares predictor is φ(x)ᵀΦᵀK⁺y (Φ⁺ = ΦᵀK⁺ holds for every Φ), and ridge with strength α
is φ(x)ᵀΦᵀ(K + αI)⁻¹y. The features are nested (a bigger model adds columns), so a sweep grows K by the new
columns only, and one batched eigendecomposition per size answers every refit and every ridge strength. Below
N features the p×p matrix ΦᵀΦ (the same nonzero eigenvalues) is the smaller one to decompose, and is used
instead. Numerical rank: an eigenvalue counts when it is above RANK_TOLERANCE² times the largest (a singular
value of Φ above RANK_TOLERANCE times the largest); the pseudo-inverse drops the others, so the training error
reaches ~0 exactly when the rank reaches N.

BLAS runs on one thread here: these are thousands of small (N×N) decompositions, which one thread does ten
times faster than two threads contending with the web server and the training jobs. The refits are split
instead: two chunks fitted on two threads at once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from engine.generalization.features import Features

RANK_TOLERANCE = 1e-6  # relative to the largest singular value of Φ
CHUNK_ELEMENTS = 8_000_000  # refits are fitted in chunks whose feature matrices hold at most this many numbers
FIT_THREADS = min(2, os.cpu_count() or 1)  # a sweep is the page's answer to a click: two cores answer it sooner


@dataclass(frozen=True)
class Fits:
    """Every refit at every model size and ridge strength: predictions at the test inputs, training error and
    the features' numerical rank on each training set."""

    complexities: np.ndarray  # (C,) degrees or widths, ascending
    alphas: tuple[float, ...]  # (A,) ridge strengths; 0 is minimum-norm least squares
    test_predictions: np.ndarray  # (A, R, C, T)
    train_mse: np.ndarray  # (A, R, C)
    ranks: np.ndarray  # (R, C)


def spectrum(kernels: np.ndarray, y: np.ndarray, alphas=(0.0,)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For kernels (R, N, N) and labels (R, N): per ridge strength the dual coefficients c = K⁺y (α = 0) or
    (K + αI)⁻¹y and the fitted training values Kc, both (A, R, N); and each kernel's numerical rank (R,)."""
    eigenvalues, vectors = np.linalg.eigh(kernels)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    kept = eigenvalues > RANK_TOLERANCE**2 * eigenvalues[:, -1:]
    projected = np.einsum("rnk,rn->rk", vectors, y)
    coefficients, fitted = [], []
    for alpha in alphas:
        if alpha > 0:
            inverse = 1.0 / (eigenvalues + alpha)
        else:
            inverse = np.where(kept, 1.0 / np.where(kept, eigenvalues, 1.0), 0.0)
        coefficients.append(np.einsum("rnk,rk->rn", vectors, inverse * projected))
        fitted.append(np.einsum("rnk,rk->rn", vectors, eigenvalues * inverse * projected))
    return np.stack(coefficients), np.stack(fitted), kept.sum(axis=1)


def fit(features: Features, complexities, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
        alphas=(0.0,)) -> Fits:
    """Fit every training set (rows of x_train, y_train) at every complexity (ascending degrees or widths) and
    every ridge strength in `alphas`."""
    complexities = np.asarray(complexities, dtype=int)
    if np.any(np.diff(complexities) <= 0):
        raise ValueError("complexities must be ascending")
    alphas = tuple(float(alpha) for alpha in alphas)
    counts = [features.count(int(c)) for c in complexities]
    refits, n = x_train.shape
    test_features = features.matrix(x_test, counts[-1], scale_for=1)  # unscaled: each size divides by its p
    predictions = np.empty((len(alphas), refits, len(counts), len(x_test)))
    train_mse = np.empty((len(alphas), refits, len(counts)))
    ranks = np.empty((refits, len(counts)), dtype=int)

    def fit_rows(rows: slice) -> None:
        phi = features.matrix(x_train[rows], counts[-1], scale_for=1)
        gram = np.zeros((phi.shape[0], n, n))
        done = 0
        for c, p in enumerate(counts):
            block = phi[:, :, done:p]
            gram += block @ block.transpose(0, 2, 1)
            done = p
            if p < n:  # fewer features than points: the p×p system ΦᵀΦ w = Φᵀy is the smaller one
                scaled = phi[:, :, :p] / np.sqrt(p)
                w, _, ranks[rows, c] = spectrum(scaled.transpose(0, 2, 1) @ scaled,
                                                np.einsum("rnp,rn->rp", scaled, y_train[rows]), alphas)
                fitted = np.einsum("rnp,arp->arn", scaled, w)
                predictions[:, rows, c] = w @ test_features[:, :p].T / np.sqrt(p)
            else:
                coefficients, fitted, ranks[rows, c] = spectrum(gram / p, y_train[rows], alphas)
                # Φᵀc per refit (the weights times √p), then the predictions φ(x)ᵀw at the test inputs
                scaled_weights = (coefficients[:, :, None, :] @ phi[None, :, :, :p])[:, :, 0]
                predictions[:, rows, c] = scaled_weights @ test_features[:, :p].T / p
            train_mse[:, rows, c] = np.mean((fitted - y_train[rows]) ** 2, axis=2)

    # Chunks of refits on FIT_THREADS threads: NumPy's batched eigh and products release the GIL, and each chunk
    # writes its own rows of the results.
    chunk = max(1, min(CHUNK_ELEMENTS // (n * counts[-1]), -(-refits // FIT_THREADS)))
    with threadpool_limits(1), ThreadPoolExecutor(FIT_THREADS) as pool:
        list(pool.map(fit_rows, [slice(start, start + chunk) for start in range(0, refits, chunk)]))
    return Fits(complexities, alphas, predictions, train_mse, ranks)


def weights(features: Features, complexity: int, x: np.ndarray, y: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    """One training set's fitted weights w on the scaled features: minimum-norm least squares, or ridge."""
    phi = features.matrix(x, features.count(complexity))
    with threadpool_limits(1):
        coefficients, _, _ = spectrum((phi @ phi.T)[None], y[None], (alpha,))
    return phi.T @ coefficients[0, 0]


def interpolation_thresholds(fits: Fits, n: int) -> np.ndarray:
    """Per refit, the smallest complexity whose features reach numerical rank n (inf where none does)."""
    reached = fits.ranks >= n
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(axis=1), fits.complexities[first].astype(float), np.inf)
