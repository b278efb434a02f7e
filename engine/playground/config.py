"""What defines a playground experiment: its configuration (data, features, layers, loss, optimizer), the
checks that refuse a combination that cannot train, and the live hyperparameters' defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.common.layers import ACTIVATIONS, INIT_SCHEMES
from engine.common.limits import LIMITS, check
from engine.common.optimizers import OPTIMIZERS
from engine.playground.data import Dataset, DataSpec

FEATURES = {
    "x1": lambda x1, x2: x1, "x2": lambda x1, x2: x2, "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2, "x1x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: torch.sin(x1), "sin_x2": lambda x1, x2: torch.sin(x2),
}
FEATURE_LABELS = {"x1": "x₁", "x2": "x₂", "x1_sq": "x₁²", "x2_sq": "x₂²", "x1x2": "x₁·x₂",
                  "sin_x1": "sin x₁", "sin_x2": "sin x₂"}
FEATURES_1D = ("x1", "x1_sq", "sin_x1")  # for 1-D function fitting, x2 does not exist
LOSSES = {"mse": "Mean squared error", "bce": "Binary cross-entropy", "ce": "Cross-entropy (softmax)"}
MAX_HIDDEN_LAYERS = int(LIMITS["playground.hidden_layers"].high)
MAX_WIDTH = int(LIMITS["playground.width"].high)


@dataclass(frozen=True)
class PlaygroundConfig:
    """What defines a playground experiment; changing any of it rebuilds the network."""

    data: DataSpec = field(default_factory=DataSpec)
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activations: tuple[str, ...] = ("tanh", "tanh")  # one per hidden layer
    init: str = "xavier_normal"
    batch_norm: bool = False
    dropout: float = 0.0
    loss: str = "bce"
    optimizer: str = "sgd"

    def validate(self, dataset: Dataset) -> None:
        """Raise ValueError with a message a student can act on."""
        if not self.features:
            raise ValueError("Select at least one input feature.")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"Unknown input features: {', '.join(sorted(unknown))}.")
        if dataset.input_dim == 1 and set(self.features) - set(FEATURES_1D):
            raise ValueError("1-D function fitting has only x₁: use the features x₁, x₁², sin x₁.")
        check("playground.hidden_layers", len(self.hidden))
        for width in self.hidden:
            check("playground.width", width)
        if len(self.activations) != len(self.hidden):
            raise ValueError("Give one activation per hidden layer.")
        for name in self.activations:
            if name not in ACTIVATIONS:
                raise ValueError(f"Unknown activation {name!r}.")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"Unknown weight init {self.init!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("Dropout must be in [0, 1).")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}.")
        if self.loss not in LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}.")
        if self.optimizer == "perceptron":
            if self.hidden:
                raise ValueError("The perceptron rule trains a single layer: set the hidden layers to 0.")
            if dataset.task != "binary":
                raise ValueError("The perceptron rule is a two-class classifier: pick a two-class data set.")
        elif "step" in self.activations:
            raise ValueError("The step function has zero gradient almost everywhere, so backpropagation cannot "
                             "train through it. Use the perceptron rule (no hidden layers) or another activation.")
        if dataset.task == "regression" and self.loss != "mse":
            raise ValueError("Regression targets are real numbers: use the mean squared error loss.")


def parameter_counts(config: PlaygroundConfig, n_outputs: int) -> list[tuple[str, int, str]]:
    """(layer, count, formula) for each layer: n_in·n_out weights + n_out biases (+ 2·n_out for batch norm)."""
    rows, n_in = [], len(config.features)
    widths = list(config.hidden) + [n_outputs]
    for index, n_out in enumerate(widths):
        is_hidden = index < len(config.hidden)
        bn = 2 * n_out if (config.batch_norm and is_hidden) else 0
        name = f"hidden {index + 1}" if is_hidden else "output"
        formula = f"{n_in}·{n_out} + {n_out}" + (f" + 2·{n_out}" if bn else "")
        rows.append((name, n_in * n_out + n_out + bn, formula))
        n_in = n_out
    return rows


def n_outputs(config: PlaygroundConfig, dataset: Dataset) -> int:
    if dataset.task == "multiclass" or (dataset.task == "binary" and config.loss == "ce"):
        return dataset.n_classes
    return 1


DEFAULT_HYPERPARAMETERS = {
    "lr": 0.03, "momentum": 0.9, "l1": 0.0, "l2": 0.0, "batch_size": 10, "clip_norm": None,
    "schedule": "constant", "schedule_gamma": 0.5, "schedule_period": 50.0, "schedule_power": 0.5,
    "patience": None,  # early stopping: epochs without a better test loss before stopping (None: off)
}
