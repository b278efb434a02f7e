"""Three faces of regularization on one training set and one feature model (Φ: N × p, scaled features):

- ridge's shrinkage: with ΦᵀΦ = V diag(λ_i) Vᵀ, ridge keeps the component of the least-squares fit along each
  eigendirection v_i times λ_i / (λ_i + α): directions the data pins down (large λ_i) survive, the others go;
- input noise is L2: least squares on inputs with Gaussian noise of variance s² added to each (here the features
  the last, linear layer sees) minimizes, in expectation, ‖y − Φw‖² + N s²‖w‖² — ridge with α = N s² (Bishop,
  1995). Fitting on many noisy copies shows it;
- L1 against L2 at the same training error: the lasso sets weights exactly to zero, ridge only shrinks them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lasso_path
from threadpoolctl import threadpool_limits

PANEL_FEATURES = 200  # the noisy-input and lasso panels fit models of at most this many features
COPIES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # the noisy-input fit after each of these many copies
COPIES_BUDGET = 4e8  # copies × N × p² multiply-adds


def shrinkage_factors(phi: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero eigenvalues λ_i of ΦᵀΦ (descending) and λ_i / (λ_i + α) for each α: shape (len λ, len α)."""
    singular = np.linalg.svd(phi, compute_uv=False)
    eigenvalues = singular[singular > 1e-6 * singular[0]] ** 2
    return eigenvalues, eigenvalues[:, None] / (eigenvalues[:, None] + np.asarray(alphas)[None, :])


def ridge_weights(phi: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """argmin ‖y − Φw‖² + α‖w‖², solved in whichever of the p×p or N×N systems is smaller."""
    n, p = phi.shape
    if p <= n:
        return np.linalg.solve(phi.T @ phi + alpha * np.eye(p), phi.T @ y)
    return phi.T @ np.linalg.solve(phi @ phi.T + alpha * np.eye(n), y)


@dataclass(frozen=True)
class NoisyInputs:
    """Least squares on M noisy copies of the inputs, for growing M, beside ridge with the equivalent α = N s²."""

    noise_std: float
    alpha: float
    copies: np.ndarray  # (K,) M after which the fit was solved
    noisy_weights: np.ndarray  # (K, p) the fit on the first M copies
    ridge_weights: np.ndarray  # (p,)

    @property
    def relative_differences(self) -> np.ndarray:
        """‖w_noisy − w_ridge‖ / ‖w_ridge‖ after each M: it falls like 1/√M."""
        return np.linalg.norm(self.noisy_weights - self.ridge_weights, axis=1) / np.linalg.norm(self.ridge_weights)


def noisy_inputs(phi: np.ndarray, y: np.ndarray, noise_std: float, rng: np.random.Generator) -> NoisyInputs:
    """Least squares on (Φ + E_m, y) for m = 1..M, each E_m Gaussian with standard deviation s per entry: the
    normal equations summed copy by copy and solved after each of COPIES (as many as the budget allows)."""
    n, p = phi.shape
    most = max(10, min(COPIES[-1], int(COPIES_BUDGET / (n * p * p))))
    shown = np.array([m for m in COPIES if m <= most])
    gram, moment = np.zeros((p, p)), np.zeros(p)
    solved = []
    with threadpool_limits(1):
        for m in range(1, shown[-1] + 1):
            noisy = phi + noise_std * rng.standard_normal((n, p))
            gram += noisy.T @ noisy
            moment += noisy.T @ y
            if m in shown:
                solved.append(np.linalg.lstsq(gram, moment, rcond=None)[0])
        alpha = n * noise_std**2
        return NoisyInputs(noise_std, alpha, shown, np.array(solved), ridge_weights(phi, y, alpha))


@dataclass(frozen=True)
class L1AgainstL2:
    """Ridge at α and the lasso whose strength gives (nearly) the same training error, on the same data."""

    ridge_weights: np.ndarray
    lasso_weights: np.ndarray
    lasso_strength: float  # λ in ‖y − Φw‖² + λ‖w‖₁
    train_mse: float  # ridge's
    lasso_train_mse: float

    @property
    def zeros(self) -> tuple[int, int]:
        """How many weights are exactly zero: ridge, lasso."""
        return int(np.sum(self.ridge_weights == 0)), int(np.sum(self.lasso_weights == 0))


def l1_against_l2(phi: np.ndarray, y: np.ndarray, alpha: float) -> L1AgainstL2:
    """The ridge fit at α, and along the lasso's path (scikit-learn's coordinate descent, warm-started from
    strength to strength) the fit whose training error is closest to ridge's."""
    with threadpool_limits(1):
        ridge = ridge_weights(phi, y, alpha)
        target = float(np.mean((phi @ ridge - y) ** 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            strengths, path, _ = lasso_path(phi, y, alphas=60, eps=1e-5, tol=1e-4, max_iter=5000)
    errors = np.mean((phi @ path - y[:, None]) ** 2, axis=0)
    best = int(np.argmin(np.abs(errors - target)))
    # scikit-learn minimizes ‖y − Φw‖² / (2N) + a‖w‖₁: the same fit as λ = 2N·a in this module's form
    return L1AgainstL2(ridge, path[:, best], float(2 * len(y) * strengths[best]), target, float(errors[best]))
