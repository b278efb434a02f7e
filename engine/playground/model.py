"""The playground's network (an MLP on chosen input features), its losses and what its output means:
class probabilities, the predicted class, the decision surface; the perceptron rule; and the one way to
rebuild a network from a snapshot's weights for analyses that must not touch the live model."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from engine.common.layers import init_linear_, make_activation
from engine.playground.config import FEATURES, PlaygroundConfig, n_outputs
from engine.playground.data import Dataset

class SeededDropout(nn.Module):
    """Dropout drawing its masks from the job's generator (torch's own uses the shared global RNG)."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator).to(x.device) >= self.p
        return x * keep / (1.0 - self.p)


class PlaygroundNet(nn.Module):
    def __init__(self, config: PlaygroundConfig, n_out: int, generator: torch.Generator):
        super().__init__()
        self.features = config.features
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.activations = nn.ModuleList()
        self.dropouts = nn.ModuleList()
        n_in = len(config.features)
        for width, activation in zip(config.hidden, config.activations):
            self.linears.append(nn.Linear(n_in, width))
            self.norms.append(nn.BatchNorm1d(width) if config.batch_norm else nn.Identity())
            self.activations.append(make_activation(activation))
            self.dropouts.append(SeededDropout(config.dropout, generator))
            n_in = width
        self.output = nn.Linear(n_in, n_out)
        for layer in [*self.linears, self.output]:
            init_linear_(layer, config.init, generator)

    def featurize(self, x: torch.Tensor) -> torch.Tensor:
        x1 = x[:, 0]
        x2 = x[:, 1] if x.shape[1] > 1 else torch.zeros_like(x1)
        return torch.stack([FEATURES[name](x1, x2) for name in self.features], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[-1]

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output: the features, each hidden layer after its activation, the output."""
        h = self.featurize(x)
        outputs = [h]
        for linear, norm, activation, dropout in zip(self.linears, self.norms, self.activations, self.dropouts):
            h = dropout(activation(norm(linear(h))))
            outputs.append(h)
        outputs.append(self.output(h))
        return outputs

    def weight_matrices(self) -> list[torch.nn.Parameter]:
        return [layer.weight for layer in [*self.linears, self.output]]


def data_loss(config: PlaygroundConfig, task: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The chosen loss between the network's raw output and the targets."""
    if task == "regression":
        return F.mse_loss(output[:, 0], target)
    if output.shape[1] == 1:  # binary with one logit
        if config.loss == "bce":
            return F.binary_cross_entropy_with_logits(output[:, 0], target.float())
        return F.mse_loss(torch.sigmoid(output[:, 0]), target.float())
    if config.loss == "ce":
        return F.cross_entropy(output, target)
    one_hot = F.one_hot(target, output.shape[1]).float()
    if config.loss == "bce":
        return F.binary_cross_entropy_with_logits(output, one_hot)
    return F.mse_loss(torch.softmax(output, dim=1), one_hot)


def class_scores(output: torch.Tensor) -> torch.Tensor:
    """P(class) per row: (n, 1) -> P(class 1); (n, k) -> softmax."""
    return torch.sigmoid(output[:, 0]) if output.shape[1] == 1 else torch.softmax(output, dim=1)


def predicted_class(output: torch.Tensor) -> torch.Tensor:
    return (output[:, 0] > 0).long() if output.shape[1] == 1 else output.argmax(dim=1)


def perceptron_update(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor, target: torch.Tensor,
                      lr: float) -> float:
    """Rosenblatt's rule on a batch: w += η Σ (y − ŷ) x, b += η Σ (y − ŷ) with ŷ = step(w·x + b).

    Returns the batch's error rate (which equals the squared error for 0/1 labels)."""
    predicted = (features @ weight[0] + bias[0] > 0).float()
    error = target.float() - predicted
    weight[0] += lr * (error[:, None] * features).sum(dim=0)
    bias[0] += lr * error.sum()
    return float((error != 0).float().mean())


def output_surface(output: torch.Tensor, task: str, perceptron: bool) -> torch.Tensor:
    """What the page draws of the network's raw output: the perceptron's hard decision, a regression's
    value, or P(class 1) (n,) / the class probabilities (n, k)."""
    if perceptron:
        return (output[:, 0] > 0).float()
    if task == "regression":
        return output[:, 0]
    return class_scores(output)


def network_from_state(config: PlaygroundConfig, dataset: Dataset, state: Mapping[str, torch.Tensor],
                       device: torch.device | str = "cpu") -> PlaygroundNet:
    """A copy of a published network, rebuilt from its state_dict, in eval mode (batch norm on its running
    statistics, no dropout) and with its parameters frozen: for analyses that must not touch the live model."""
    model = PlaygroundNet(config, n_outputs(config, dataset), torch.Generator())
    model.load_state_dict(state)
    model = model.to(device).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
