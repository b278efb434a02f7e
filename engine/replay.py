"""A training run replayed from what a snapshot already holds, for the GIF export.

The Playground's job records the network's weights along training (a bounded, evenly spaced
`WeightTrajectory`); loading each recorded vector back into a copy of the network and evaluating
it on the page's grid gives the decision surface at that step, without touching the live model.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from engine.playground import PlaygroundConfig, PlaygroundNet, class_scores, n_outputs
from engine.playground_data import Dataset


def frame_indices(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` evenly spaced indices into n items, the first and the last always kept."""
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_frames).round().astype(int))


@torch.no_grad()
def playground_surfaces(config: PlaygroundConfig, dataset: Dataset, state: Mapping[str, torch.Tensor],
                        trajectory: tuple[Sequence[int], Sequence[np.ndarray]], grid_x1: np.ndarray,
                        grid_x2: np.ndarray | None, max_frames: int = 48) -> tuple[list[int], list[np.ndarray]]:
    """(steps, surfaces): the network's output on the grid at up to `max_frames` recorded steps,
    in the same form as the job's own `surface` visual (P(class 1), class probabilities, or values).

    The trajectory holds the trainable parameters only; batch norm's running statistics are the
    current ones throughout, so a batch-norm network's early frames are approximate.
    """
    steps, vectors = trajectory
    model = PlaygroundNet(config, n_outputs(config, dataset), torch.Generator())
    model.load_state_dict(state)
    model.eval()
    if grid_x2 is None:
        points = torch.from_numpy(np.asarray(grid_x1, dtype=np.float32)[:, None])
    else:
        mesh1, mesh2 = np.meshgrid(grid_x1, grid_x2)  # rows follow x2, columns x1, as the job's grid
        points = torch.from_numpy(np.c_[mesh1.ravel(), mesh2.ravel()].astype(np.float32))
    parameters = list(model.parameters())
    shown_steps, surfaces = [], []
    for index in frame_indices(len(steps), max_frames):
        torch.nn.utils.vector_to_parameters(torch.from_numpy(np.array(vectors[index], dtype=np.float32)), parameters)
        output = model(points)
        if config.optimizer == "perceptron":  # the perceptron's hard decision, as the job draws it
            surface = (output[:, 0] > 0).float()
        elif dataset.task == "regression":
            surface = output[:, 0]
        else:
            surface = class_scores(output)
        surface = surface.numpy()
        if grid_x2 is not None:
            surface = surface.reshape(len(grid_x2), len(grid_x1), *surface.shape[1:])
        shown_steps.append(int(steps[index]))
        surfaces.append(surface)
    return shown_steps, surfaces
