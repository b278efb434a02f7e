"""Gradients through time: vanilla RNNs (tanh, ReLU), LSTM and GRU on a long-range recall task.

Training uses torch's fused nn.RNN / nn.LSTM / nn.GRU. To see ‖∂L/∂h_t‖ for every t,
the same weights are run again one step at a time (`unroll`), so each h_t is a node
autograd can differentiate to; the two agree with each other (tests check it).
The linear case h_t = w h_{t−1} + c x_t has the closed form ∂h_T/∂h_t = w^(T−t).
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

from engine.gradient_flow import CLIP_MODES, WeightsCopy, clip_gradients
from engine.runtime import Job
from engine.common.limits import LIMITS, ConfigError, check, check_choice

CELLS = {"rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
# Adam divides each step by the gradient's running size, so a gradient spike barely changes its step;
# SGD's step is the gradient itself, so a spike throws the weights away: that is where clipping matters.
RECURRENT_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD + momentum"}
MOMENTUM = 0.9
VANILLA = ("rnn_tanh", "rnn_relu")
MAX_SEQ_LEN, MAX_HIDDEN = int(LIMITS["gradients.seq_len"].high), int(LIMITS["gradients.rnn_hidden"].high)
N_SYMBOLS, N_DISTRACTORS = 4, 4  # chance on the recall task: 1 / N_SYMBOLS
# 256 held-out sequences measure accuracy to about ±3%; evaluating all cells on them once a second costs
# a fraction of training (with 512, twice a second, it took a third of the trainer's time).
PROBE_BATCH, EVAL_BATCH = 64, 256
EVAL_INTERVAL_S = 1.0  # what a page shows, once a second at most
EPOCH_SEQUENCES = 1024  # the task draws fresh sequences every step; an "epoch" is this many of them
PROBE_INTERVAL_S = EVAL_INTERVAL_S  # ‖∂L/∂h_t‖ needs a step-by-step unroll of every cell: once a second,
PROBE_COST_FACTOR = 10  # or rarer, so that probing takes at most ~1/10 of the time


# ---------------------------------------------------------------- the task
def recall_batch(seq_len: int, batch: int, generator: torch.Generator,
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Recall the first token: x (T, B, N_SYMBOLS + N_DISTRACTORS) one-hot, y (B,).

    Step 0 shows one of N_SYMBOLS symbols; steps 1..T−1 show random distractors; the target,
    read out after the last step, is the first symbol. Nothing but memory across T steps solves it.
    """
    signal = torch.randint(0, N_SYMBOLS, (batch,), generator=generator)
    tokens = N_SYMBOLS + torch.randint(0, N_DISTRACTORS, (seq_len, batch), generator=generator)
    tokens[0] = signal
    x = F.one_hot(tokens, N_SYMBOLS + N_DISTRACTORS).float()
    return x.to(device), signal.to(device)


# ---------------------------------------------------------------- models
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


def spectral_radius(matrix: torch.Tensor) -> float:
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max())


def random_recurrent_matrix(hidden: int, radius: float, generator: torch.Generator) -> torch.Tensor:
    """A Gaussian H×H matrix rescaled so that its largest |eigenvalue| is exactly `radius`."""
    matrix = torch.randn(hidden, hidden, generator=generator, dtype=torch.float64) / math.sqrt(hidden)
    return (matrix * (radius / spectral_radius(matrix))).float()


class SequenceClassifier(nn.Module):
    """One recurrent layer (torch's fused implementation) and a linear read-out of the last state."""

    def __init__(self, cell: str, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.cell = cell
        if cell in VANILLA:
            self.rnn = nn.RNN(n_in, hidden, nonlinearity=cell.removeprefix("rnn_"))
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](n_in, hidden)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x)
        return self.head(states[-1])

    @property
    def w_hh(self) -> torch.Tensor:
        return self.rnn.weight_hh_l0


def build_models(config: RecurrentConfig, generator: torch.Generator) -> dict[str, SequenceClassifier]:
    """The compared networks. Both vanilla RNNs start from the same W_hh (spectral radius as asked),
    so they differ only in their nonlinearity; the LSTM's forget gate and the GRU's update gate
    start with the bias asked for."""
    n_in = N_SYMBOLS + N_DISTRACTORS
    models = {cell: SequenceClassifier(cell, n_in, config.hidden, N_SYMBOLS) for cell in config.cells}
    w_hh = random_recurrent_matrix(config.hidden, config.spectral_radius, generator)
    with torch.no_grad():
        for cell, model in models.items():
            if cell in VANILLA:
                model.rnn.weight_hh_l0.copy_(w_hh)
                model.rnn.bias_hh_l0.zero_()
            if cell in ("lstm", "gru"):  # PyTorch's gate order: LSTM i, f, g, o; GRU r, z, n
                h = config.hidden
                model.rnn.bias_ih_l0[h:2 * h] = config.gate_bias
                model.rnn.bias_hh_l0[h:2 * h] = 0.0
    return models


def unroll(model: SequenceClassifier, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Run the model's own weights one step at a time: (logits, [h_1..h_T], [c_1..c_T] for LSTM, else []).

    Same arithmetic as torch's fused layers (PyTorch's gate order and bias layout), but every state
    is a separate autograd node, so ∂L/∂h_t can be read for each t.
    """
    rnn = model.rnn
    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    batch, hidden = x.shape[1], w_hh.shape[1]
    h = x.new_zeros(batch, hidden)
    c = x.new_zeros(batch, hidden)
    inputs = F.linear(x, w_ih, b_ih)  # (T, B, gates·H): the input part of every step at once
    states, cells = [], []
    for x_part in inputs:
        h_part = F.linear(h, w_hh, b_hh)
        if model.cell == "rnn_tanh":
            h = torch.tanh(x_part + h_part)
        elif model.cell == "rnn_relu":
            h = torch.relu(x_part + h_part)
        elif model.cell == "lstm":
            i, f, g, o = (x_part + h_part).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            cells.append(c)
        else:  # gru: r, z, n
            xr, xz, xn = x_part.chunk(3, dim=1)
            hr, hz, hn = h_part.chunk(3, dim=1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            h = (1 - z) * torch.tanh(xn + r * hn) + z * h
        states.append(h)
    return model.head(h), states, cells


def gradient_through_time(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """‖∂L/∂h_t‖ for t = 1..T (and ‖∂L/∂c_t‖ for an LSTM), L the recall loss read out after step T."""
    with torch.enable_grad():
        logits, states, cells = unroll(model, x)
        loss = F.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, states + cells)
    norms = torch.stack(torch._foreach_norm(list(grads))).double().cpu().numpy()
    out = {"h": norms[:len(states)]}
    if cells:
        out["c"] = norms[len(states):]
    return out


# ---------------------------------------------------------------- the linear case
def matrix_powers(w: torch.Tensor, seq_len: int) -> torch.Tensor:
    """The closed form of the same Jacobians: W^(T−t) for t = 0..T."""
    matrix = w.reshape(1, 1) if w.dim() == 0 else w
    powers = [torch.eye(matrix.shape[0], dtype=w.dtype)]
    for _ in range(seq_len):
        powers.append(matrix @ powers[-1])
    stacked = torch.stack(powers[::-1])
    return stacked[:, 0, 0] if w.dim() == 0 else stacked


def linear_gradient_profile(w: torch.Tensor, seq_len: int, direction: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """For L = direction · h_T of the linear RNN and t = 0..T: (measured ‖∂L/∂h_t‖, closed form ‖(W^(T−t))ᵀ direction‖).

    Measured by autograd through the unrolled recurrence in one backward pass; for a scalar w
    (direction 1) the closed form is |w|^(T−t).
    """
    scalar = w.dim() == 0
    matrix = w.reshape(1, 1) if scalar else w
    direction = direction.reshape(-1).to(w.dtype)
    inputs = torch.randn(seq_len, matrix.shape[0], dtype=w.dtype)  # the inputs do not change the gradients
    with torch.enable_grad():
        h = torch.zeros(matrix.shape[0], dtype=w.dtype, requires_grad=True)
        states = [h]
        for x_t in inputs:
            h = matrix @ h + x_t
            states.append(h)
        grads = torch.autograd.grad(direction @ h, states)
    measured = torch.stack([g.norm() for g in grads]).numpy()
    closed = (matrix_powers(matrix, seq_len).transpose(1, 2) @ direction).norm(dim=1).numpy()
    return measured, closed


# ---------------------------------------------------------------- the job
DEFAULT_HYPERPARAMETERS = {"lr": 0.003, "batch_size": 32, "clip": "off", "clip_at": 1.0}


class RecurrentJob(Job):
    """Trains every cell type on the same batches of the recall task, side by side.

    A cell whose gradients overflow stops on its own (the others train on); the job diverges only
    when all have. Snapshots carry ‖∂L/∂h_t‖ per cell at init and now, W_hh's eigenvalues and the
    linear closed form.
    """

    def __init__(self, config: RecurrentConfig | None = None, hyperparameters: dict[str, Any] | None = None, **kwargs):
        super().__init__(config or RecurrentConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})},
                         **kwargs)

    def setup(self) -> None:
        config: RecurrentConfig = self.config
        config.validate()
        self.models = {cell: model.to(self.device) for cell, model in build_models(config, self.rng).items()}
        self.weights = WeightsCopy()  # of every cell, as nn.ModuleDict(build_models(...)) names them
        lr = float(self.hp["lr"])
        self.optimizers = {cell: torch.optim.Adam(model.parameters(), lr=lr) if config.optimizer == "adam" else
                           torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
                           for cell, model in self.models.items()}
        self.stopped: dict[str, str] = {}  # cell -> why it stopped
        self._sequences_seen = 0
        self._probe_x, self._probe_y = recall_batch(config.seq_len, PROBE_BATCH, self.rng, self.device)
        self._eval_x, self._eval_y = recall_batch(config.seq_len, EVAL_BATCH, self.rng, self.device)
        self.init_gradients = self._gradients()
        self.gradients, self.gradients_step = self.init_gradients, 0
        self.init_eigenvalues = self._eigenvalues()
        self.eigenvalues = self.init_eigenvalues
        self.linear = self._linear_case()
        self._next_probe_at = time.monotonic() + PROBE_INTERVAL_S
        self._next_eval_at = 0.0

    def _linear_case(self) -> dict[str, Any]:
        """The linear RNN with w = ρ (scalar) and with the vanilla RNNs' own W_hh (matrix), their tanh removed."""
        config: RecurrentConfig = self.config
        radius = torch.tensor(config.spectral_radius, dtype=torch.float64)
        scalar = linear_gradient_profile(radius, config.seq_len, torch.ones(1))
        case = {"t": np.arange(config.seq_len + 1), "w": config.spectral_radius,
                "scalar_measured": scalar[0], "scalar_closed": scalar[1]}
        w_hh = next((m.w_hh for c, m in self.models.items() if c in VANILLA), None)
        if w_hh is not None:
            direction = torch.randn(config.hidden, generator=self.rng, dtype=torch.float64)
            case["matrix_measured"], case["matrix_closed"] = linear_gradient_profile(
                w_hh.detach().double().cpu(), config.seq_len, direction / direction.norm())
        return case

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        if "batch_size" in changes and not 1 <= int(changes["batch_size"]) <= 1024:
            raise ValueError("the batch size must be between 1 and 1024")
        if "clip" in changes and changes["clip"] not in CLIP_MODES:
            raise ValueError(f"unknown clipping {changes['clip']!r}")
        if "lr" in changes:
            for optimizer in self.optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = float(changes["lr"])

    @property
    def epoch(self) -> float:
        return self._sequences_seen / EPOCH_SEQUENCES

    def _gradients(self) -> dict[str, dict[str, np.ndarray]]:
        return {cell: gradient_through_time(model, self._probe_x, self._probe_y) for cell, model in self.models.items()}

    def _eigenvalues(self) -> dict[str, np.ndarray]:
        """W_hh's eigenvalues per vanilla RNN still training (a stopped one's weights were thrown far away)."""
        return {cell: torch.linalg.eigvals(model.w_hh.detach().double().cpu()).numpy()
                for cell, model in self.models.items() if cell in VANILLA and cell not in self.stopped}

    def train_step(self) -> dict[str, float]:
        x, y = recall_batch(self.config.seq_len, int(self.hp["batch_size"]), self.rng, self.device)
        self._sequences_seen += len(y)
        clip, clip_at = self.hp["clip"], float(self.hp["clip_at"])
        metrics, losses = {}, []
        for cell, model in self.models.items():
            if cell in self.stopped:
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
                self.stopped[cell] = (f"{CELLS[cell]} stopped at step {self.steps_done + 1}: its {what} became "
                                      f"{loss_value if what == 'loss' else norm_value} (exploding gradients).")
                self.eigenvalues = {c: v for c, v in self.eigenvalues.items() if c != cell}  # its W_hh is gone
                continue
            clip_gradients(params, clip, clip_at, total)
            optimizer.step()
            losses.append(loss_value)
            metrics[f"loss_{cell}"] = loss_value
            metrics[f"grad_norm_{cell}"] = norm_value
        metrics["loss"] = float(np.mean(losses)) if losses else math.nan
        return metrics

    def evaluate(self) -> dict[str, float]:
        now = time.monotonic()
        if now < self._next_eval_at:
            return {}
        self._next_eval_at = now + EVAL_INTERVAL_S
        return {f"accuracy_{cell}": float((model(self._eval_x).argmax(dim=1) == self._eval_y).float().mean())
                for cell, model in self.models.items() if cell not in self.stopped}

    def observe(self) -> dict[str, Any]:
        now = time.monotonic()
        if self.steps_done != self.gradients_step and now >= self._next_probe_at:
            live = {cell: model for cell, model in self.models.items() if cell not in self.stopped}
            fresh = {cell: gradient_through_time(model, self._probe_x, self._probe_y) for cell, model in live.items()}
            self.gradients, self.gradients_step = {**self.gradients, **fresh}, self.steps_done
            self.eigenvalues = self._eigenvalues()
            spent = time.monotonic() - now  # long sequences make a probe slow: then probe less often
            self._next_probe_at = time.monotonic() + max(PROBE_INTERVAL_S, PROBE_COST_FACTOR * spent)
        self.weights.refresh(nn.ModuleDict(self.models), self.steps_done, self._busy())
        return {"init_gradients": self.init_gradients, "gradients": self.gradients,
                "gradients_step": self.gradients_step, "init_eigenvalues": self.init_eigenvalues,
                "eigenvalues": self.eigenvalues,
                "linear": self.linear, "stopped": dict(self.stopped),
                "state": self.weights.state, "state_step": self.weights.step}

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (" ".join(self.stopped.values()) + " Every cell's gradients exploded: lower the learning rate, "
                "turn on gradient clipping or lower the spectral radius, then press Reset.")
