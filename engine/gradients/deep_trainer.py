"""The deep network's trainer on the Gradient Flow page: it trains a DeepMLP and probes it, per layer, live.

Probes run only when the trainer asks for one (at the rate a page shows them, or every step if the student
asks), so plain steps pay only for a per-layer gradient norm that guards against, and locates, exploding
gradients. When training diverges, the trainer says where it began and what to change.
"""

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
from engine.gradients.deep_config import DEFAULT_HYPERPARAMETERS, DeepConfig, check_hyperparameters
from engine.gradients.deep_model import DeepMLP, predicted_preactivation_sq
from engine.gradients.probes import (COLUMN, EXPLOSION_FACTOR, FLAT_REGIONS, FlatRegion, Probe, ProbeHistory,
                                     explosion_origin, first_nonfinite, reduce_probe, unpack_probe)
from engine.gradients.weights import WeightsCopy
from engine.playground.data import Dataset, make_dataset
from engine.runtime import Job, Trainer

PROBE_INTERVAL_S = 1.0  # probes follow what a page shows (once a second at most), not the training rate
WATCH_EVERY = 10  # steps between per-layer gradient norms kept on the device to locate an explosion
GRAD_NORM_WINDOW = 64  # how many of them are kept


@dataclass(frozen=True)
class DeepVisuals:
    """What a deep-network snapshot shows: per-layer probes at initialization and now, their history as
    layer × step matrices, the theory line, and the weights for export."""

    layers: tuple[str, ...]  # hidden layers, then the output
    init_probe: Probe
    latest_probe: Probe | None  # None until a training step carried a probe
    history_steps: np.ndarray  # (n,) the steps of the kept probes
    history_stats: np.ndarray  # (n, layers, len(STATS))
    theory: np.ndarray | None  # E[z²] per layer that the init predicts; None where the theory does not apply
    flat_region: FlatRegion
    state: dict[str, torch.Tensor] | None  # the weights as of `state_step`, on the CPU
    state_step: int
    input_standardizer: tuple[np.ndarray, np.ndarray]  # (mean, std): the network reads (x − mean) / std


def _input_standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


class DeepTrainer(Trainer):
    """Trains a DeepMLP; its visuals carry per-layer probes at init and now, and their history."""

    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    # ---- setup
    def setup(self) -> None:
        config: DeepConfig = self.config
        config.validate()
        self.dataset: Dataset = make_dataset(config.data)
        ds = self.dataset
        self.classification = ds.is_classification
        mean, std = _input_standardizer(ds.x_train)
        self.input_standardizer = (mean, std)  # the network reads (x - mean) / std
        device = self.device
        self.x_train = torch.tensor((ds.x_train - mean) / std, device=device)
        self.x_test = torch.tensor((ds.x_test - mean) / std, device=device)
        self.y_train, self.y_test = torch.tensor(ds.y_train, device=device), torch.tensor(ds.y_test, device=device)
        self.n_out = ds.n_classes if self.classification else 1
        self.model = DeepMLP(config, ds.input_dim, self.n_out, self.rng).to(device)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), {"lr": float(self.hp["lr"])})
        self._weights = self.model.layer_weights()
        self._params = list(self.model.parameters())
        ids = {id(p): i for i, p in enumerate(self._params)}
        self._weight_index = torch.tensor([ids[id(w)] for w in self._weights], device=device)
        self._order = torch.randperm(len(self.x_train), generator=self.rng).to(device)
        self._cursor, self._samples_seen = 0, 0
        self._norm_window = torch.full((GRAD_NORM_WINDOW, config.depth + 1), float("nan"), device=device)
        self._window_steps = torch.zeros(GRAD_NORM_WINDOW, dtype=torch.long, device=device)
        self._last_batch: tuple[torch.Tensor, torch.Tensor] | None = None  # the batch that diverged
        with torch.no_grad():
            self._initial_weight_norms = torch.stack(torch._foreach_norm(self._weights))
        self.history = ProbeHistory()
        self.latest: Probe | None = None
        self.weights = WeightsCopy()
        self._probe_due, self._next_probe_at, self._next_eval_at, self._evaluated_step = False, 0.0, 0.0, -1
        probe_size = min(512, len(self.x_train))
        self.init_probe = self._probe_at_init(self.x_train[:probe_size], self.y_train[:probe_size])
        self.theory = predicted_preactivation_sq(config, ds.input_dim, self.n_out,
                                                 float(self.x_train[:probe_size].square().mean()))

    # ---- checkpoints
    CHECKPOINTED = ("model", "optimizer", "rng", "_order", "_cursor", "_samples_seen", "_norm_window",
                    "_window_steps", "history", "latest")

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._evaluated_step, self._last_batch, self.weights = -1, None, WeightsCopy()  # of other weights

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        if "lr" in changes:
            for group in self.optimizer.param_groups:
                group["lr"] = float(changes["lr"])

    @property
    def epoch(self) -> float:
        return self._samples_seen / len(self.x_train)

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return F.cross_entropy(output, target)
        return F.mse_loss(output[:, 0], target)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.x_train)
        size = min(int(self.hp["batch_size"]), n)
        if self._cursor + size > n:
            self._order = torch.randperm(n, generator=self.rng).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + size]
        self._cursor += size
        self._samples_seen += size
        return self.x_train[index], self.y_train[index]

    # ---- probing
    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor,
                          record: list | None) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(x, record)
        loss = self._loss(output, y)
        if record is not None:
            output.retain_grad()
            for _, _, a in record:
                a.retain_grad()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return output, loss

    def _probe_at_init(self, x: torch.Tensor, y: torch.Tensor) -> Probe:
        """One forward and one backward at the initial weights, no update: the picture before training."""
        self.model.train()
        record: list = []
        output, _ = self._forward_backward(x, y, record)
        packed = torch.cat([t.flatten() for t in reduce_probe(record, output, [w.grad for w in self._weights],
                                                              self.config.activation)])
        self.optimizer.zero_grad(set_to_none=True)
        for module in self.model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.reset_running_stats()  # the probe batch must not count as training
        return unpack_probe(0, packed.double().cpu().numpy(), self.config.depth)

    def _probing_now(self) -> bool:
        return bool(self.hp["probes"]) and (self._probe_due or bool(self.hp["probe_every_step"]))

    # ---- training
    def train_step(self) -> dict[str, float]:
        x, y = self._next_batch()  # the model is in train mode: evaluate() puts it back
        probing = self._probing_now()
        # Every WATCH_EVERY steps (and with each probe) the per-layer gradient norms go into a small
        # window on the device: cheap, and enough to tell later where an explosion began.
        watching = bool(self.hp["probes"]) and (probing or self.steps_done % WATCH_EVERY == 0)
        record: list | None = [] if probing else None
        output, loss = self._forward_backward(x, y, record)
        self._last_batch = (x, y)
        if not watching:
            loss_value = loss.item()
            if math.isfinite(loss_value):  # else no update: the weights stay finite for the diagnosis
                clip_gradients(self._params, self.hp["clip"], float(self.hp["clip_at"]))
                self.optimizer.step()
            return {"loss": loss_value}
        param_norms = torch.stack(torch._foreach_norm([p.grad for p in self._params]))
        total = param_norms.norm()
        slot = (self.steps_done // WATCH_EVERY) % GRAD_NORM_WINDOW
        self._norm_window[slot] = param_norms[self._weight_index]
        self._window_steps[slot] = self.steps_done + 1
        if probing:
            stats, act_hist, grad_hist = reduce_probe(record, output, [w.grad for w in self._weights],
                                                      self.config.activation)
            with torch.no_grad():
                before = torch._foreach_mul(self._weights, 1.0)  # a copy
        loss_value, total_value = torch.stack([loss.detach(), total]).tolist()  # the step's one sync, as .item()
        metrics = {"loss": loss_value, "grad_norm": total_value}
        if not (math.isfinite(loss_value) and math.isfinite(total_value)):
            return metrics  # no update: the weights stay finite for the diagnosis
        clip_gradients(self._params, self.hp["clip"], float(self.hp["clip_at"]), total)
        self.optimizer.step()
        if probing:
            with torch.no_grad():
                moved = torch.stack(torch._foreach_norm(torch._foreach_sub(self._weights, before)))
                size = torch.stack(torch._foreach_norm(before))
                stats[:, COLUMN["update_ratio"]] = torch.where(size > 0, moved / size, math.nan)
                packed = torch.cat([stats.flatten(), act_hist, grad_hist]).double().cpu().numpy()
            self.latest = unpack_probe(self.steps_done + 1, packed, self.config.depth)
            self.history.offer(self.latest.step, self.latest.stats)
            self._probe_due = False
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy on the training and test sets: at most once a second while training, and at the
        step where it stops (so the last numbers are the final model's)."""
        now = time.monotonic()
        if self.steps_done == self._evaluated_step or (self.training and now < self._next_eval_at):
            return {}
        self._next_eval_at, self._evaluated_step = now + PROBE_INTERVAL_S, self.steps_done
        self.model.eval()
        metrics = {}
        for name, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            output = self.model(x)
            metrics[f"{name}_loss"] = float(self._loss(output, y))
            if self.classification:
                metrics[f"{name}_accuracy"] = float((output.argmax(dim=1) == y).float().mean())
        self.model.train()
        return metrics

    def observe(self) -> DeepVisuals:
        now = time.monotonic()
        if now >= self._next_probe_at:  # the next training step carries a probe
            self._probe_due = True
            self._next_probe_at = now + PROBE_INTERVAL_S
        steps, stats = self.history.frozen(self.config.depth + 1)
        self.weights.refresh(self.model, self.steps_done, self.training)
        return DeepVisuals(
            layers=self.config.layer_names, init_probe=self.init_probe, latest_probe=self.latest,
            history_steps=steps, history_stats=stats, theory=self.theory,
            flat_region=FLAT_REGIONS[self.config.activation], state=self.weights.state,
            state_step=self.weights.step, input_standardizer=self.input_standardizer)

    # ---- divergence
    def explain_divergence(self, step: int, name: str, value: float) -> str:
        names = self.config.layer_names
        where = self._locate_overflow()
        steps, norms = self._norm_window_on_host()
        origin = explosion_origin(steps, norms)
        parts = [f"Training diverged: the {'training loss' if name == 'loss' else 'gradient norm'} "
                 f"became {value} at step {step}."]
        if origin is not None:
            origin_step, layer = origin
            start = norms[0, layer]
            parts.append(f"Gradients exploded, starting in {names[layer]}: its gradient norm grew more than "
                         f"{EXPLOSION_FACTOR:g}× from {start:.3g} (step {int(steps[0])}) by step {origin_step}.")
        if where:
            parts.append(where)
        parts.append(self._weight_growth())
        parts.append(self._advice())
        return " ".join(part for part in parts if part)

    def _norm_window_on_host(self) -> tuple[np.ndarray, np.ndarray]:
        steps = self._window_steps.cpu().numpy()
        norms = self._norm_window.double().cpu().numpy()
        order = np.argsort(steps)
        keep = steps[order] > 0
        return steps[order][keep], norms[order][keep]

    def _locate_overflow(self) -> str:
        """Run the failing batch once more (weights untouched) and say which layer overflowed first."""
        if self._last_batch is None:
            return ""
        x, y = self._last_batch
        names = self.config.layer_names
        broken = first_nonfinite(list(reversed(self._weights)))
        if broken is not None:  # an update with an overflowed gradient; it overflowed nearest the output first
            layer = len(self._weights) - 1 - broken
            return (f"The last update made the weights of {names[layer]} inf/NaN: the gradient overflowed there on "
                    "its way back from the output, and in every layer before it.")
        record: list = []
        with torch.enable_grad():
            output = self.model(x, record)
            layer = first_nonfinite([a for _, _, a in record] + [output])
            if layer is not None:
                return (f"In the forward pass the activations first overflowed to inf/NaN in {names[layer]}, "
                        "so every layer after it and the loss are meaningless.")
            loss = self._loss(output, y)
            gradients = torch.autograd.grad(loss, [a for _, _, a in record] + [output], allow_unused=True)
        from_output = list(reversed(range(len(gradients))))
        for index in from_output:
            gradient = gradients[index]
            if gradient is not None and not torch.isfinite(gradient).all():
                return (f"On its way back from the output the gradient first overflowed at {names[index]} "
                        "(each layer multiplies it by its Jacobian).")
        return ""

    def _weight_growth(self) -> str:
        """Which layer's weights the updates inflated most since initialization (large steps compound)."""
        with torch.no_grad():
            now = torch.stack(torch._foreach_norm(self._weights))
            growth = (now / self._initial_weight_norms.clamp(min=1e-30)).double().cpu().numpy()
        growth = np.where(np.isfinite(growth), growth, np.inf)
        layer = int(np.argmax(growth))
        if not growth[layer] >= 10:
            return ""
        times = "beyond what float32 can hold" if not np.isfinite(growth[layer]) else f"{growth[layer]:.3g}×"
        return (f"The updates grew the weights of {self.config.layer_names[layer]} most: their norm went up "
                f"{times} since initialization.")

    def _advice(self) -> str:
        config = self.config
        at_init = not np.isfinite(self.init_probe.stats[:, COLUMN["preact_sq"]]).all()
        tips = [] if at_init else [f"lower the learning rate (now {float(self.hp['lr']):g})"]
        if self.hp["clip"] == "off" and not at_init:
            tips.append("turn on gradient clipping")
        if at_init or config.init in ("large_normal", "constant"):
            tips.append("choose an init that keeps the variance (He for ReLU, Xavier or LeCun for tanh)")
        if config.norm == "none":
            tips.append("add batch or layer norm")
        lead = "The network overflows at initialization, before any update. " if at_init else ""
        return lead + "To fix it: " + ", ".join(tips) + "; then press Reset."



class DeepJob(Job):
    """Runs a DeepTrainer live for the Gradient Flow page."""

    trainer_type = DeepTrainer

    def __init__(self, config: DeepConfig | None = None, hyperparameters: dict[str, Any] | None = None, **kwargs):
        super().__init__(config or DeepConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
