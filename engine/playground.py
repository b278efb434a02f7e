"""The network playground: a small MLP on 2-D (or 1-D) toy data, trained live."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.common.history import WeightTrajectory
from engine.runtime import Job, JobStatus
from engine.common.layers import ACTIVATIONS, INIT_SCHEMES, init_linear_, make_activation
from engine.common.limits import LIMITS, check
from engine.common.optimizers import OPTIMIZERS, make_optimizer
from engine.playground_data import Dataset, DataSpec, make_dataset
from engine.common.schedules import LearningRateSchedule

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
GRID_RESOLUTION, NEURON_GRID_RESOLUTION = 64, 24


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


# Activations that keep a network piecewise linear in its input (its output is then made of straight pieces).
PIECEWISE_LINEAR = ("linear", "relu", "leaky_relu")


def counts_linear_pieces(config: PlaygroundConfig, dataset: Dataset) -> bool:
    """Whether the output is a piecewise-linear function of one input x₁, so its straight pieces can be counted."""
    return dataset.input_dim == 1 and config.features == ("x1",) and set(config.activations) <= set(PIECEWISE_LINEAR)


def kinks_1d(model: PlaygroundNet, lo: float, hi: float) -> np.ndarray:
    """Where in (lo, hi) a piecewise-linear network of one input x₁ bends (eval mode), exactly.

    Layer by layer: on each interval where the layers so far are affine, a unit's pre-activation is affine
    too, so it changes sign at most once, at a root that linear interpolation finds exactly; the roots split
    the intervals. At the end a split where the output's slope is the same on both sides (a dead unit, or
    one whose outgoing weights cancel) is no bend. The network has len(kinks) + 1 linear pieces."""
    points = np.array([lo, hi], dtype=np.float64)
    for layer in range(len(model.linears)):
        pre = _pre_activations(model, points)[layer]  # (points, units)
        if isinstance(model.activations[layer], nn.Identity):
            continue
        left, right = pre[:-1], pre[1:]
        crossing = left * right < 0
        share = np.divide(left, left - right, out=np.zeros_like(left), where=crossing)
        roots = (points[:-1, None] + share * np.diff(points)[:, None])[crossing]
        points = np.unique(np.concatenate([points, roots]))
    output = _pre_activations(model, points)[-1]
    slopes = np.diff(output, axis=0) / np.diff(points)[:, None]  # (pieces, outputs)
    # Rounding leaves slope differences far below this where the output is straight (or flat).
    scale = max(float(np.abs(slopes).max()), (float(np.abs(output).max()) + 1.0) / (hi - lo))
    bends = np.abs(np.diff(slopes, axis=0)).max(axis=1) > 1e-7 * scale
    return points[1:-1][bends]


def _pre_activations(model: PlaygroundNet, x1: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's input to its activation, then the output, at inputs x1: float64 on the CPU, in
    eval mode (batch norm with its running statistics, no dropout), without touching the live model."""
    def double(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.detach().to("cpu", torch.float64)

    with torch.no_grad():
        h = model.featurize(torch.tensor(x1, dtype=torch.float64)[:, None])
        layers = []
        for linear, norm, activation in zip(model.linears, model.norms, model.activations):
            z = F.linear(h, double(linear.weight), double(linear.bias))
            if isinstance(norm, nn.BatchNorm1d):
                z = F.batch_norm(z, double(norm.running_mean), double(norm.running_var), double(norm.weight),
                                 double(norm.bias), training=False, eps=norm.eps)
            layers.append(z.numpy())
            h = activation(z)
        layers.append(F.linear(h, double(model.output.weight), double(model.output.bias)).numpy())
    return layers


DEFAULT_HYPERPARAMETERS = {
    "lr": 0.03, "momentum": 0.9, "l1": 0.0, "l2": 0.0, "batch_size": 10, "clip_norm": None,
    "schedule": "constant", "schedule_gamma": 0.5, "schedule_period": 50.0,
    "patience": None,  # early stopping: epochs without a better test loss before stopping (None: off)
}


class PlaygroundJob(Job):
    """Trains a PlaygroundNet live; snapshots carry the decision surface, neurons and weights."""

    def __init__(self, config: PlaygroundConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs):
        super().__init__(config or PlaygroundConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})},
                         **kwargs)

    # ---- setup
    def setup(self) -> None:
        config: PlaygroundConfig = self.config
        self.dataset = make_dataset(config.data)
        for array in (self.dataset.x_train, self.dataset.y_train, self.dataset.x_test, self.dataset.y_test):
            array.setflags(write=False)
        config.validate(self.dataset)
        device = self.device
        ds = self.dataset
        self.x_train, self.y_train = torch.tensor(ds.x_train, device=device), torch.tensor(ds.y_train, device=device)
        self.x_test, self.y_test = torch.tensor(ds.x_test, device=device), torch.tensor(ds.y_test, device=device)
        self.n_out = n_outputs(config, ds)
        self.model = PlaygroundNet(config, self.n_out, self.rng).to(device)
        self.optimizer = make_optimizer(self.config.optimizer, self.model.parameters(), self.hp)
        self.schedule = LearningRateSchedule()
        self._order = torch.randperm(len(self.x_train), generator=self.rng).to(device)
        self._cursor, self._samples_seen = 0, 0
        self._grid = self._make_grids()
        self.trajectory = WeightTrajectory()
        self.trajectory.maybe_record(0, self.flat_weights)
        self._best: tuple[float, int, dict[str, torch.Tensor]] | None = None  # test loss, epoch, weights
        self._best_checked_at = 0  # the epoch from which the patience counts

    def flat_weights(self) -> np.ndarray:
        """All trainable parameters as one float64 vector, in `model.parameters()` order."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).double().cpu().numpy()

    def _make_grids(self) -> dict[str, Any]:
        x1_min, x1_max, x2_min, x2_max = self.dataset.extent
        grids = {}
        for name, resolution in (("output", GRID_RESOLUTION), ("neurons", NEURON_GRID_RESOLUTION)):
            g1 = np.linspace(x1_min, x1_max, resolution, dtype=np.float32)
            if self.dataset.input_dim == 1:
                points = g1[:, None]
                grids[name] = (g1, None, torch.from_numpy(points).to(self.device))
                continue
            g2 = np.linspace(x2_min, x2_max, resolution, dtype=np.float32)
            mesh1, mesh2 = np.meshgrid(g1, g2)  # rows follow x2, columns x1
            points = np.c_[mesh1.ravel(), mesh2.ravel()]
            grids[name] = (g1, g2, torch.from_numpy(points).to(self.device))
        return grids

    # ---- live hyperparameters
    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if "batch_size" in changes:
            size = int(changes["batch_size"])
            if not 1 <= size <= 1024:
                raise ValueError("the batch size must be between 1 and 1024")
            if self.config.batch_norm and size < 2:
                raise ValueError("batch norm needs a batch of at least 2")
        if {"schedule", "schedule_gamma", "schedule_period"} & changes.keys():
            merged = {**self.hp, **changes}
            self.schedule = LearningRateSchedule(merged["schedule"], float(merged["schedule_gamma"]),
                                                 float(merged["schedule_period"]))
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                if "momentum" in changes and "momentum" in group and self.config.optimizer != "sgd":
                    group["momentum"] = float(changes["momentum"])
                if "l2" in changes and self.config.optimizer == "adamw":
                    group["weight_decay"] = float(changes["l2"])

    @property
    def epoch(self) -> float:
        return self._samples_seen / len(self.x_train)

    def on_epoch_end(self, epoch: int, mean_loss: float) -> None:
        self.schedule.end_of_epoch(mean_loss)
        if self.optimizer is None and mean_loss == 0:  # the perceptron rule: no mistake in a whole epoch
            self._end(JobStatus.DONE, f"Converged at step {self.steps_done:,}: the perceptron rule made no mistake in "
                                      f"epoch {epoch}, so a straight line separates the training points, and since "
                                      "only mistakes move the weights, nothing changes from here.")
        elif self.hp.get("patience"):
            self._early_stopping(epoch, int(self.hp["patience"]))

    def _early_stopping(self, epoch: int, patience: int) -> None:
        """Keep the weights with the lowest test loss (the playground's held-out set serves as the validation
        set); once it has not improved for `patience` epochs, go back to them and stop."""
        with torch.no_grad():
            self.model.eval()
            loss, _ = self._measure(self.x_test, self.y_test)
        if self._best is None or loss < self._best[0]:
            state = {name: value.detach().clone() for name, value in self.model.state_dict().items()}
            self._best = (loss, epoch, state)
            return
        best_loss, best_epoch, state = self._best
        if epoch - max(best_epoch, self._best_checked_at) < patience:
            return
        self.model.load_state_dict(state)
        self._best_checked_at = epoch  # training on waits another `patience` epochs for a better test loss
        self._end(JobStatus.DONE, f"Early stopping at epoch {epoch}: the test loss has not improved for {patience} "
                                  f"epochs, so the weights of epoch {best_epoch} (test loss {best_loss:.4g}) are "
                                  "restored. Train on and it stops again after another "
                                  f"{patience} epochs without a better test loss.")

    def learning_rate(self) -> float:
        return self.schedule.rate(float(self.hp["lr"]), self.epoch)

    # ---- training
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.x_train)
        size = min(int(self.hp["batch_size"]), n)
        if self._cursor + size > n:  # start a new epoch's permutation; batches stay full-sized
            rest = self._order[self._cursor:]
            self._order = torch.randperm(n, generator=self.rng).to(self.device)
            index = torch.cat([rest, self._order[: size - len(rest)]])
            self._cursor = size - len(rest)
        else:
            index = self._order[self._cursor:self._cursor + size]
            self._cursor += size
        self._samples_seen += size
        return self.x_train[index], self.y_train[index]

    def train_step(self) -> dict[str, float]:
        x, y = self._next_batch()
        lr = self.learning_rate()
        if not self.model.training:  # measuring switched to eval; train() walks every module, so only when needed
            self.model.train()
        if self.optimizer is None:
            with torch.no_grad():
                error = perceptron_update(self.model.output.weight, self.model.output.bias, self.model.featurize(x),
                                          y, lr)
            self.trajectory.maybe_record(self.steps_done + 1, self.flat_weights)
            return {"loss": error}
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = data_loss(self.config, self.dataset.task, self.model(x), y)
        total = loss + self._penalty()
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.hp["clip_norm"]:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.hp["clip_norm"]))
        self.optimizer.step()
        self.trajectory.maybe_record(self.steps_done + 1, self.flat_weights)
        return {"loss": loss.item()}

    def _penalty(self) -> torch.Tensor | float:
        l1, l2 = float(self.hp["l1"]), float(self.hp["l2"])
        if self.config.optimizer == "adamw":
            l2 = 0.0  # AdamW decays the weights itself (decoupled weight decay)
        penalty = 0.0
        if not (l1 or l2):  # the common case: no walk over the weights at every step
            return penalty
        for weight in self.model.weight_matrices():
            if l1:
                penalty = penalty + l1 * weight.abs().sum()
            if l2:
                penalty = penalty + l2 * (weight * weight).sum()
        return penalty

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        optimizer = OPTIMIZERS[self.config.optimizer]
        return (f"The training loss became {value} at step {step}: {optimizer} with learning rate "
                f"{self.learning_rate():.3g} took steps so large that the weights overflowed. Lower the learning "
                "rate (or turn on gradient clipping) and press Reset.")

    # ---- measuring
    def _measure(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float | None]:
        output = self.model(x)
        if self.optimizer is None:
            error = float((predicted_class(output) != y).float().mean())
            return error, 1.0 - error
        loss = float(data_loss(self.config, self.dataset.task, output, y))
        if not self.dataset.is_classification:
            return loss, None
        return loss, float((predicted_class(output) == y).float().mean())

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        train_loss, train_acc = self._measure(self.x_train, self.y_train)
        test_loss, test_acc = self._measure(self.x_test, self.y_test)
        metrics = {"train_loss": train_loss, "test_loss": test_loss, "lr": self.learning_rate()}
        if train_acc is not None:
            metrics |= {"train_accuracy": train_acc, "test_accuracy": test_acc}
        return metrics

    def observe(self) -> dict[str, Any]:
        self.model.eval()
        g1, g2, points = self._grid["output"]
        output = self.model(points)
        if self.optimizer is None:  # the perceptron's hard decision
            surface = (output[:, 0] > 0).float()
        elif self.dataset.task == "regression":
            surface = output[:, 0]
        else:
            surface = class_scores(output)  # (n,) P(class 1), or (n, k)
        surface = surface.cpu().numpy()
        if g2 is not None:  # rows follow x2, columns x1; multiclass keeps a trailing class axis
            surface = surface.reshape(len(g2), len(g1), *surface.shape[1:])
        n1, n2, neuron_points = self._grid["neurons"]
        layers = self.model.forward_all(neuron_points)
        neurons = [layer.T.cpu().numpy() for layer in layers[:-1]]  # (units, points) per layer
        if self.optimizer is None:
            neurons.append((layers[-1] > 0).float().T.cpu().numpy())
        elif self.dataset.task == "regression":
            neurons.append(layers[-1].T.cpu().numpy())
        else:
            neurons.append(class_scores(layers[-1]).reshape(len(neuron_points), -1).T.cpu().numpy())
        if n2 is not None:
            neurons = [grid.reshape(len(grid), len(n2), len(n1)) for grid in neurons]
        visuals: dict[str, Any] = {
            "grid_x1": g1, "grid_x2": g2, "surface": surface, "neuron_x1": n1, "neuron_x2": n2,
            "neurons": neurons,
            "weights": [w.detach().cpu().numpy().copy() for w in self.model.weight_matrices()],
            "dataset": self.dataset,  # immutable arrays, shared rather than copied
            # For analyses of the current network (loss landscape, ...) without touching the live model:
            "state": {name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()},
            "trajectory": self.trajectory.frozen(),
        }
        if self.dataset.is_classification:
            visuals["confusion"] = self._confusion()
        if counts_linear_pieces(self.config, self.dataset):
            kinks = kinks_1d(self.model, float(g1[0]), float(g1[-1]))
            visuals["kinks"] = (kinks, _pre_activations(self.model, kinks)[-1][:, 0])
        return visuals

    def _confusion(self) -> np.ndarray:
        k = self.dataset.n_classes
        predicted = predicted_class(self.model(self.x_test)).cpu().numpy()
        truth = self.y_test.cpu().numpy()
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        return matrix

