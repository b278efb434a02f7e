"""The CNN page's experiment as a plain trainer: a CNN and an MLP of about the same size trained side by side on
the same minibatches (and, when asked, a copy of the CNN trained on FGSM examples), with everything the page
inspects about them: filters, feature maps, mistakes, shifts, saliency and attacks.

A bench or a test drives it with `engine.runtime.train`; a live `CnnJob` runs it in its thread.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.cnn.attacks import accuracy_under_attack, attack, saliency
from engine.cnn.config import CnnConfig, DEFAULT_HYPERPARAMETERS, check_hyperparameters
from engine.cnn.data import ImageData, load_digits, load_shapes, shift_images
from engine.cnn.invariance import equivariance, probability_shift
from engine.cnn.model import ConvNet, initialize, matched_mlp, parameter_count
from engine.cnn.visuals import AttackCurves, AttackView, CnnVisuals, ShiftView, as_image
from engine.common.seeding import stream
from engine.runtime import Job, Trainer

EPS_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # grey levels of 16
CURVES_EVERY_S = 3.0  # while training, accuracy-against-eps (~0.1-0.5 s of attacks) is measured this often
CURVES_IMAGES = 300  # held-out images the curves are measured on
MISTAKES_SHOWN = 12
ADVERSARIAL_SHARE = 0.5  # the adversarial copy's loss: half clean, half FGSM examples (Goodfellow et al. 2015)


class CnnTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: CnnConfig = self.config
        data_rng = stream(self.seed, "data")
        data = load_digits(data_rng) if config.dataset == "digits" else \
            load_shapes(data_rng, centred=config.dataset == "shapes_centred")
        self.data: ImageData = data.to(self.device)
        side, classes = data.side, len(data.classes)
        weights = stream(self.seed, "weights")
        self.cnn = ConvNet(config, side, classes)
        initialize(self.cnn, weights)
        self.mlp = matched_mlp(self.cnn, side, classes, config.activation)
        initialize(self.mlp, weights)
        # The same start as the CNN, so the two differ only by what they were trained on.
        self.robust = copy.deepcopy(self.cnn) if config.adversarial else None
        self.networks = {name: network.to(self.device) for name, network in
                         (("cnn", self.cnn), ("mlp", self.mlp), ("robust", self.robust)) if network is not None}
        self.optimizers = {name: torch.optim.Adam(network.parameters(), lr=self.hp["lr"])
                           for name, network in self.networks.items()}
        self.rng = stream(self.seed, "batches")
        self.apply_hyperparameters(self.hp)
        self._curves: AttackCurves | None = None
        self._curves_at = -float("inf")

    # ------------------------------------------------------------- training
    @property
    def epoch(self) -> float:
        return self.steps_done * self.hp["batch_size"] / len(self.data.train_x)

    CHECKPOINTED = ("networks", "optimizers", "rng")

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._curves, self._curves_at = None, -float("inf")  # measured on other weights

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        if "example" in changes and changes["example"] >= len(self.data.test_y):
            raise ValueError(f"there are {len(self.data.test_y)} held-out images; example {changes['example']} "
                             "is not one of them")
        if "lr" in changes:
            for optimizer in self.optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = float(changes["lr"])
        if "attack" in changes and changes["attack"] != self.hp.get("attack"):
            self._curves = None  # measured for the other attack

    def train_step(self) -> dict[str, float]:
        index = torch.randint(0, len(self.data.train_x), (int(self.hp["batch_size"]),), generator=self.rng)
        index = index.to(self.device)
        x, y = self.data.train_x[index], self.data.train_y[index]
        metrics = {}
        for name, network in self.networks.items():
            loss = nn.functional.cross_entropy(network(x), y)
            if name == "robust":
                adversarial = attack("fgsm", network, x, y, self.config.train_eps * self.data.level)
                loss = (1 - ADVERSARIAL_SHARE) * loss + ADVERSARIAL_SHARE * nn.functional.cross_entropy(
                    network(adversarial), y)
            optimizer = self.optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            metrics["loss" if name == "cnn" else f"{name}_loss"] = loss.item()
        return metrics

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (f"The {name} became {value} at step {step}: the learning rate {self.hp['lr']:g} is too large. "
                "Lower it (1e-3 to 1e-2 suits these networks with Adam) and press Reset.")

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = {}
        x, y = self.data.test_x, self.data.test_y
        for name, network in self.networks.items():
            network.eval()
            logits = network(x)
            network.train()
            prefix = "" if name == "cnn" else f"{name}_"
            metrics[f"{prefix}test_loss"] = float(nn.functional.cross_entropy(logits, y))
            metrics[f"{prefix}test_accuracy"] = float((logits.argmax(dim=1) == y).float().mean())
        return metrics

    # ------------------------------------------------------------- what the page inspects
    def observe(self) -> CnnVisuals:
        for network in self.networks.values():
            network.eval()
        try:
            with torch.enable_grad():  # the job observes under no_grad; saliency and attacks need gradients
                return self._observe()
        finally:
            for network in self.networks.values():
                network.train()

    def _observe(self) -> CnnVisuals:
        data, example = self.data, min(int(self.hp["example"]), len(self.data.test_y) - 1)
        x, y = data.test_x[example:example + 1], data.test_y[example:example + 1]
        with torch.no_grad():
            maps, _ = self.cnn.features(x)
            logits = self.cnn(data.test_x)
            predicted = logits.argmax(dim=1)
        truth = data.test_y.cpu().numpy()
        guessed = predicted.cpu().numpy()
        confusion = np.zeros((len(data.classes),) * 2, dtype=np.int64)
        np.add.at(confusion, (truth, guessed), 1)
        wrong = np.flatnonzero(truth != guessed)[:MISTAKES_SHOWN]
        return CnnVisuals(
            classes=data.classes, cnn_parameters=parameter_count(self.cnn), mlp_parameters=parameter_count(self.mlp),
            mlp_hidden=self.mlp.net[1].out_features, example=example, image=as_image(x), label=int(y),
            cnn_probabilities=torch.softmax(logits[example], 0).cpu().numpy(),
            mlp_probabilities=torch.softmax(self.mlp(x)[0], 0).detach().cpu().numpy(),
            filters=self.cnn.blocks[0][0].weight.detach()[:, 0].cpu().numpy().copy(),
            feature_maps=tuple(m[0].detach().cpu().numpy() for m in maps), confusion=confusion,
            mistakes=data.test_x[wrong, 0].cpu().numpy(), mistake_labels=truth[wrong],
            mistake_predictions=guessed[wrong],
            shift=self._shift_view(example, maps[0][0]) if self.hp["shift_view"] else None,
            attack=self._attack_view(x, y),
            state={name: value.detach().cpu().clone() for name, value in self.cnn.state_dict().items()})

    def _shift_view(self, example: int, first_maps: torch.Tensor) -> ShiftView:
        dy, dx = int(self.hp["shift_y"]), int(self.hp["shift_x"])
        circular = self.config.padding == "circular"
        test_x, test_y = self.data.test_x, self.data.test_y
        x = test_x[example:example + 1]
        channel = int(first_maps.abs().mean(dim=(-2, -1)).argmax())
        with torch.no_grad():
            moved_maps, _ = self.cnn.features(shift_images(x, dy, dx, circular=circular))
        probabilities = {}
        for name in ("cnn", "mlp"):
            before, after = probability_shift(self.networks[name], test_x, dy, dx)
            probabilities[name] = before, after
        accuracy = {name: float((after.argmax(1) == test_y.cpu().numpy()).mean())
                    for name, (_, after) in probabilities.items()}
        change = {name: float(0.5 * np.abs(after - before).sum(1).mean())
                  for name, (before, after) in probabilities.items()}
        return ShiftView(
            dy, dx, circular, as_image(shift_images(x, dy, dx)),
            tuple(equivariance(self.cnn, test_x[:CURVES_IMAGES], dy, dx, circular)),
            moved_maps[0][0, channel].cpu().numpy(),
            as_image(shift_images(first_maps[channel], dy, dx, circular=circular)), channel,
            probabilities["cnn"][0][example], probabilities["cnn"][1][example],
            probabilities["mlp"][0][example], probabilities["mlp"][1][example],
            change["cnn"], change["mlp"], accuracy["cnn"], accuracy["mlp"])

    def _attack_view(self, x: torch.Tensor, y: torch.Tensor) -> AttackView:
        name, eps = self.hp["attack"], float(self.hp["eps"])
        level = self.data.level
        adversarial = attack(name, self.cnn, x, y, eps * level)
        with torch.no_grad():
            probabilities = torch.softmax(self.cnn(adversarial)[0], 0).cpu().numpy()
        now = time.monotonic()
        stale = self._curves is None or (self._curves.step != self.steps_done
                                         and (not self.training or now - self._curves_at >= CURVES_EVERY_S))
        if self.hp["attack_curves"] and stale:
            self._curves, self._curves_at = self.attack_curves(name), now
        return AttackView(name, eps, as_image(adversarial), as_image(adversarial - x) / level, probabilities,
                          as_image(saliency(self.cnn, x, y)), as_image(saliency(self.mlp, x, y)), self._curves)

    def attack_curves(self, name: str, eps_grid: tuple[float, ...] = EPS_GRID) -> AttackCurves:
        """Held-out accuracy against eps under attack `name`, for each network."""
        x, y = self.data.test_x[:CURVES_IMAGES], self.data.test_y[:CURVES_IMAGES]
        labels = {"cnn": "CNN", "mlp": "MLP", "robust": "CNN, adversarially trained"}
        eps = [e * self.data.level for e in eps_grid]
        return AttackCurves(name, np.array(eps_grid), tuple(
            (labels[key], np.array(accuracy_under_attack(name, network, x, y, eps)))
            for key, network in self.networks.items()), self.steps_done)


class CnnJob(Job):
    """A CNN, its MLP twin (and an adversarially trained copy) learning live."""

    trainer_type = CnnTrainer
    trainer: CnnTrainer

    def __init__(self, config: CnnConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or CnnConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
