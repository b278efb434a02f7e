"""The Backprop-by-hand page's experiment as data: the data, the architecture and every weight (a link opens the
same hand-built network). Empty weights mean the seed's random start."""

from __future__ import annotations

import numpy as np

from engine.backprop.data import DATA, DATA_LABELS, PLAYGROUND, examples
from engine.backprop.network import ACTIVATION_LABELS, ACTIVATIONS, MAX_LAYERS, MAX_WIDTH, Architecture
from engine.common.export import shown
from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class

LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
NOISE = (0.0, 0.1, 0.25, 0.5)
MAX_EXAMPLES = 81  # the largest data set here: max(a, b) on a 9×9 grid
SIGNIFICANT = 6
LARGEST_WEIGHT = 1e6  # weights are kept to six significant digits, so the link holds exactly what the page uses

CONTROLS: tuple[Control, ...] = (
    Control("data", "select", "Data", "xor_bool", options=DATA, labels=DATA_LABELS),
    Control("noise", "select_slider", "Noise", 0.0, options=NOISE, shown=lambda before: before["data"] in PLAYGROUND),
    Control("layers", "slider", "Hidden layers", 1, low=0, high=MAX_LAYERS),
    Control("width", "slider", "Units per hidden layer", 2, low=1, high=MAX_WIDTH,
            shown=lambda before: before["layers"] > 0),
    Control("act", "select", "Hidden activation", "relu", options=ACTIVATIONS, labels=ACTIVATION_LABELS,
            shown=lambda before: before["layers"] > 0),
    Control("weights", "text", "Weights and biases", "", max_chars=2000,
            help="Every weight, layer by layer (each W row by row, then its b), comma-separated: what a link "
                 "holds. Empty: the seed's random start."),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="The random start when no weights are given, and the Playground data's draw."),
    Control("example", "slider", "Example shown", 4, low=1, high=MAX_EXAMPLES,
            help="The training example whose numbers the graph shows (the update uses the mean over all)."),
    Control("lr", "select_slider", "Learning rate η", 0.3, options=LEARNING_RATES),
)


def weights_text(flat) -> str:
    """The weights as the link holds them: comma-separated, six significant digits."""
    return ", ".join(f"{float(v):.{SIGNIFICANT}g}" for v in flat)


@spec_class
class BackpropSpec(Spec):
    """One Backprop-by-hand page (see CONTROLS)."""

    PREFIX = "bp_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("bp_stage",)  # the step-through's stage

    def examples(self):
        return examples(self.data, float(self.noise), int(self.seed))

    def arch(self) -> Architecture:
        loss = "mse" if self.data == "max" else "bce"
        hidden = (int(self.width),) * int(self.layers)
        return Architecture(hidden=hidden, activation=self.act, loss=loss)

    def flat(self) -> np.ndarray:
        """The weights: the text's, or the seed's random start. ConfigError if the text does not fit."""
        arch = self.arch()
        if not self.weights.strip():
            return np.round(arch.initial(np.random.default_rng(int(self.seed))), 4)
        try:
            values = np.array([float(part) for part in self.weights.replace(";", ",").split(",") if part.strip()])
        except ValueError:
            raise ConfigError("bp_weights (Weights and biases) must be numbers separated by commas") from None
        if values.size != arch.parameter_count:
            raise ConfigError(f"bp_weights (Weights and biases) must be {arch.parameter_count} numbers for this "
                              f"network, not {values.size}")
        fits = np.abs(values) <= LARGEST_WEIGHT  # False for NaN too
        if not fits.all():
            first = values[int(np.argmin(fits))]
            raise ConfigError(f"bp_weights (Weights and biases) must each be a number of size at most "
                              f"{LARGEST_WEIGHT:g} (larger ones overflow the units' sums); {shown(f'{first:g}')} "
                              "is not")
        return values
