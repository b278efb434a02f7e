"""The playground's trainer: a PlaygroundNet trained by minibatches on its toy data, observed as the decision
surface, every neuron's output, the weights and their trajectory (`PlaygroundVisuals`); and the job that runs
it live for the Network Playground and Loss Landscape pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.common.history import WeightTrajectory
from engine.common.optimizers import OPTIMIZERS, make_optimizer
from engine.common.schedules import LearningRateSchedule
from engine.playground.config import DEFAULT_HYPERPARAMETERS, PlaygroundConfig, n_outputs
from engine.playground.data import Dataset, make_dataset
from engine.playground.model import PlaygroundNet, data_loss, output_surface, perceptron_update, predicted_class
from engine.playground.pieces import counts_linear_pieces, kinks_1d, pre_activations
from engine.playground.stopping import StoppingChoice, watch
from engine.runtime import Job, Trainer

GRID_RESOLUTION, NEURON_GRID_RESOLUTION = 64, 24


@dataclass(frozen=True)
class PlaygroundVisuals:
    """What a playground run shows at one moment; 2-D grids have rows following x₂ and columns x₁."""

    grid_x1: np.ndarray  # the output's grid along x₁
    grid_x2: np.ndarray | None  # and along x₂ (None for 1-D data)
    surface: np.ndarray  # the output on that grid: P(class 1), class probabilities (a trailing class axis), values
    neuron_x1: np.ndarray  # the coarser grid of the neurons' thumbnails
    neuron_x2: np.ndarray | None
    neurons: tuple[np.ndarray, ...]  # per layer (features, hidden layers, output): (units, *neuron grid)
    weights: tuple[np.ndarray, ...]  # each linear layer's weight matrix (out, in)
    dataset: Dataset  # read-only arrays, shared rather than copied
    # The network's state_dict (CPU copies): the weights export, and analyses of the current network (loss
    # landscape, replay) that must not touch the live model.
    state: dict[str, torch.Tensor]
    trajectory: tuple[tuple[int, ...], tuple[np.ndarray, ...]]  # (steps, flat weight vectors) along training
    confusion: np.ndarray | None = None  # test-set counts by (true, predicted) class; classification only
    kinks: tuple[np.ndarray, np.ndarray] | None = None  # (x₁, output) where a piecewise-linear 1-D network bends
    stopping: StoppingChoice | None = None  # early stopping's choice, once it has watched an epoch end


class PlaygroundTrainer(Trainer):
    """Trains a PlaygroundNet; `observe` gives the decision surface, the neurons and the weights."""

    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    # ---- setup
    def setup(self) -> None:
        config: PlaygroundConfig = self.config
        self.dataset = make_dataset(config.data)
        ds = self.dataset
        for array in (ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.x_val, ds.y_val):
            array.setflags(write=False)
        config.validate(self.dataset)
        device = self.device
        self.x_train, self.y_train = torch.tensor(ds.x_train, device=device), torch.tensor(ds.y_train, device=device)
        self.n_train = len(ds.x_train)  # (a tensor's len() is Python code in torch, and read three times a step)
        self.x_test, self.y_test = torch.tensor(ds.x_test, device=device), torch.tensor(ds.y_test, device=device)
        self.x_val, self.y_val = torch.tensor(ds.x_val, device=device), torch.tensor(ds.y_val, device=device)
        self.n_out = n_outputs(config, ds)
        self.model = PlaygroundNet(config, self.n_out, self.rng).to(device)
        # (the same tensors for the model's life: checkpoints load in place; walking the modules for them took half
        # of each `flat_weights`, which the trajectory takes at every step of the first 200)
        self._weights = list(self.model.parameters())
        self.optimizer = make_optimizer(self.config.optimizer, self._weights, self.hp)
        self.schedule = self._schedule(self.hp)
        self._order = torch.randperm(self.n_train, generator=self.rng).to(device)
        self._cursor, self._samples_seen = 0, 0
        self._grid = self._make_grids()
        self.trajectory = WeightTrajectory()
        self.trajectory.maybe_record(0, self.flat_weights)
        self._stopping: StoppingChoice | None = None  # early stopping's choice so far
        self._best_state: dict[str, torch.Tensor] = {}  # and the weights of the epoch it chose
        self._best_checked_at = 0  # the epoch from which the patience counts

    def flat_weights(self) -> np.ndarray:
        """All trainable parameters as one float64 vector, in `model.parameters()` order."""
        return torch.cat([p.detach().reshape(-1) for p in self._weights]).double().cpu().numpy()

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

    # ---- checkpoints
    CHECKPOINTED = ("model", "optimizer", "rng", "_order", "_cursor", "_samples_seen", "schedule", "_stopping",
                    "_best_state", "_best_checked_at")  # the rng: the data order's and dropout's

    def state(self) -> dict[str, Any]:
        return {**super().state(), "trajectory": (self.trajectory.interval, *self.trajectory.frozen())}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        interval, steps, vectors = state["trajectory"]
        self.trajectory = WeightTrajectory(self.trajectory.capacity)
        for step, vector in zip(steps, vectors):
            self.trajectory.maybe_record(step, lambda vector=vector: vector)
        self.trajectory.interval = interval

    # ---- live hyperparameters
    @staticmethod
    def _schedule(hp: dict[str, Any]) -> LearningRateSchedule:
        return LearningRateSchedule(hp["schedule"], float(hp["schedule_gamma"]), float(hp["schedule_period"]),
                                    float(hp["schedule_power"]))

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if "batch_size" in changes:
            size = int(changes["batch_size"])
            if not 1 <= size <= 1024:
                raise ValueError("the batch size must be between 1 and 1024")
            if self.config.batch_norm and size < 2:
                raise ValueError("batch norm needs a batch of at least 2")
        if {"schedule", "schedule_gamma", "schedule_period", "schedule_power"} & changes.keys():
            self.schedule = self._schedule({**self.hp, **changes})
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                if "momentum" in changes and "momentum" in group and self.config.optimizer != "sgd":
                    group["momentum"] = float(changes["momentum"])
                if "l2" in changes and self.config.optimizer == "adamw":
                    group["weight_decay"] = float(changes["l2"])

    @property
    def epoch(self) -> float:
        return self._samples_seen / self.n_train

    def on_epoch_end(self, epoch: int, mean_loss: float) -> str | None:
        """Returns why training is done, if it is now: the perceptron rule converged, or early stopping."""
        self.schedule.end_of_epoch(mean_loss)
        if self.optimizer is None and mean_loss == 0:  # the perceptron rule: no mistake in a whole epoch
            return (f"Converged at step {self.steps_done:,}: the perceptron rule made no mistake in epoch {epoch}, "
                    "so a straight line separates the training points, and since only mistakes move the weights, "
                    "nothing changes from here.")
        if self.hp.get("patience"):
            return self._early_stopping(epoch, int(self.hp["patience"]))
        return None

    def _early_stopping(self, epoch: int, patience: int) -> str | None:
        """Keep the weights with the lowest validation loss; once it has not improved for `patience` epochs, go
        back to them and say so. The test loss is measured alongside only to show what stopping on it would
        have claimed: it never decides."""
        with torch.no_grad():
            self.model.eval()
            loss, _ = self._measure(self.x_val, self.y_val)
            test_loss, _ = self._measure(self.x_test, self.y_test)
        before, self._stopping = self._stopping, watch(self._stopping, epoch, loss, test_loss)
        chosen = self._stopping
        if before is None or chosen.epoch != before.epoch:  # a new lowest validation loss
            self._best_state = {name: value.detach().clone() for name, value in self.model.state_dict().items()}
            return None
        if epoch - max(chosen.epoch, self._best_checked_at) < patience:
            return None
        self.model.load_state_dict(self._best_state)
        self._best_checked_at = epoch  # training on waits another `patience` epochs for a better validation loss
        return (f"Early stopping at epoch {epoch}: the validation loss has not improved for {patience} epochs, so "
                f"the weights of epoch {chosen.epoch} (validation loss {chosen.validation:.4g}) are restored. "
                f"{chosen.describe()} Train on and it stops again after another {patience} epochs without a "
                "better validation loss.")

    def learning_rate(self) -> float:
        return self.schedule.rate(float(self.hp["lr"]), self.epoch)

    # ---- training
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.n_train
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
        penalty = self._penalty()
        total = loss if penalty is None else loss + penalty  # (adding a 0.0 cost ~4% of a small network's step)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.hp["clip_norm"]:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.hp["clip_norm"]))
        self.optimizer.step()
        self.trajectory.maybe_record(self.steps_done + 1, self.flat_weights)
        return {"loss": loss.item()}

    def _penalty(self) -> torch.Tensor | None:
        """L1 and L2 on the weight matrices, or None without them (the common case: no walk over the weights)."""
        l1, l2 = float(self.hp["l1"]), float(self.hp["l2"])
        if self.config.optimizer == "adamw":
            l2 = 0.0  # AdamW decays the weights itself (decoupled weight decay)
        if not (l1 or l2):
            return None
        penalty: torch.Tensor | float = 0.0
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

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        train_loss, train_acc = self._measure(self.x_train, self.y_train)
        test_loss, test_acc = self._measure(self.x_test, self.y_test)
        val_loss, _ = self._measure(self.x_val, self.y_val)
        metrics = {"train_loss": train_loss, "test_loss": test_loss, "val_loss": val_loss, "lr": self.learning_rate()}
        if train_acc is not None:
            metrics |= {"train_accuracy": train_acc, "test_accuracy": test_acc}
        return metrics

    @torch.no_grad()
    def observe(self) -> PlaygroundVisuals:
        self.model.eval()
        perceptron, task = self.optimizer is None, self.dataset.task
        g1, g2, points = self._grid["output"]
        surface = output_surface(self.model(points), task, perceptron).cpu().numpy()
        if g2 is not None:  # rows follow x2, columns x1; multiclass keeps a trailing class axis
            surface = surface.reshape(len(g2), len(g1), *surface.shape[1:])
        n1, n2, neuron_points = self._grid["neurons"]
        layers = self.model.forward_all(neuron_points)
        neurons = [layer.T.cpu().numpy() for layer in layers[:-1]]  # (units, points) per layer
        neurons.append(output_surface(layers[-1], task, perceptron).reshape(len(neuron_points), -1).T.cpu().numpy())
        if n2 is not None:
            neurons = [grid.reshape(len(grid), len(n2), len(n1)) for grid in neurons]
        kinks = None
        if counts_linear_pieces(self.config, self.dataset):
            at = kinks_1d(self.model, float(g1[0]), float(g1[-1]))
            kinks = (at, pre_activations(self.model, at)[-1][:, 0])
        return PlaygroundVisuals(
            grid_x1=g1, grid_x2=g2, surface=surface, neuron_x1=n1, neuron_x2=n2, neurons=tuple(neurons),
            weights=tuple(w.detach().cpu().numpy().copy() for w in self.model.weight_matrices()),
            dataset=self.dataset,
            state={name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()},
            trajectory=self.trajectory.frozen(),
            confusion=self._confusion() if self.dataset.is_classification else None, kinks=kinks,
            stopping=self._stopping)

    def _confusion(self) -> np.ndarray:
        k = self.dataset.n_classes
        predicted = predicted_class(self.model(self.x_test)).cpu().numpy()
        truth = self.y_test.cpu().numpy()
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        return matrix


class PlaygroundJob(Job):
    """Runs a PlaygroundTrainer live for the pages."""

    trainer_type = PlaygroundTrainer

    def __init__(self, config: PlaygroundConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs):
        super().__init__(config or PlaygroundConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})},
                         **kwargs)
