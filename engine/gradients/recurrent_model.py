"""The through-time experiment's pieces: the recall task, the cells (torch's fused layers, and the same
weights unrolled one step at a time), gradients through time, and the linear case.

Training uses torch's fused nn.RNN / nn.LSTM / nn.GRU. To see ‖∂L/∂h_t‖ for every t,
the same weights are run again one step at a time (`unroll`), so each h_t is a node
autograd can differentiate to; the two agree with each other (tests check it).
The linear case h_t = w h_{t−1} + c x_t has the closed form ∂h_T/∂h_t = w^(T−t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.gradients.recurrent_config import N_DISTRACTORS, N_SYMBOLS, VANILLA, RecurrentConfig


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


@dataclass(frozen=True)
class CellGradients:
    """How far back one cell's error reaches: ‖∂L/∂h_t‖ for t = 1..T, and for an LSTM ‖∂L/∂c_t‖ too."""

    cell: str
    h: np.ndarray
    c: np.ndarray | None = None


def gradient_through_time(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor) -> CellGradients:
    """‖∂L/∂h_t‖ for t = 1..T (and ‖∂L/∂c_t‖ for an LSTM), L the recall loss read out after step T."""
    with torch.enable_grad():
        logits, states, cells = unroll(model, x)
        loss = F.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, states + cells)
    norms = torch.stack(torch._foreach_norm(list(grads))).double().cpu().numpy()
    return CellGradients(model.cell, norms[:len(states)], norms[len(states):] if cells else None)


@dataclass(frozen=True)
class CellEigenvalues:
    """The eigenvalues of one vanilla RNN's W_hh (complex)."""

    cell: str
    values: np.ndarray


def eigenvalues_of(model: SequenceClassifier) -> CellEigenvalues:
    return CellEigenvalues(model.cell, torch.linalg.eigvals(model.w_hh.detach().double().cpu()).numpy())


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


@dataclass(frozen=True)
class LinearCase:
    """The linear RNN's gradient profile for t = 0..T, measured and in closed form: with w = ρ (a scalar), and
    with the vanilla RNNs' own W_hh (None when no vanilla RNN is compared)."""

    t: np.ndarray
    w: float
    scalar_measured: np.ndarray
    scalar_closed: np.ndarray
    matrix_measured: np.ndarray | None = None
    matrix_closed: np.ndarray | None = None
