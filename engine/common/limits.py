"""Every limit on what a user may ask of the engine, in one table, and the one check that enforces it.

One server is shared by a whole class: a URL, a typed number or an imported JSON file must
not be able to ask for a billion points or a thousand-layer network. Each engine config checks
its sizes here, so all limits are visible (and documented in the README) in one place, and every
refusal reads the same way: what was asked, what the limit is, and the limit's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real


class ConfigError(ValueError):
    """A configuration the engine refuses; the message says what to change."""


@dataclass(frozen=True)
class Limit:
    low: float
    high: float
    what: str  # how the message names the quantity


LIMITS: dict[str, Limit] = {
    # Network Playground
    "playground.points": Limit(10, 5000, "the number of data points"),
    "playground.classes": Limit(3, 5, "the number of classes of the multiclass blobs"),
    "playground.hidden_layers": Limit(0, 8, "the number of hidden layers"),
    "playground.width": Limit(1, 64, "the width of a hidden layer"),
    # Gradient Flow
    "gradients.depth": Limit(1, 50, "the depth (hidden layers)"),
    "gradients.width": Limit(1, 256, "the width of a hidden layer"),
    "gradients.seq_len": Limit(2, 200, "the sequence length T"),
    "gradients.rnn_hidden": Limit(2, 128, "the recurrent hidden size"),
    # Attention
    "attention.vocab_size": Limit(2, 64, "the vocabulary size"),
    "attention.seq_len": Limit(2, 16, "the sequence length"),
    "attention.induction_seq_len": Limit(6, 48, "the induction sequence length"),
    "attention.layers": Limit(1, 4, "the number of layers"),
    "attention.heads": Limit(1, 8, "the number of heads"),
    "attention.width": Limit(16, 128, "the model width"),
    "attention.rnn_hidden": Limit(8, 256, "the RNN hidden size"),
    "attention.train_size": Limit(16, 100_000, "the training set size"),
    "attention.heldout_size": Limit(16, 10_000, "the held-out set size"),
    "attention.batch_size": Limit(1, 1024, "the batch size"),
    # Diffusion
    "diffusion.points": Limit(100, 20_000, "the number of training points"),
    "diffusion.T": Limit(2, 2000, "the number of diffusion steps T"),
    "diffusion.width": Limit(8, 1024, "the network width"),
    "diffusion.depth": Limit(1, 8, "the network depth (blocks)"),
    "diffusion.batch_size": Limit(1, 4096, "the batch size"),
    "diffusion.lr": Limit(1e-5, 0.05, "the learning rate"),
    "diffusion.noise": Limit(0.0, 0.5, "the data noise"),
    # Convolutional networks
    "cnn.conv_layers": Limit(1, 3, "the number of conv layers"),
    "cnn.channels": Limit(1, 64, "the channels of a conv layer"),
    "cnn.kernel": Limit(1, 7, "the kernel size"),
    "cnn.batch_size": Limit(1, 1024, "the batch size"),
    "cnn.lr": Limit(1e-5, 1.0, "the learning rate"),
    "cnn.eps": Limit(0.0, 16.0, "the attack's eps (grey levels of 16)"),
    "cnn.shift": Limit(-6, 6, "the shift in pixels"),
    # Generative models: the VAE
    "vae.latent": Limit(1, 16, "the latent dimension"),
    "vae.width": Limit(8, 1024, "the width of a hidden layer"),
    "vae.depth": Limit(1, 4, "the number of hidden layers (of the encoder and of the decoder)"),
    "vae.lr": Limit(1e-5, 1.0, "the learning rate"),
    "vae.batch_size": Limit(1, 1024, "the batch size"),
    "vae.beta": Limit(0.0, 100.0, "the weight beta of the KL term"),
    "gan.width": Limit(4, 512, "the width of a hidden layer"),
    "gan.depth": Limit(1, 6, "the number of hidden layers"),
    "gan.lr": Limit(1e-6, 0.1, "the learning rate"),
    "gan.batch_size": Limit(8, 2048, "the batch size"),
    "gan.d_steps": Limit(1, 10, "the discriminator steps per generator step"),
    "gan.smoothing": Limit(0.0, 0.5, "the label smoothing"),
    # Words and sequences: tokens, word vectors, the character language model
    "words.text_chars": Limit(1, 200_000, "the length of a pasted text (characters)"),
    "words.merges": Limit(0, 2000, "the number of BPE merges"),
    "words.vocabulary": Limit(10, 5000, "the vocabulary size"),
    "words.dimensions": Limit(2, 300, "the number of dimensions of a word vector"),
    "words.window": Limit(1, 10, "the context window (words on each side)"),
    "words.negatives": Limit(1, 20, "the number of negative samples"),
    "words.subsample": Limit(0.0, 1.0, "the subsampling threshold t"),
    "words.lr": Limit(1e-5, 1.0, "the learning rate"),
    "words.batch_size": Limit(1, 8192, "the batch size (centre words per step)"),
    "charlm.text_chars": Limit(1000, 200_000, "the length of a text to learn from (characters)"),
    "charlm.hidden": Limit(8, 512, "the hidden size"),
    "charlm.layers": Limit(1, 3, "the number of recurrent layers"),
    "charlm.bptt": Limit(2, 256, "the truncated-BPTT length"),
    "charlm.batch_size": Limit(1, 256, "the batch size (sequences per step)"),
    "charlm.lr": Limit(1e-5, 0.1, "the learning rate"),
    "charlm.temperature": Limit(0.05, 5.0, "the sampling temperature"),
    "charlm.sample_chars": Limit(1, 2000, "the length of a sample (characters)"),
    # Optimizer trajectories and loss landscapes: work done inside one page request
    "trajectories.steps": Limit(1, 2000, "the number of optimizer steps"),
    "trajectories.condition": Limit(1.0, 10_000.0, "the condition number κ"),
    "trajectories.start": Limit(-100.0, 100.0, "a start coordinate"),
    "landscape.resolution": Limit(3, 201, "the grid resolution (points per axis)"),
    "landscape.span": Limit(0.01, 100.0, "the span of the plot"),
}


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def problem(name: str, value: object) -> str | None:
    """Why `value` breaks the limit called `name` (None when it does not): for configs that list every problem."""
    limit = LIMITS[name]
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) \
        and limit.low <= value <= limit.high
    if ok:
        return None
    return f"{limit.what} must be between {_shown(limit.low)} and {_shown(limit.high)}, not {value!r} (limit {name!r})"


def check(name: str, value: object) -> None:
    """Raise ConfigError unless `value` is a finite number within the limit called `name`."""
    message = problem(name, value)
    if message:
        raise ConfigError(message)


def check_choice(what: str, value: object, choices) -> None:
    """Raise ConfigError unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}; choose one of {', '.join(map(str, choices))}")
