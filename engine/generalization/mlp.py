"""A small MLP fitted live to one training set of the page's data, with early stopping on a validation split.

The network trains on the page's N training points (full batch, Adam, optional L2 penalty λ·Σw² in the
loss); the validation points are drawn in addition, from the same distribution (so the training set is the one
the other views fit, and a small validation set's noise can be seen for what it is). Every step measures the
training, validation and test error; early stopping picks the step with the lowest validation error, and the
test set is only read to say how that choice did. Picking the step by the test error instead shows the
optimism of tuning on the test set: its minimum is never above the test error at the validation's choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.common.layers import make_activation
from engine.common.seeding import stream
from engine.generalization.bias_variance import held_out_labels
from engine.generalization.data import TRUE_FUNCTIONS, held_out_inputs, training_sets, true_function
from engine.runtime import Job, Trainer

ACTIVATIONS = ("tanh", "relu")
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"lr": 0.01, "weight_decay": 0.0, "patience": None, "max_steps": 5000}


@dataclass(frozen=True)
class MlpConfig:
    """What the network and its data are; changing any of it starts again."""

    function: str = "sine"
    sigma: float = 0.3
    n: int = 40
    validation: int = 40  # validation points, drawn in addition to the n training points
    width: int = 128
    depth: int = 2
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.function not in TRUE_FUNCTIONS:
            raise ValueError(f"unknown true function {self.function!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose tanh or relu")
        if self.n < 2 or self.validation < 1:
            raise ValueError(f"{self.n} training and {self.validation} validation points: at least 2 and 1")


@dataclass(frozen=True)
class MlpVisuals:
    grid: np.ndarray  # (T,) the test inputs
    truth: np.ndarray
    fit: np.ndarray  # the network now
    early_fit: np.ndarray  # the network at the step early stopping picks (the validation minimum)
    train_x: np.ndarray
    train_y: np.ndarray
    validation_x: np.ndarray
    validation_y: np.ndarray
    early_step: int  # steps trained when the validation error was lowest (0: at initialization)
    early_test: float  # the test error there
    best_test_step: int  # where the test error itself was lowest
    best_test: float
    state: dict[str, torch.Tensor]  # the network's weights now, on the CPU (the Export panel's file)


class MlpTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        c: MlpConfig = self.config
        x, y = training_sets(c.function, c.sigma, c.n, 1, self.seed)
        validation_x, validation_y = training_sets(c.function, c.sigma, c.validation, 1, self.seed, "validation")
        self.grid = held_out_inputs()
        self.truth = true_function(c.function, self.grid)
        labels = held_out_labels(self.truth, c.sigma, 1, self.seed)[0]
        tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)[:, None]  # noqa: E731
        self.train_x, self.train_y = tensor(x[0]), tensor(y[0])
        self.validation_x, self.validation_y = tensor(validation_x[0]), tensor(validation_y[0])
        self.test_x, self.test_y = tensor(self.grid), tensor(labels)
        layers: list[nn.Module] = []
        for i in range(c.depth):
            layers += [nn.Linear(1 if i == 0 else c.width, c.width), make_activation(c.activation)]
        self.network = nn.Sequential(*layers, nn.Linear(c.width, 1))
        weights = stream(self.seed, "weights")
        with torch.no_grad():  # torch's default initialization, from this seed's own generator
            for layer in self.network:
                if isinstance(layer, nn.Linear):
                    bound = 1 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=weights)
                    layer.bias.uniform_(-bound, bound, generator=weights)
        self.network.to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=self.hp["lr"])
        self.early = self.best_test = (math.inf, 0)  # (error, step)
        self.early_test = math.nan
        self.early_fit = self._predict(self.test_x)
        self._since_improved = 0

    @property
    def epoch(self) -> float:
        return float(self.steps_done)  # full batch: every step is an epoch

    CHECKPOINTED = ("network", "optimizer", "early", "best_test", "early_test", "early_fit", "_since_improved")

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if "lr" in changes:
            for group in self.optimizer.param_groups:
                group["lr"] = float(changes["lr"])

    def train_step(self) -> dict[str, float]:
        self.network.train()
        loss = torch.mean((self.network(self.train_x) - self.train_y) ** 2)
        penalty = sum(p.pow(2).sum() for name, p in self.network.named_parameters() if name.endswith("weight"))
        self.optimizer.zero_grad(set_to_none=True)
        (loss + float(self.hp["weight_decay"]) * penalty).backward()
        self.optimizer.step()
        step = self.steps_done + 1
        with torch.no_grad():
            validation = float(torch.mean((self.network(self.validation_x) - self.validation_y) ** 2))
            test = float(torch.mean((self.network(self.test_x) - self.test_y) ** 2))
        self._since_improved += 1
        if validation < self.early[0]:
            self.early, self._since_improved = (validation, step), 0
            self.early_test = test
            self.early_fit = self._predict(self.test_x)
        if test < self.best_test[0]:
            self.best_test = (test, step)
        return {"loss": loss.item(), "validation_mse": validation, "test_mse": test}

    def on_epoch_end(self, epoch: int, mean_loss: float) -> str | None:
        patience = self.hp["patience"]
        if patience is not None and self._since_improved >= int(patience):
            return (f"Early stopping: no lower validation error for {int(patience)} steps; the lowest was at step "
                    f"{self.early[1]:,}.")
        if self.steps_done >= int(self.hp["max_steps"]):
            return f"Trained the {int(self.hp['max_steps']):,} steps set."
        return None

    @torch.no_grad()
    def _predict(self, x: torch.Tensor) -> np.ndarray:
        self.network.eval()
        return self.network(x)[:, 0].cpu().numpy().astype(np.float64)

    def observe(self) -> MlpVisuals:
        def flat(t: torch.Tensor) -> np.ndarray:
            return t[:, 0].cpu().numpy().astype(np.float64)

        return MlpVisuals(
            grid=self.grid, truth=self.truth, fit=self._predict(self.test_x), early_fit=self.early_fit,
            train_x=flat(self.train_x), train_y=flat(self.train_y), validation_x=flat(self.validation_x),
            validation_y=flat(self.validation_y), early_step=self.early[1],
            early_test=self.early_test, best_test_step=self.best_test[1],
            best_test=self.best_test[0],
            state={name: value.detach().cpu().clone() for name, value in self.network.state_dict().items()})


class MlpJob(Job):
    """The Generalization page's MLP, trained live."""

    trainer_type = MlpTrainer
    trainer: MlpTrainer

    def __init__(self, config: MlpConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or MlpConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
