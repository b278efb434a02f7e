"""What the VAE tab draws, as a typed frozen value of NumPy arrays (it pickles; no tensor of a live model is in
it), and the one way a latent space of any dimension is shown in two.

Images are (8, 8) pixel probabilities in [0, 1] (the mean of the Bernoulli p(x|z)); points are (n, 2) means of
p(x|z). Latent coordinates are those of the plane shown (`LatentPlane`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LatentPlane:
    """The plane a latent space is shown in: coordinates = z @ basis, and back: z = offset + coordinates @ basisᵀ.

    latent 2: the latent plane itself. latent > 2: the plane of the first two principal components of the codes
    (not centred on them: the VAE's plane goes through the origin, so the prior N(0, I) is N(0, I) in the shown
    coordinates too; the autoencoder's goes through its codes' mean, `offset` holding the part of that mean off
    the plane). latent 1: the line, drawn with a second coordinate of 0.
    """

    basis: torch.Tensor  # (latent, 2), orthonormal columns (latent 1: [[1, 0]])
    offset: torch.Tensor  # (latent,)
    projected: bool

    @classmethod
    def fit(cls, codes: torch.Tensor, through_mean: bool = False) -> LatentPlane:
        latent = codes.shape[1]
        if latent <= 2:
            basis = torch.eye(latent, 2, dtype=codes.dtype, device=codes.device)
            return cls(basis, torch.zeros(latent, dtype=codes.dtype, device=codes.device), False)
        mean = codes.mean(dim=0)
        _, _, vh = torch.linalg.svd(codes - mean, full_matrices=False)
        basis = vh[:2].T.contiguous()
        offset = mean - basis @ (basis.T @ mean) if through_mean else torch.zeros_like(mean)
        return cls(basis, offset, True)

    def coordinates(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.basis

    def lift(self, coordinates: torch.Tensor) -> torch.Tensor:
        return self.offset + coordinates @ self.basis.T

    def std(self, log_var: torch.Tensor) -> torch.Tensor:
        """The posterior's standard deviations along the two shown axes: the diagonal of Pᵀ diag(σ²) P. Exact
        for latent <= 2; above, the ellipse drawn is this axis-aligned one (the covariance of the projection
        also has an off-diagonal term, dropped)."""
        return ((self.basis.pow(2) * log_var.exp().unsqueeze(-1)).sum(dim=-2)).sqrt()


def grid(low: np.ndarray, high: np.ndarray, side: int) -> torch.Tensor:
    """(side², 2) points of a side × side grid: row i, column j is at (x_j, y_i), x and y ascending from `low` to
    `high` (per axis), so reshaping a result to (side, side, ...) puts y down the rows (flip them to draw y up)."""
    xs = torch.linspace(float(low[0]), float(high[0]), side)
    ys = torch.linspace(float(low[1]), float(high[1]), side)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


@dataclass(frozen=True)
class VaeVisuals:
    """The VAE (and its plain-autoencoder twin, when trained) as the page inspects it at one step."""

    data: str  # "digits" or a point set
    likelihood: str  # "bernoulli" (digits) or "gaussian" (points, std engine.generative.vae.POINT_SIGMA)
    latent: int
    projected: bool  # latent > 2: every latent picture is on the plane of the first two principal components
    latent_means: np.ndarray  # (n_test, 2) posterior means of the held-out examples, shown coordinates
    labels: np.ndarray | None  # (n_test,) held-out digits' classes; None for points
    ae_latent: np.ndarray | None  # (n_test, 2) the autoencoder's codes (its own plane); None without it
    example_a: int  # the chosen held-out example (its posterior is drawn) and the interpolation's other end
    example_b: int
    posterior_mean: np.ndarray  # (2,) of example_a, shown coordinates
    posterior_std: np.ndarray  # (2,) along the shown axes (see LatentPlane.std)
    example_recon: float  # example_a's reconstruction term (mean over samples of z), nats
    example_kl: float  # its KL term, nats
    manifold: np.ndarray  # digits (g, g, 8, 8); points (g·g, 2): decoded means over the grid (see `grid`)
    manifold_range: np.ndarray  # (2, 2): [[x_low, x_high], [y_low, y_high]] of that grid
    ae_manifold: np.ndarray | None  # the same through the autoencoder's decoder, over its codes' range
    ae_manifold_range: np.ndarray | None
    inputs: np.ndarray  # digits (10, 8, 8) the first held-out images; points (n_test, 2) all of them
    reconstructions: np.ndarray  # decoded means at their posterior means
    ae_reconstructions: np.ndarray | None
    prior_samples: np.ndarray  # decoded means at z ~ N(0, I): digits (64, 8, 8); points (500, 2)
    ae_prior_samples: np.ndarray | None  # the same z through the autoencoder's decoder
    interpolation: np.ndarray  # (10, 8, 8) or (10, 2): decoded along the segment from example_a's mean to b's
    interpolation_latent: np.ndarray  # (10, 2) that segment in shown coordinates
