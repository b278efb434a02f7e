"""What defines the through-time experiment on the Gradient Flow page: its configuration, the cells and
optimizers it offers (with their labels), the recall task's alphabet and its live hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.common.clipping import check_clipping
from engine.common.limits import LIMITS, ConfigError, check, check_choice

CELLS = {"rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
VANILLA = ("rnn_tanh", "rnn_relu")
# Adam divides each step by the gradient's running size, so a gradient spike barely changes its step;
# SGD's step is the gradient itself, so a spike throws the weights away: that is where clipping matters.
RECURRENT_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD + momentum"}
MAX_SEQ_LEN, MAX_HIDDEN = int(LIMITS["gradients.seq_len"].high), int(LIMITS["gradients.rnn_hidden"].high)
N_SYMBOLS, N_DISTRACTORS = 4, 4  # chance on the recall task: 1 / N_SYMBOLS

DEFAULT_HYPERPARAMETERS = {"lr": 0.003, "batch_size": 32, "clip": "off", "clip_at": 1.0}


@dataclass(frozen=True)
class RecurrentConfig:
    """What defines the through-time experiment; changing any of it rebuilds all four networks."""

    seq_len: int = 50
    hidden: int = 32
    spectral_radius: float = 0.8  # of the vanilla RNNs' W_hh at init
    # Bias at init of the gate that keeps the old state: the LSTM's forget gate f and the GRU's update gate z.
    # σ(b) is the share of the state kept per step when the other inputs to the gate are small.
    gate_bias: float = 3.0
    cells: tuple[str, ...] = tuple(CELLS)
    optimizer: str = "adam"

    def validate(self) -> None:
        check("gradients.seq_len", self.seq_len)
        check("gradients.rnn_hidden", self.hidden)
        if not 0.0 < self.spectral_radius <= 3.0:
            raise ConfigError("The spectral radius must be in (0, 3].")
        check_choice("optimizer", self.optimizer, tuple(RECURRENT_OPTIMIZERS))
        if not self.cells or set(self.cells) - set(CELLS):
            raise ConfigError(f"Choose cells among {', '.join(CELLS)}.")


def check_hyperparameters(changes: dict[str, Any]) -> None:
    """Refuse live hyperparameter `changes` the recurrent trainer cannot apply, naming what is wrong."""
    if "batch_size" in changes and not 1 <= int(changes["batch_size"]) <= 1024:
        raise ValueError("the batch size must be between 1 and 1024")
    check_clipping(changes)
