"""One picture of the landscape: the surface (or line) a request asks for around the current weights,
with the training path on a PCA plane."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from engine.common.limits import check, check_choice
from engine.landscape.directions import NORMALIZATIONS, random_direction, stacked_trajectory, trajectory_pca
from engine.landscape.losses import Progress, loss_at, loss_in_plane, loss_surface
from engine.landscape.network import PlaygroundLandscape
from engine.landscape.presets import DIRECTIONS, LINE_KINDS


@dataclass(frozen=True)
class LandscapeRequest:
    """One picture's settings: plain data, so it can key a cache."""

    directions: str = "filter"
    seed: int = 0
    span: float = 1.0  # ± grid half-width; for PCA in units of the trajectory's extent, for lines beyond 0 and 1
    resolution: int = 51
    one_dimensional: bool = False
    which: tuple[str, ...] = ("train",)

    def __post_init__(self) -> None:
        check_choice("direction kind", self.directions, DIRECTIONS)
        check("landscape.resolution", self.resolution)
        check("landscape.span", self.span)


@dataclass(frozen=True)
class PathOnPlane:
    """The recorded trajectory against the PCA plane it is drawn on."""

    steps: np.ndarray
    coordinates: np.ndarray  # (k, 2)
    true_loss: dict[str, np.ndarray]  # at the recorded weights
    plane_loss: dict[str, np.ndarray]  # at their projections onto the plane
    off_plane: np.ndarray  # distance from the plane


@dataclass(frozen=True)
class LandscapeView:
    alphas: np.ndarray
    betas: np.ndarray | None  # None for a line
    losses: dict[str, np.ndarray]  # (len(betas), len(alphas)) or (len(alphas),)
    axis_titles: tuple[str, str]
    marks: dict[str, float]  # points on a line worth labelling: {"current": 1.0, ...}
    path: PathOnPlane | None = None
    explained: np.ndarray | None = None
    seconds: float = 0.0


class NeedsTraining(ValueError):
    """The directions need a trajectory (or a pinned network) that is not there yet."""


def compute_view(land: PlaygroundLandscape, request: LandscapeRequest,
                 trajectory: tuple[Sequence[int], Sequence[np.ndarray]], current_step: int,
                 pinned: np.ndarray | None = None, progress: Progress | None = None) -> LandscapeView:
    """The surface (or line) that `request` asks for, around the network's current weights."""
    started = time.perf_counter()
    origin = land.weights
    current = origin.double().cpu().numpy()
    steps, vectors = stacked_trajectory(*trajectory, current, current_step)
    evaluator = land.evaluator(request.which)
    grid = np.linspace(-request.span, request.span, request.resolution)
    if request.directions in LINE_KINDS:
        start = vectors[0] if request.directions == "initial" else pinned
        if start is None:
            raise NeedsTraining("Pin a network first: press “Pin current weights”, train on, then compare.")
        if start.shape != current.shape:
            raise NeedsTraining("The pinned network has another architecture; pin the current one again.")
        if not np.any(start != current):
            raise NeedsTraining("The two weight vectors are the same: train a few steps first.")
        start_tensor = land.space.from_numpy(start)
        # about `resolution` points over [-span/2, 1 + span/2], with both ends of the segment on the grid
        per_unit = max(2, round((request.resolution - 1) / (1 + request.span)))
        beyond = round(request.span / 2 * per_unit)
        alphas = np.arange(-beyond, per_unit + beyond + 1) / per_unit
        losses = loss_surface(evaluator, start_tensor, [origin - start_tensor], alphas, progress=progress)
        name = "initial" if request.directions == "initial" else "pinned"
        return LandscapeView(alphas, None, losses, ("α: (1 − α)·start + α·current", "loss"),
                             {name: 0.0, "current": 1.0}, seconds=time.perf_counter() - started)
    path = explained = None
    if request.directions == "pca":
        if len(steps) < 3:
            raise NeedsTraining("PCA needs a training trajectory: train a few steps first.")
        plane = trajectory_pca(vectors, current)
        directions = [land.space.from_numpy(row) for row in plane.directions]
        extent = float(np.abs(plane.coordinates).max()) or 1e-3
        grid = grid * extent * 1.1
        explained = plane.explained
        titles = tuple(f"PC{i + 1} ({share:.1%} of the path)" for i, share in enumerate(explained))
        path = PathOnPlane(steps, plane.coordinates, loss_at(evaluator, vectors),
                           loss_in_plane(evaluator, origin, directions, plane.coordinates), plane.off_plane)
    else:
        generator = torch.Generator().manual_seed(request.seed)
        directions = [random_direction(land.model, request.directions, generator) for _ in range(2)]
        titles = (f"α · d₁ ({NORMALIZATIONS[request.directions]})", f"β · d₂ ({NORMALIZATIONS[request.directions]})")
    if request.one_dimensional:
        losses = loss_surface(evaluator, origin, directions[:1], grid, progress=progress)
        return LandscapeView(grid, None, losses, (titles[0], "loss"), {"current": 0.0}, path, explained,
                             time.perf_counter() - started)
    losses = loss_surface(evaluator, origin, directions, grid, grid, progress=progress)
    return LandscapeView(grid, grid, losses, titles, {"current": 0.0}, path, explained,
                         time.perf_counter() - started)
