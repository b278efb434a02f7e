"""A training run replayed from what a snapshot already holds, for the GIF export.

The Playground's trainer records the network's weights along training (a bounded, evenly spaced
`WeightTrajectory`); loading each recorded vector back into a copy of the network and evaluating
it on the page's grid gives the decision surface at that step, without touching the live model.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from engine.playground.config import PlaygroundConfig
from engine.common.history import frame_indices
from engine.playground.data import Dataset
from engine.playground.model import network_from_state, output_surface


@torch.no_grad()
def playground_surfaces(config: PlaygroundConfig, dataset: Dataset, state: Mapping[str, torch.Tensor],
                        trajectory: tuple[Sequence[int], Sequence[np.ndarray]], grid_x1: np.ndarray,
                        grid_x2: np.ndarray | None, max_frames: int = 48) -> tuple[list[int], list[np.ndarray]]:
    """(steps, surfaces): the network's output on the grid at up to `max_frames` recorded steps,
    in the same form as the trainer's own `surface` visual (P(class 1), class probabilities, or values).

    The trajectory holds the trainable parameters only; batch norm's running statistics are the
    current ones throughout, so a batch-norm network's early frames are approximate.
    """
    steps, vectors = trajectory
    model = network_from_state(config, dataset, state)
    if grid_x2 is None:
        points = torch.from_numpy(np.asarray(grid_x1, dtype=np.float32)[:, None])
    else:
        mesh1, mesh2 = np.meshgrid(grid_x1, grid_x2)  # rows follow x2, columns x1, as the trainer's grid
        points = torch.from_numpy(np.c_[mesh1.ravel(), mesh2.ravel()].astype(np.float32))
    parameters = list(model.parameters())
    shown_steps, surfaces = [], []
    for index in frame_indices(len(steps), max_frames):
        torch.nn.utils.vector_to_parameters(torch.from_numpy(np.array(vectors[index], dtype=np.float32)), parameters)
        surface = output_surface(model(points), dataset.task, config.optimizer == "perceptron").numpy()
        if grid_x2 is not None:
            surface = surface.reshape(len(grid_x2), len(grid_x1), *surface.shape[1:])
        shown_steps.append(int(steps[index]))
        surfaces.append(surface)
    return shown_steps, surfaces
