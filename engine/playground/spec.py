"""The Network Playground's experiment as data: its control table and the spec it defines (engine.common.spec)."""

from __future__ import annotations

from typing import Any

from engine.common.layers import ACTIVATION_LABELS, INIT_SCHEMES
from engine.common.optimizers import OPTIMIZERS
from engine.common.schedules import SCHEDULES
from engine.common.spec import Control, Spec, spec_class
from engine.playground.config import (DEFAULT_HYPERPARAMETERS, FEATURE_LABELS, FEATURES, FEATURES_1D, LOSSES,
                                      MAX_HIDDEN_LAYERS, MAX_WIDTH, PlaygroundConfig)
from engine.playground.data import DATASET_LABELS, DATASETS, FUNCTIONS_1D, REGRESSION_2D, DataSpec

DEFAULT = PlaygroundConfig()  # the controls start from the engine's defaults
HP = DEFAULT_HYPERPARAMETERS
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
PENALTIES = (0.0, 0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1)
CLIP_NORMS = ("off", 0.1, 0.5, 1.0, 5.0)
SPEEDS = ("max", 1000, 100, 20, 5, 1)
TARGET_LOSSES = ("off", 0.2, 0.1, 0.05, 0.02, 0.01, 0.001)
PATIENCES = ("off", 5, 10, 20, 50, 100, 200)
SAME = "same"  # a layer's activation "as above"
LAYER_ACTIVATIONS = {SAME: "as above", **ACTIVATION_LABELS}
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
FIXED_GAMMA = ("constant", "power", "cosine")  # schedules without a decay factor γ
# Course notes 000 and 004 write dropout the original way (scaled at test time); torch and this app invert it.
DROPOUT_CONVENTIONS = (
    "p is the probability of dropping a hidden unit; m ~ Bernoulli(1 − p) keeps it. "
    "Here (inverted dropout, as in torch): h̃ = m·h/(1 − p) while training, h̃ = h at test time. "
    "Course notes 000 and 004: h̃ = m·h while training, h̃ = (1 − p)·h at test time (the keep probability). "
    "They agree in expectation: in both, the test-time activation is the mean training-time one.")
# One control, two regularizers: the link parameter pg_l2 stays, what it means depends on the optimizer.
L2_PENALTY_HELP = ("Adds λ·Σw² (over the weight matrices, not the biases) to the loss, so the gradient gains 2λw and "
                   "every optimizer treats it like the data's gradient. With AdamW this control is decoupled weight "
                   "decay instead.")
DECOUPLED_DECAY = {
    "label": "Weight decay λ (decoupled)",
    "help": "AdamW's decoupled weight decay, not the L2 penalty λ·Σw² of the other optimizers: at every step "
            "each parameter (biases too) shrinks by η·λ·w beside the Adam step, outside the gradient, so Adam's "
            "per-weight scaling does not weaken it. The same λ is a different regularizer here.",
}


def one_dimensional(kind: str) -> bool:
    return kind in FUNCTIONS_1D


def is_regression(kind: str, uploaded: tuple[tuple[float, float, float], ...] | None = None) -> bool:
    """Whether the data set is a regression task (then the loss is always the mean squared error)."""
    return kind in REGRESSION_2D + FUNCTIONS_1D or (
        kind == "csv" and any(row[2] != int(row[2]) for row in uploaded or ()))


def _layer_controls(layer: int) -> tuple[Control, Control]:
    default_width = DEFAULT.hidden[layer - 1] if layer <= len(DEFAULT.hidden) else 4
    shown = lambda before: before["layers"] >= layer  # noqa: E731
    return (Control(f"w{layer}", "number", f"Layer {layer}", default_width, low=1, high=MAX_WIDTH,
                    limit="playground.width", shown=shown),
            Control(f"a{layer}", "select", f"Activation {layer}", SAME, options=tuple(LAYER_ACTIVATIONS),
                    labels=LAYER_ACTIVATIONS, shown=shown))


CONTROLS: tuple[Control, ...] = (
    # Data
    Control("data", "select", "Data set", DEFAULT.data.kind, options=DATASETS + ("csv",), labels=DATASET_LABELS),
    Control("classes", "slider", "Classes", 3, low=3, high=5, limit="playground.classes",
            shown=lambda before: before["data"] == "multiclass"),
    Control("points", "slider", "Points", DEFAULT.data.n_points, low=50, high=2000, step=50,
            limit="playground.points"),
    Control("noise", "slider", "Noise", 0.0, low=0.0, high=1.0, step=0.05,
            help="Jitter added to the points (or labels), as a fraction of the data set's scale."),
    Control("split", "slider", "Training share (%)", round(100 * DEFAULT.data.train_fraction), low=10, high=90,
            step=5),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the data and the initial weights: the same seed gives the same run."),
    # Network
    Control("features_1d", "pills", "Input features", ("x1",), options=FEATURES_1D, labels=FEATURE_LABELS,
            shown=lambda before: one_dimensional(before["data"])),
    Control("features", "pills", "Input features", DEFAULT.features, options=tuple(FEATURES), labels=FEATURE_LABELS,
            shown=lambda before: not one_dimensional(before["data"])),
    Control("layers", "slider", "Hidden layers", len(DEFAULT.hidden), low=0, high=MAX_HIDDEN_LAYERS,
            limit="playground.hidden_layers"),
    Control("act", "select", "Activation", DEFAULT.activations[0], options=tuple(ACTIVATION_LABELS),
            labels=ACTIVATION_LABELS),
    *(control for layer in range(1, MAX_HIDDEN_LAYERS + 1) for control in _layer_controls(layer)),
    Control("init", "select", "Weight init", DEFAULT.init, options=tuple(INIT_SCHEMES),
            labels={name: scheme.label for name, scheme in INIT_SCHEMES.items()}),
    Control("bn", "toggle", "Batch norm", False),
    Control("dropout", "slider", "Dropout p", 0.0, low=0.0, high=0.5, step=0.05, help=DROPOUT_CONVENTIONS),
    # Training
    Control("loss", "select", "Loss", DEFAULT.loss, options=tuple(LOSSES), labels=LOSSES),
    Control("opt", "select", "Optimizer", DEFAULT.optimizer, options=tuple(OPTIMIZERS), labels=OPTIMIZERS),
    Control("lr", "select_slider", "Learning rate η", HP["lr"], options=LEARNING_RATES),
    Control("momentum", "slider", "Momentum β", HP["momentum"], low=0.0, high=0.99, step=0.01,
            shown=lambda before: before["opt"] in MOMENTUM_OPTIMIZERS),
    Control("batch", "slider", "Batch size", HP["batch_size"], low=1, high=256),
    Control("schedule", "select", "Learning-rate schedule", HP["schedule"], options=SCHEDULES),
    Control("gamma", "slider", "Decay γ", HP["schedule_gamma"], low=0.05, high=1.0, step=0.05),
    Control("period", "slider", "Period k (epochs)", int(HP["schedule_period"]), low=1, high=500),
    Control("power_c", "slider", "Exponent c", HP["schedule_power"], low=0.05, high=2.0, step=0.05, format="%.2f",
            shown=lambda before: before["schedule"] == "power",
            help="Course note 001's η₀/(1 + e/k)^c; c = ½ is the classic 1/√ decay."),
    Control("l1", "select_slider", "L1 rate", 0.0, options=PENALTIES),
    Control("l2", "select_slider", "L2 rate λ", 0.0, options=PENALTIES, help=L2_PENALTY_HELP),
    Control("clip", "select_slider", "Clip gradient norm at", "off", options=CLIP_NORMS),
    Control("speed", "select_slider", "Steps per second", "max", options=SPEEDS,
            help="Slow training down to watch each step."),
    Control("stop_epoch", "number", "Stop after epoch (0: never)", 0, low=0, high=100_000),
    Control("target", "select_slider", "Stop at training loss", "off", options=TARGET_LOSSES),
    Control("patience", "select_slider", "Early stopping: patience (epochs)", "off", options=PATIENCES,
            help="Stop once the validation loss has not improved for this many epochs, and go back to the "
                 "weights with the lowest validation loss. The validation points are drawn apart from the training "
                 "and test points (as many as the test points; an uploaded CSV gives a fifth of its training "
                 "share), so the test points never decide and their loss stays an honest estimate."),
)


@spec_class
class PlaygroundSpec(Spec):
    """One Playground experiment: a field per control of the page (see CONTROLS)."""

    PREFIX = "pg_"
    CONTROLS = CONTROLS

    def config(self, uploaded: tuple[tuple[float, float, float], ...] | None = None) -> PlaygroundConfig:
        """The network and data this spec trains (`uploaded`: the session's CSV points, for data "csv")."""
        data = DataSpec(kind=self.data, n_points=self.points, noise=self.noise, train_fraction=self.split / 100,
                        n_classes=self.classes, seed=self.seed, uploaded=uploaded if self.data == "csv" else None)
        widths = tuple(getattr(self, f"w{layer}") for layer in range(1, self.layers + 1))
        overrides = (getattr(self, f"a{layer}") for layer in range(1, self.layers + 1))
        activations = tuple(self.act if override == SAME else override for override in overrides)
        return PlaygroundConfig(data=data, features=self.features_1d if one_dimensional(self.data) else self.features,
                                hidden=widths, activations=activations, init=self.init, batch_norm=self.bn,
                                dropout=self.dropout, loss="mse" if is_regression(self.data, uploaded) else self.loss,
                                optimizer=self.opt)

    def hyperparameters(self) -> dict[str, Any]:
        """The live hyperparameters (changed without rebuilding the network)."""
        return {
            "lr": float(self.lr), "momentum": float(self.momentum), "l1": float(self.l1), "l2": float(self.l2),
            "batch_size": int(self.batch), "clip_norm": None if self.clip == "off" else float(self.clip),
            "schedule": self.schedule, "schedule_gamma": float(self.gamma), "schedule_period": float(self.period),
            "schedule_power": float(self.power_c),
            "max_steps_per_second": None if self.speed == "max" else float(self.speed),
            "stop_at_epoch": int(self.stop_epoch) or None,
            "target_loss": None if self.target == "off" else float(self.target),
            "patience": None if self.patience == "off" else int(self.patience),
        }
