"""What the CNN page draws, as typed frozen values of NumPy arrays (they pickle; no tensor of a live model is in
them). Images are (H, W) in [0, 1]; eps values are in grey levels of 16."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.cnn.invariance import LayerEquivariance


@dataclass(frozen=True)
class ShiftView:
    """The chosen example shifted by (dy, dx): what the CNN's maps and both networks' answers do."""

    dy: int
    dx: int
    circular: bool  # the equivariance check shifts circularly (the CNN pads circularly), else zeros come in
    shifted: np.ndarray  # the example moved (zeros coming in): what the class scores are measured on
    layers: tuple[LayerEquivariance, ...]  # measured on the held-out images
    map_of_shifted: np.ndarray  # (h, w) layer 1, the channel most active on the example: f(shift x)
    shifted_map: np.ndarray  # shift(f(x)) of that channel
    channel: int
    cnn_before: np.ndarray  # (classes,) probabilities of the example, then of it shifted
    cnn_after: np.ndarray
    mlp_before: np.ndarray
    mlp_after: np.ndarray
    cnn_change: float  # mean over held-out images of the total-variation distance between the two
    mlp_change: float
    cnn_accuracy: float  # held-out accuracy on the shifted images
    mlp_accuracy: float


@dataclass(frozen=True)
class AttackCurves:
    """Held-out accuracy against eps for each trained network, under one attack, measured at one step."""

    attack: str
    eps_grid: np.ndarray  # grey levels
    accuracy: tuple[tuple[str, np.ndarray], ...]  # ("CNN", ...), ("MLP", ...), ("CNN, adversarially trained", ...)
    step: int


@dataclass(frozen=True)
class AttackView:
    """The chosen example under the chosen attack, and what the CNN's gradient says about its pixels."""

    attack: str
    eps: float
    adversarial: np.ndarray  # (H, W)
    perturbation: np.ndarray  # adversarial − image, in grey levels
    probabilities: np.ndarray  # the CNN's on the adversarial image
    saliency: np.ndarray  # |∂L/∂x| of the CNN
    mlp_saliency: np.ndarray
    curves: AttackCurves | None  # None until measured (only while a page shows them: hp attack_curves)


@dataclass(frozen=True)
class CnnVisuals:
    classes: tuple[str, ...]
    cnn_parameters: int
    mlp_parameters: int
    mlp_hidden: int
    example: int
    image: np.ndarray  # (H, W)
    label: int
    cnn_probabilities: np.ndarray  # (classes,)
    mlp_probabilities: np.ndarray
    filters: np.ndarray  # (channels, k, k): the first conv layer's kernels
    feature_maps: tuple[np.ndarray, ...]  # per conv layer (channels, h, w): the example's activations
    confusion: np.ndarray  # (classes, classes) held-out counts by (true, predicted), the CNN's
    mistakes: np.ndarray  # (m, H, W) held-out images the CNN gets wrong (at most MISTAKES_SHOWN)
    mistake_labels: np.ndarray  # (m,) true
    mistake_predictions: np.ndarray  # (m,) predicted
    shift: ShiftView | None  # None unless a page shows it (hp shift_view)
    attack: AttackView
    state: dict[str, torch.Tensor]  # the CNN's state_dict (CPU copies): the weights export


def as_image(x: torch.Tensor) -> np.ndarray:
    """One (1, H, W) or (H, W) image tensor as a float32 (H, W) array."""
    return x.detach().reshape(x.shape[-2:]).float().cpu().numpy()
