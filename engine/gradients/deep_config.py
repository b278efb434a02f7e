"""What defines a deep-network experiment on the Gradient Flow page: its configuration, the choices each
field offers (with their labels) and its live hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.common.clipping import CLIP_MODES as CLIP_MODES  # offered with the choices below
from engine.common.clipping import check_clipping
from engine.common.layers import ACTIVATION_LABELS, INIT_SCHEMES
from engine.common.limits import LIMITS, check, check_choice
from engine.common.optimizers import DEFAULT_MOMENTUM, OPTIMIZERS, RMSPROP_ALPHA
from engine.playground.data import DataSpec

MAX_DEPTH, MAX_WIDTH = int(LIMITS["gradients.depth"].high), int(LIMITS["gradients.width"].high)
DEEP_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "linear")
DEEP_INITS = ("zeros", "constant", "small_normal", "large_normal", "xavier_normal", "he", "lecun", "orthogonal")
NORMS = {"none": "None", "batch": "Batch norm", "layer": "Layer norm"}
# Where a residual block's activation sits: after its linear layer (h + f(Wh), the classic order), or before it
# (h + W f(h), the pre-activation order course note 002 recommends: the branch can then subtract as well as add)
RESIDUAL_ORDERS = {"post": "h + f(Wh)", "pre": "h + W f(h) (pre-activation)"}
DEEP_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")

ACTIVATION_CHOICES = {name: ACTIVATION_LABELS[name] for name in DEEP_ACTIVATIONS}
INIT_CHOICES = {name: INIT_SCHEMES[name].label for name in DEEP_INITS}
OPTIMIZER_CHOICES = {name: OPTIMIZERS[name] for name in DEEP_OPTIMIZERS}
OPTIMIZER_HELP = (f"torch's optimizers. SGD + momentum keeps μ = {DEFAULT_MOMENTUM:g} of its velocity; RMSProp's "
                  f"average of g² keeps α = {RMSPROP_ALPHA:g} per step, torch's default (course note 000 gives 0.9).")

DEFAULT_HYPERPARAMETERS = {
    "lr": 0.01, "batch_size": 64, "clip": "off", "clip_at": 1.0,
    "probes": True,  # False only for measuring what probes cost (bench/probes.py)
    "probe_every_step": False,
}


@dataclass(frozen=True)
class DeepConfig:
    """What defines a deep-network experiment; changing any of it rebuilds the network."""

    data: DataSpec = field(default_factory=lambda: DataSpec(kind="spiral", n_points=1000))
    depth: int = 20  # hidden layers
    width: int = 64
    activation: str = "relu"
    init: str = "he"  # a default that trains the spiral in ~2,000 steps; the page is about breaking it
    norm: str = "none"
    # nn.LayerNorm's elementwise_affine: a learned gain γ and shift β per unit after normalizing (torch's default;
    # course note 000's layer norm has no parameters: False)
    layer_norm_affine: bool = True
    residual: bool = False
    residual_order: str = "post"  # a key of RESIDUAL_ORDERS
    optimizer: str = "momentum"

    def validate(self) -> None:
        check("gradients.depth", self.depth)
        check("gradients.width", self.width)
        check_choice("activation", self.activation, DEEP_ACTIVATIONS)
        check_choice("weight init", self.init, DEEP_INITS)
        check_choice("normalization", self.norm, tuple(NORMS))
        check_choice("residual order", self.residual_order, tuple(RESIDUAL_ORDERS))
        check_choice("optimizer", self.optimizer, DEEP_OPTIMIZERS)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(f"layer {i}" for i in range(1, self.depth + 1)) + ("output",)


def check_hyperparameters(changes: dict[str, Any]) -> None:
    """Refuse live hyperparameter `changes` the deep trainer cannot apply, naming what is wrong."""
    if "batch_size" in changes and not 2 <= int(changes["batch_size"]) <= 1024:
        raise ValueError("the batch size must be between 2 and 1024")
    check_clipping(changes)
