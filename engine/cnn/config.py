"""One CNN experiment as plain data: the data set, the CNN (its MLP twin follows from it), and whether an
adversarially trained copy trains beside it. The learning rate, batch size and what the page inspects (the
example, the shift, the attack and its eps) are live hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.cnn.attacks import ATTACKS
from engine.cnn.model import PADDINGS, POOLINGS, CnnShape
from engine.common.layers import ACTIVATIONS
from engine.common.limits import ConfigError, check, check_choice

DATASETS = ("digits", "shapes", "shapes_centred")
DATASET_LABELS = {"digits": "Digits (8×8, scikit-learn)", "shapes": "Shapes (16×16, anywhere)",
                  "shapes_centred": "Shapes (16×16, centred)"}
ACTIVATION_CHOICES = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")


@dataclass(frozen=True)
class CnnConfig(CnnShape):
    """The CNN's shape (engine.cnn.model.CnnShape: what ConvNet is built from), and what it learns."""

    dataset: str = "digits"
    adversarial: bool = False  # also train a copy of the CNN on FGSM examples (same start, same batches)
    train_eps: float = 2.0  # its FGSM eps, in grey levels of 16

    def __post_init__(self) -> None:
        check_choice("data set", self.dataset, DATASETS)
        check("cnn.conv_layers", self.conv_layers)
        check("cnn.channels", self.channels)
        check("cnn.kernel", self.kernel)
        if self.kernel % 2 == 0:
            raise ConfigError(f"the kernel size must be odd, so 'same' padding keeps the map's size "
                              f"(got {self.kernel})")
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("padding", self.padding, PADDINGS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check("cnn.eps", self.train_eps)

    @property
    def setting(self) -> str:
        """The experiment in file names: e.g. digits-2x16-k3-max."""
        return (f"{self.dataset}-{self.conv_layers}x{self.channels}-k{self.kernel}-{self.pooling}"
                + ("-adv" if self.adversarial else ""))


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": 3e-3, "batch_size": 64,
    "example": 0,  # the held-out image the page inspects (feature maps, saliency, its attack, its shift)
    "shift_y": 2, "shift_x": 2,  # pixels down and right
    "attack": "fgsm", "eps": 2.0,  # grey levels of 16
    # Accuracy against eps (a few hundred attacks: 0.1-0.4 s a measurement) is measured only while a page shows it;
    # so is the shift view (both networks on every held-out image, shifted and not: 0.08 of an observation's 0.11 s
    # on the shapes, which a control change that rebuilds the experiment waited for).
    "attack_curves": False, "shift_view": False,
}


def check_hyperparameters(hp: dict[str, Any]) -> None:
    """Raise ConfigError for a live value the trainer cannot take."""
    if "lr" in hp:
        check("cnn.lr", hp["lr"])
    if "batch_size" in hp:
        check("cnn.batch_size", hp["batch_size"])
    for name in ("shift_y", "shift_x"):
        if name in hp:
            check("cnn.shift", hp[name])
    if "attack" in hp:
        check_choice("attack", hp["attack"], ATTACKS)
    if "eps" in hp:
        check("cnn.eps", hp["eps"])
    if "example" in hp and not (isinstance(hp["example"], int) and hp["example"] >= 0):
        raise ConfigError(f"the example must be a held-out image's number (0 or more), not {hp['example']!r}")
