"""Directions in the flat space of a network's trainable parameters, in `model.parameters()` order (the
order `WeightTrajectory` records): random Gaussian directions, filter-, layer- or not normalized, with the
entries of biases and batch-norm parameters (every parameter with at most one dimension) left out (zero), as
in Li et al.; and the plane that best fits a training trajectory (PCA)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

NORMALIZATIONS = {"filter": "filter-normalized", "layer": "layer-normalized", "none": "not normalized"}


def onto(tensor: torch.Tensor, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Cast on the CPU first, then move: Apple's MPS has no float64 to arrive in."""
    return tensor.to(dtype).to(device)


class ParameterSpace:
    """A model's trainable parameters as one flat vector, and back."""

    def __init__(self, model: nn.Module):
        named = list(model.named_parameters())
        self.names = [name for name, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.size = int(self.offsets[-1])
        self.device = named[0][1].device
        self.dtype = named[0][1].dtype
        self.buffers = {name: b.detach() for name, b in model.named_buffers()}

    def flatten(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.detach().reshape(-1) for t in tensors]).to(self.device, self.dtype)

    def current(self, model: nn.Module) -> torch.Tensor:
        """A flat copy of the model's weights now."""
        return self.flatten(list(model.parameters()))

    def slice(self, name: str) -> slice:
        index = self.names.index(name)
        return slice(self.offsets[index], self.offsets[index + 1])

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of `flat` (n,) or (k, n) shaped as the parameters, with the leading k kept."""
        lead = flat.shape[:-1]
        return {name: flat[..., start:stop].reshape(*lead, *shape)
                for name, shape, start, stop in zip(self.names, self.shapes, self.offsets, self.offsets[1:])}

    def from_numpy(self, vector: np.ndarray) -> torch.Tensor:
        if vector.shape != (self.size,):
            raise ValueError(f"a weight vector of this network has {self.size} entries, not {vector.shape}")
        return torch.as_tensor(np.asarray(vector), dtype=self.dtype).to(self.device)


# ----------------------------------------------------------------------------- directions
def random_direction(model: nn.Module, normalization: str = "filter",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """A Gaussian direction scaled to the weights, flat, on the model's device.

    filter: each filter (row of a linear layer's weight: everything feeding one
            unit) gets the norm of the matching weight filter (Li et al.);
    layer:  each weight tensor gets the norm of the whole weight tensor;
    none:   the raw Gaussian.
    Biases and batch-norm parameters (tensors with at most one dimension) are
    zero, so the picture does not depend on their scale.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}")
    pieces = []
    for weight in model.parameters():
        weight = weight.detach()
        # Drawn on the CPU so a seed gives the same direction on every device.
        direction = torch.randn(weight.shape, generator=generator, dtype=torch.float64)
        direction = onto(direction, weight.device, weight.dtype)
        if weight.dim() <= 1:
            direction.zero_()
        elif normalization == "filter":
            rows, filters = direction.reshape(len(direction), -1), weight.reshape(len(weight), -1)
            rows.mul_(filters.norm(dim=1, keepdim=True) / (rows.norm(dim=1, keepdim=True) + 1e-10))
        elif normalization == "layer":
            direction.mul_(weight.norm() / (direction.norm() + 1e-10))
        pieces.append(direction.reshape(-1))
    return torch.cat(pieces)


@dataclass(frozen=True)
class TrajectoryPlane:
    """The plane through the current weights that best fits the training trajectory."""

    directions: np.ndarray  # (2, n) orthonormal rows
    explained: np.ndarray  # (2,) share of the trajectory's squared distance from the origin along each
    coordinates: np.ndarray  # (k, 2) each recorded weight vector projected onto the plane
    off_plane: np.ndarray  # (k,) distance of each recorded weight vector from the plane


def trajectory_pca(vectors: np.ndarray, origin: np.ndarray) -> TrajectoryPlane:
    """Principal directions of the trajectory's displacements from `origin` (the current weights).

    Li et al. fit the PCA to θᵢ − θ_final as well. The displacements are not
    mean-centred: the plane has to pass through the current weights (that is
    where the surface is drawn), and among such planes the leading right
    singular vectors of the displacement matrix are the least-squares best fit,
    i.e. they leave the smallest off-plane error. Signs are fixed so the start
    of training lies at negative coordinates, which keeps the picture from
    flipping as training goes on.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    origin = np.asarray(origin, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != origin.shape[0]:
        raise ValueError("vectors must be (k, n) with n the length of origin")
    n = origin.shape[0]
    if n < 2:
        raise ValueError("a plane needs at least two parameters")
    deltas = vectors - origin
    _, singular, vt = np.linalg.svd(deltas, full_matrices=False)
    total = float(np.sum(singular**2))
    scale = max(float(singular[0]) if len(singular) else 0.0, 1e-300)
    basis = [vt[i] for i in range(min(2, len(singular))) if singular[i] > 1e-9 * scale and total > 0]
    for axis in range(n):  # a trajectory of fewer than two independent moves: complete the plane
        if len(basis) == 2:
            break
        candidate = np.zeros(n)
        candidate[axis] = 1.0
        for b in basis:
            candidate -= (candidate @ b) * b
        if np.linalg.norm(candidate) > 1e-6:
            basis.append(candidate / np.linalg.norm(candidate))
    directions = np.stack(basis)
    start = deltas[0] if len(deltas) else np.zeros(n)
    for row in directions:
        if row @ start > 0 or (row @ start == 0 and row[np.argmax(np.abs(row))] < 0):
            row *= -1.0
    coordinates = deltas @ directions.T
    explained = np.sum(coordinates**2, axis=0) / total if total > 0 else np.zeros(2)
    off_plane = np.linalg.norm(deltas - coordinates @ directions, axis=1)
    return TrajectoryPlane(directions, explained, coordinates, off_plane)


def stacked_trajectory(steps: Sequence[int], vectors: Sequence[np.ndarray] | np.ndarray, current: np.ndarray,
                       current_step: int) -> tuple[np.ndarray, np.ndarray]:
    """The recorded trajectory as ((k,) steps, (k, n) vectors), ending at the current weights."""
    steps = np.asarray(steps, dtype=np.int64)
    current = np.asarray(current, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float64).reshape(len(steps), len(current))
    if len(steps) and steps[-1] == current_step:
        vectors = vectors.copy()
        vectors[-1] = current
        return steps, vectors
    return np.r_[steps, current_step], np.vstack([vectors, current])
