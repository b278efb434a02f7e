"""The Playground's network as the landscape sees it: rebuilt from a snapshot, with its data and loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from engine.landscape.curvature import HessianSpectrum, hessian_eigenvalues
from engine.landscape.directions import ParameterSpace
from engine.landscape.losses import BatchedLoss, BatchedLossFn, batched_data_loss, batched_loss
from engine.playground.config import PlaygroundConfig
from engine.playground.data import Dataset
from engine.playground.model import PlaygroundNet, network_from_state


@dataclass
class PlaygroundLandscape:
    """Everything needed to draw the landscape of a playground network, rebuilt from a snapshot."""

    config: PlaygroundConfig
    dataset: Dataset
    model: PlaygroundNet
    data: dict[str, tuple[torch.Tensor, torch.Tensor]]
    loss_fn: BatchedLossFn
    space: ParameterSpace

    @classmethod
    def from_state(cls, config: PlaygroundConfig, state: Mapping[str, torch.Tensor], dataset: Dataset,
                   device: torch.device | str = "cpu") -> "PlaygroundLandscape":
        model = network_from_state(config, dataset, state, device)
        data = {"train": (torch.tensor(dataset.x_train, device=device), torch.tensor(dataset.y_train, device=device)),
                "test": (torch.tensor(dataset.x_test, device=device), torch.tensor(dataset.y_test, device=device))}
        return cls(config, dataset, model, data, batched_data_loss(config, dataset.task), ParameterSpace(model))

    @property
    def weights(self) -> torch.Tensor:
        return self.space.current(self.model)

    def evaluator(self, which: Sequence[str] = ("train", "test"), fused: bool = True) -> BatchedLoss:
        return batched_loss(self.model, self.loss_fn, {name: self.data[name] for name in which}, fused=fused)

    def hessian_eigenvalues(self, k: int = 3, method: str = "lanczos", seed: int = 0) -> HessianSpectrum:
        x, y = self.data["train"]
        return hessian_eigenvalues(self.model, self.loss_fn, x, y, k, method, seed)
