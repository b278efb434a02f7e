"""The character-level recurrent language model: the network, one truncated-BPTT step's loss, its bits per
character on a text, and sampling at several temperatures.

The input is one-hot: at each step the recurrent layer multiplies the current character's one-hot vector by its
input weights W_ih, which simply picks W_ih's column for that character, so that column is the character's
learnt embedding and no separate embedding (nor a size for it) is needed. The cells are torch's own nn.RNN
(tanh), nn.GRU and nn.LSTM; a linear read-out of each step's top-layer state gives the next character's logits.

Truncated backpropagation through time: the text is read in chunks of `bptt` characters; the state at the end of
one chunk starts the next (so the network keeps its memory of everything before), but detached from the graph,
so gradients flow back at most to the start of their own chunk, and a step costs O(bptt) however long the text.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

CELLS = {"rnn": "RNN (tanh)", "gru": "GRU", "lstm": "LSTM"}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None  # an LSTM's is (h, c); None: zeros


class CharRnn(nn.Module):
    def __init__(self, cell: str, vocabulary: int, hidden: int, layers: int):
        super().__init__()
        self.cell, self.vocabulary = cell, vocabulary
        if cell == "rnn":
            self.recurrent = nn.RNN(vocabulary, hidden, layers, nonlinearity="tanh")
        else:
            self.recurrent = {"gru": nn.GRU, "lstm": nn.LSTM}[cell](vocabulary, hidden, layers)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, ids: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """ids (T, B) -> logits (T, B, V) of each next character, and the state after the last one."""
        x = F.one_hot(ids, self.vocabulary).to(self.head.weight.dtype)
        outputs, state = self.recurrent(x, state)
        return self.head(outputs), state


def initialize(model: CharRnn, generator: torch.Generator) -> None:
    """Every weight and bias uniform in ±1/√hidden (torch's own default for its recurrent layers), drawn from
    `generator` rather than torch's global RNG, which other jobs' threads share."""
    bound = 1.0 / math.sqrt(model.recurrent.hidden_size)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.empty(parameter.shape).uniform_(-bound, bound, generator=generator))


def detached(state: State) -> State:
    """The same state values, cut from the graph that made them."""
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return None if state is None else state.detach()


def chunk_loss(model: CharRnn, chunk: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """One truncated-BPTT step's loss: the mean cross-entropy (nats) of predicting chunk[1:] from chunk[:-1]
    (chunk: (T + 1, B)) starting from `state`; and the state to carry into the next chunk, detached."""
    logits, state = model(chunk[:-1], state)
    loss = F.cross_entropy(logits.reshape(-1, model.vocabulary), chunk[1:].reshape(-1))
    return loss, detached(state)


@torch.no_grad()
def bits_per_char(model: CharRnn, ids: torch.Tensor, chunk: int = 1024) -> float:
    """Mean -log2 p(c_t | c_0 .. c_{t-1}) over t = 1 .. N-1 of the 1-D ids: the text read once, in order, from a
    zero state, its first character context only (the count models in engine.words.charlm_baselines score the
    same characters). Read `chunk` characters at a time, the state carried over, which changes nothing."""
    total, state = 0.0, None
    for start in range(0, len(ids) - 1, chunk):
        piece = ids[start:start + chunk + 1]
        logits, state = model(piece[:-1].unsqueeze(1), state)
        total += float(F.cross_entropy(logits[:, 0], piece[1:], reduction="sum"))
    return total / (len(ids) - 1) / math.log(2)


def perplexity(model: CharRnn, ids: torch.Tensor) -> float:
    """2 ** bits per character: the number of equally likely characters that would be as surprising."""
    return 2.0 ** bits_per_char(model, ids)


def sample_from_logits(logits: torch.Tensor, temperatures: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One symbol per row of logits (K, V) from softmax(logits / T) at that row's temperature, by inverting the
    cumulative distribution at the row's uniform number in [0, 1)."""
    probabilities = torch.softmax(logits / temperatures.unsqueeze(1), dim=1)
    cumulative = probabilities.cumsum(dim=1)
    column = uniforms.to(cumulative.dtype).reshape(-1, 1).contiguous()
    picked = torch.searchsorted(cumulative, column, right=True)
    return picked.squeeze(1).clamp(max=logits.shape[1] - 1)  # rounding can leave the last sum a hair below 1


@torch.no_grad()
def generate(model: CharRnn, context: torch.Tensor, temperatures: tuple[float, ...], length: int,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Continue the 1-D `context` ids by `length` >= 1 symbols at each temperature: (K, length) ids, and the logits
    (V,) of the character right after the context.

    All temperatures read the same uniform number at each step (common random numbers): where two temperatures'
    distributions agree, so do their picks, and the samples differ only where the temperature matters."""
    device = model.head.weight.device
    logits, state = model(context.to(device).unsqueeze(1))
    after_context = logits[-1, 0]
    count = len(temperatures)
    if isinstance(state, tuple):
        state = tuple(part.repeat(1, count, 1) for part in state)
    else:
        state = state.repeat(1, count, 1)
    temperature = torch.tensor(temperatures, dtype=after_context.dtype, device=device)
    uniforms = torch.rand(length, generator=generator).to(device)
    current, picked = after_context.expand(count, -1), []
    for step in range(length):
        ids = sample_from_logits(current, temperature, uniforms[step].expand(count))
        picked.append(ids)
        logits, state = model(ids.unsqueeze(0), state)
        current = logits[0]
    return torch.stack(picked, dim=1), after_context
