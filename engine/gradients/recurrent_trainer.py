"""The through-time trainer on the Gradient Flow page: vanilla RNNs (tanh, ReLU), LSTM and GRU trained side by
side on the same batches of the recall task, with ‖∂L/∂h_t‖ and W_hh's eigenvalues measured as they learn."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.common.clipping import clip_gradients
from engine.common.optimizers import make_optimizer
from engine.gradients.recurrent_config import (CELLS, DEFAULT_HYPERPARAMETERS, VANILLA, RecurrentConfig,
                                               check_hyperparameters)
from engine.gradients.recurrent_model import (CellEigenvalues, CellGradients, LinearCase, build_models,
                                              eigenvalues_of, gradient_through_time, linear_gradient_profile,
                                              recall_batch)
from engine.gradients.weights import WeightsCopy
from engine.runtime import Job, Trainer

# 256 held-out sequences measure accuracy to about ±3%; evaluating all cells on them once a second costs
# a fraction of training (with 512, twice a second, it took a third of the trainer's time).
PROBE_BATCH, EVAL_BATCH = 64, 256
EVAL_INTERVAL_S = 1.0  # what a page shows, once a second at most
EPOCH_SEQUENCES = 1024  # the task draws fresh sequences every step; an "epoch" is this many of them
PROBE_INTERVAL_S = EVAL_INTERVAL_S  # ‖∂L/∂h_t‖ needs a step-by-step unroll of every cell: once a second,
PROBE_COST_FACTOR = 10  # or rarer, so that probing takes at most ~1/10 of the time
# The optimizer each choice of RecurrentConfig.optimizer means, in engine.common.optimizers' table.
OPTIMIZER_NAMES = {"adam": "adam", "sgd": "momentum"}


@dataclass(frozen=True)
class StoppedCell:
    """A cell whose gradients overflowed: it stopped training, the others train on."""

    cell: str
    why: str


@dataclass(frozen=True)
class TimeVisuals:
    """What a through-time snapshot shows: ‖∂L/∂h_t‖ per cell at init and at the latest probe, W_hh's
    eigenvalues (vanilla RNNs still training), the linear closed form, and the weights for export."""

    init_gradients: tuple[CellGradients, ...]
    gradients: tuple[CellGradients, ...]  # a stopped cell keeps its last
    gradients_step: int
    init_eigenvalues: tuple[CellEigenvalues, ...]
    eigenvalues: tuple[CellEigenvalues, ...]
    linear: LinearCase
    stopped: tuple[StoppedCell, ...]
    state: dict[str, torch.Tensor] | None  # every cell's weights as of `state_step`, as nn.ModuleDict names them
    state_step: int


class RecurrentTrainer(Trainer):
    """Trains every cell type on the same batches of the recall task, side by side.

    A cell whose gradients overflow stops on its own (the others train on); the run diverges only
    when all have.
    """

    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: RecurrentConfig = self.config
        config.validate()
        self.models = {cell: model.to(self.device) for cell, model in build_models(config, self.rng).items()}
        self.weights = WeightsCopy()  # of every cell, as nn.ModuleDict(build_models(...)) names them
        lr = float(self.hp["lr"])
        self.optimizers = {cell: make_optimizer(OPTIMIZER_NAMES[config.optimizer], model.parameters(), {"lr": lr})
                           for cell, model in self.models.items()}
        self.stopped: tuple[StoppedCell, ...] = ()
        self._sequences_seen = 0
        self._probe_x, self._probe_y = recall_batch(config.seq_len, PROBE_BATCH, self.rng, self.device)
        self._eval_x, self._eval_y = recall_batch(config.seq_len, EVAL_BATCH, self.rng, self.device)
        self.init_gradients = self._gradients(self.models)
        self.gradients, self.gradients_step = self.init_gradients, 0
        self.init_eigenvalues = self._eigenvalues()
        self.eigenvalues = self.init_eigenvalues
        self.linear = self._linear_case()
        self._next_probe_at = time.monotonic() + PROBE_INTERVAL_S
        self._next_eval_at, self._evaluated_step = 0.0, -1

    def _linear_case(self) -> LinearCase:
        """The linear RNN with w = ρ (scalar) and with the vanilla RNNs' own W_hh (matrix), their tanh removed."""
        config: RecurrentConfig = self.config
        radius = torch.tensor(config.spectral_radius, dtype=torch.float64)
        scalar_measured, scalar_closed = linear_gradient_profile(radius, config.seq_len, torch.ones(1))
        matrix_measured = matrix_closed = None
        w_hh = next((m.w_hh for c, m in self.models.items() if c in VANILLA), None)
        if w_hh is not None:
            direction = torch.randn(config.hidden, generator=self.rng, dtype=torch.float64)
            matrix_measured, matrix_closed = linear_gradient_profile(
                w_hh.detach().double().cpu(), config.seq_len, direction / direction.norm())
        return LinearCase(np.arange(config.seq_len + 1), config.spectral_radius, scalar_measured, scalar_closed,
                          matrix_measured, matrix_closed)

    # What was measured by a checkpoint's step (the gradients through time, the eigenvalues) is saved with it.
    CHECKPOINTED = ("models", "optimizers", "rng", "_sequences_seen", "stopped", "gradients", "gradients_step",
                    "eigenvalues")

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._evaluated_step, self.weights = -1, WeightsCopy()  # of other weights

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        if "lr" in changes:
            for optimizer in self.optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = float(changes["lr"])

    @property
    def epoch(self) -> float:
        return self._sequences_seen / EPOCH_SEQUENCES

    def _is_stopped(self, cell: str) -> bool:
        return any(stopped.cell == cell for stopped in self.stopped)

    def _gradients(self, models: dict[str, nn.Module]) -> tuple[CellGradients, ...]:
        return tuple(gradient_through_time(model, self._probe_x, self._probe_y) for model in models.values())

    def _eigenvalues(self) -> tuple[CellEigenvalues, ...]:
        """W_hh's eigenvalues per vanilla RNN still training (a stopped one's weights were thrown far away)."""
        return tuple(eigenvalues_of(model) for cell, model in self.models.items()
                     if cell in VANILLA and not self._is_stopped(cell))

    def train_step(self) -> dict[str, float]:
        x, y = recall_batch(self.config.seq_len, int(self.hp["batch_size"]), self.rng, self.device)
        self._sequences_seen += len(y)
        clip, clip_at = self.hp["clip"], float(self.hp["clip_at"])
        metrics, losses = {}, []
        for cell, model in self.models.items():
            if self._is_stopped(cell):
                continue
            optimizer = self.optimizers[cell]
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            params = list(model.parameters())
            total = torch.nn.utils.get_total_norm([p.grad for p in params])
            loss_value, norm_value = torch.stack([loss.detach(), total]).tolist()
            if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
                what = "loss" if not math.isfinite(loss_value) else "gradient norm"
                self.stopped += (StoppedCell(cell, f"{CELLS[cell]} stopped at step {self.steps_done + 1}: its {what} "
                                                   f"became {loss_value if what == 'loss' else norm_value} "
                                                   "(exploding gradients)."),)
                self.eigenvalues = tuple(e for e in self.eigenvalues if e.cell != cell)  # its W_hh is gone
                continue
            clip_gradients(params, clip, clip_at, total)
            optimizer.step()
            losses.append(loss_value)
            metrics[f"loss_{cell}"] = loss_value
            metrics[f"grad_norm_{cell}"] = norm_value
        metrics["loss"] = float(np.mean(losses)) if losses else math.nan
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Held-out accuracy per cell: at most once a second while training, and at the step where it stops (so
        the last numbers are the final model's)."""
        now = time.monotonic()
        if self.steps_done == self._evaluated_step or (self.training and now < self._next_eval_at):
            return {}
        self._next_eval_at, self._evaluated_step = now + EVAL_INTERVAL_S, self.steps_done
        return {f"accuracy_{cell}": float((model(self._eval_x).argmax(dim=1) == self._eval_y).float().mean())
                for cell, model in self.models.items() if not self._is_stopped(cell)}

    def observe(self) -> TimeVisuals:
        now = time.monotonic()
        if self.steps_done != self.gradients_step and now >= self._next_probe_at:
            live = {cell: model for cell, model in self.models.items() if not self._is_stopped(cell)}
            fresh = {probed.cell: probed for probed in self._gradients(live)}
            self.gradients = tuple(fresh.get(kept.cell, kept) for kept in self.gradients)
            self.gradients_step = self.steps_done
            self.eigenvalues = self._eigenvalues()
            spent = time.monotonic() - now  # long sequences make a probe slow: then probe less often
            self._next_probe_at = time.monotonic() + max(PROBE_INTERVAL_S, PROBE_COST_FACTOR * spent)
        self.weights.refresh(nn.ModuleDict(self.models), self.steps_done, self.training)
        return TimeVisuals(init_gradients=self.init_gradients, gradients=self.gradients,
                           gradients_step=self.gradients_step, init_eigenvalues=self.init_eigenvalues,
                           eigenvalues=self.eigenvalues, linear=self.linear, stopped=self.stopped,
                           state=self.weights.state, state_step=self.weights.step)

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (" ".join(stopped.why for stopped in self.stopped) + " Every cell's gradients exploded: lower the "
                "learning rate, turn on gradient clipping or lower the spectral radius, then press Reset.")


class RecurrentJob(Job):
    """Runs a RecurrentTrainer live for the Gradient Flow page."""

    trainer_type = RecurrentTrainer

    def __init__(self, config: RecurrentConfig | None = None, hyperparameters: dict[str, Any] | None = None, **kwargs):
        super().__init__(config or RecurrentConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})},
                         **kwargs)
