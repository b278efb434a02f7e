"""The Words and sequences page's character language model as a plain trainer, and the job that runs it live.

A recurrent network (engine.words.charlm_model) learns to predict each next character of a text's first 90%
(engine.words.charlm_text) by truncated backpropagation through time, and is measured in bits per character on
the last 10%, against unigram and bigram count models (engine.words.charlm_baselines).

Training reads the text as `batch_size` parallel streams: the training part cut into that many contiguous
pieces. Each step takes the next `bptt` characters of every stream, starts from the state the previous step
ended in (detached, so gradients stop at the chunk's start while the state flows on), and at the streams' end
wraps around to their start from a zero state (a stream's end is not followed by its beginning). Changing the
batch size live re-cuts the streams and starts them over; changing bptt only changes the next chunks' length.

    trainer = CharModelTrainer(CharModelConfig(), seed=0)
    engine.runtime.train(trainer, 100)
    trainer.held_out_bpc()        # the whole held-out text; evaluate()'s "held_out_bpc" reads a fixed slice
    trainer.observe().samples     # ((0.5, "..."), (1.0, "..."), (1.5, "..."))
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from engine.common.clipping import check_clipping, clip_gradients
from engine.common.limits import ConfigError, check, check_choice
from engine.common.seeding import stream
from engine.runtime import Job, Trainer
from engine.words.charlm_baselines import Baselines, BigramModel, fit_baselines
from engine.words.charlm_model import CELLS, CharRnn, bits_per_char, chunk_loss, generate, initialize
from engine.words.charlm_text import CharCorpus
from engine.words.charlm_visuals import CharModelVisuals, NextCharacters
from engine.words.texts import BUNDLED, bundled_text, check_pasted

TEXTS = (*BUNDLED, "pasted")
MAX_TEMPERATURES = 6  # samples side by side
MAX_PREFIX_CHARS = 1000  # feeding the prefix costs a step per character, at every observation
# The live held-out figure reads the held-out text's first 4,096 characters (~30 ms for the default LSTM on one
# thread), at most once a second and at most 1/20 of the time; between two readings evaluate() has no figure.
HELD_OUT_SLICE, EVAL_INTERVAL_S, EVAL_COST_FACTOR = 4096, 1.0, 20
OBSERVE_INTERVAL_S, OBSERVE_COST_FACTOR = 1.0, 10


@dataclass(frozen=True)
class CharModelConfig:
    """What defines the experiment; changing any of it rebuilds the model (and recounts the baselines)."""

    text: str = "shakespeare"  # one of engine.words.texts.BUNDLED, or "pasted"
    pasted: str = ""  # the pasted text when text is "pasted", else ""
    cell: str = "lstm"  # one of CELLS
    hidden: int = 128
    layers: int = 1

    def __post_init__(self) -> None:
        check_choice("text", self.text, TEXTS)
        if self.text == "pasted":
            check_pasted(self.pasted, limit="charlm.text_chars")
        elif self.pasted != "":
            raise ConfigError(f"a pasted text is read only when the text is 'pasted', not {self.text!r}")
        check_choice("cell", self.cell, tuple(CELLS))
        for name in ("hidden", "layers"):
            _check_whole(f"charlm.{name}", name, getattr(self, name))

    def source(self) -> str:
        return self.pasted if self.text == "pasted" else bundled_text(self.text)


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": 3e-3,  # Adam's
    "bptt": 64,  # characters per chunk: how far back gradients reach
    "batch_size": 32,  # parallel streams
    "clip": "norm", "clip_at": 1.0,  # engine.common.clipping
    "prefix": "",  # what the samples continue; empty: they start after a newline (CharCorpus.start_symbol)
    "temperatures": (0.5, 1.0, 1.5),
    "sample_chars": 300,
    "max_steps_per_second": None,
}


def _check_whole(limit: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"the {name} must be a whole number, not {value!r}")
    check(limit, value)


def check_hyperparameters(changes: dict[str, Any]) -> None:
    """Raise ConfigError for a live value the trainer cannot take."""
    if "lr" in changes:
        check("charlm.lr", changes["lr"])
    for name in ("bptt", "batch_size", "sample_chars"):
        if name in changes:
            _check_whole(f"charlm.{name}", name.replace("_", " "), changes[name])
    try:
        check_clipping(changes)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if "prefix" in changes:
        prefix = changes["prefix"]
        if not isinstance(prefix, str) or len(prefix) > MAX_PREFIX_CHARS:
            raise ConfigError(f"the prefix must be text of at most {MAX_PREFIX_CHARS} characters")
    if "temperatures" in changes:
        temperatures = changes["temperatures"]
        if not isinstance(temperatures, (tuple, list)) or not 1 <= len(temperatures) <= MAX_TEMPERATURES:
            raise ConfigError(f"give from 1 to {MAX_TEMPERATURES} temperatures, not {temperatures!r}")
        for temperature in temperatures:
            check("charlm.temperature", temperature)


@functools.lru_cache(maxsize=4)
def corpus_and_baselines(text: str) -> tuple[CharCorpus, Baselines, BigramModel]:
    """A text cut into its parts and the count models fitted to it: a pure function of the text, ~0.1-0.3 s for
    tiny Shakespeare (a million characters to encode and count; more while a browser loads the page beside it),
    so made once per process and shared, read-only, by every job on that text (a class on the default text, a
    user coming back to one)."""
    corpus = CharCorpus.split(text)
    return corpus, *fit_baselines(corpus)


class CharModelTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: CharModelConfig = self.config
        check_hyperparameters(self.hp)
        self.corpus, self.baselines, self.bigram = corpus_and_baselines(config.source())
        self.model = CharRnn(config.cell, self.corpus.size, config.hidden, config.layers)
        initialize(self.model, stream(self.seed, "weights"))
        self.model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(self.hp["lr"]))
        self.train_ids = torch.from_numpy(self.corpus.train).to(self.device)
        self.held_out_ids = torch.from_numpy(self.corpus.held_out).to(self.device)
        self.chars_trained = 0
        self.updates = 0  # optimizer steps taken: what the cached evaluation and visuals are of
        self._cut_streams(int(self.hp["batch_size"]))
        self._next_eval_at, self._evaluated_at = 0.0, -1
        self._observed: tuple[tuple, CharModelVisuals] | None = None  # (prefix, temperatures, length), visuals
        self._next_observe_at = 0.0
        self.apply_hyperparameters(self.hp)

    def _cut_streams(self, batch_size: int) -> None:
        """The training ids as (stream length, batch_size): column b is the b-th contiguous piece (a tail shorter
        than a piece is left out); reading starts over at the top, from a zero state."""
        length = len(self.train_ids) // batch_size
        self.streams = self.train_ids[:length * batch_size].view(batch_size, length).t()
        self.position, self.rnn_state = 0, None

    @property
    def bptt_used(self) -> int:
        return min(int(self.hp["bptt"]), len(self.streams) - 1)

    @property
    def epoch(self) -> float:
        return self.chars_trained / len(self.train_ids)

    CHECKPOINTED = ("model", "optimizer", "position", "rnn_state", "chars_trained", "updates")

    def state(self) -> dict[str, Any]:
        return {**super().state(), "streams": self.streams.shape[1]}  # how the text was cut: the batch size then

    def load_state(self, state: dict[str, Any]) -> None:
        self._cut_streams(state["streams"])
        super().load_state(state)
        self._evaluated_at, self._observed = -1, None  # of other weights

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        # The limits keep every stream at least 3 characters long (900 training characters at least, 256 streams
        # at most), so a step always has a chunk to read.
        if "batch_size" in changes and changes["batch_size"] != self.streams.shape[1]:
            self._cut_streams(int(changes["batch_size"]))
        if "lr" in changes:
            for group in self.optimizer.param_groups:
                group["lr"] = float(changes["lr"])

    def train_step(self) -> dict[str, float]:
        if self.position >= len(self.streams) - 1:  # the streams are read to their end: start over
            self.position, self.rnn_state = 0, None
        length = min(self.bptt_used, len(self.streams) - 1 - self.position)
        chunk = self.streams[self.position:self.position + length + 1]
        loss, next_state = chunk_loss(self.model, chunk, self.rnn_state)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parameters = list(self.model.parameters())
        norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        clip_gradients(parameters, self.hp["clip"], float(self.hp["clip_at"]), norm)
        self.optimizer.step()
        self.rnn_state, self.position = next_state, self.position + length
        self.chars_trained += length * chunk.shape[1]
        self.updates += 1
        nats, norm_value = torch.stack([loss.detach(), norm]).tolist()
        return {"loss": nats, "train_bpc": nats / math.log(2), "grad_norm": norm_value}

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        clipping = "" if self.hp["clip"] != "off" else " or turn gradient clipping on (by norm, at 1)"
        return (f"The {name} became {value} at step {step}: the learning rate {self.hp['lr']:g} is too large for "
                f"this network. Lower it (1e-3 to 3e-3 suits Adam here){clipping} and press Reset.")

    def held_out_bpc(self) -> float:
        """Bits per character on the whole held-out text (what the bench reports)."""
        return bits_per_char(self.model, self.held_out_ids)

    def evaluate(self) -> dict[str, float]:
        """The live "held_out_bpc": bits per character on the held-out text's first HELD_OUT_SLICE characters
        (always the same ones), read at most once a second while training; between readings nothing (the
        history leaves the gap)."""
        now = time.monotonic()
        if self.updates == self._evaluated_at or (self.training and now < self._next_eval_at):
            return {}
        bpc = bits_per_char(self.model, self.held_out_ids[:HELD_OUT_SLICE])
        spent = time.monotonic() - now
        self._next_eval_at, self._evaluated_at = now + max(EVAL_INTERVAL_S, EVAL_COST_FACTOR * spent), self.updates
        return {"held_out_bpc": bpc}

    def observe(self) -> CharModelVisuals:
        """Samples from the same random stream at every observation: an unchanged model shows the same ones.
        While training, a changed model is sampled again at most once a second and at most 1/10 of the time (a
        big network's long samples take a while); a changed question (prefix, temperatures, length) at once."""
        question = (self.hp["prefix"], tuple(self.hp["temperatures"]), int(self.hp["sample_chars"]))
        now = time.monotonic()
        if self._observed is not None and self._observed[0] == question:
            visuals = self._observed[1]
            if visuals.sampled_at_step == self.updates or (self.training and now < self._next_observe_at):
                if visuals.bptt_used != self.bptt_used:  # a live bptt change: no need to sample again
                    self._observed = question, replace(visuals, bptt_used=self.bptt_used)
                return self._observed[1]
        visuals = self._observe(*question)
        self._observed = question, visuals
        self._next_observe_at = now + max(OBSERVE_INTERVAL_S, OBSERVE_COST_FACTOR * (time.monotonic() - now))
        return visuals

    def _observe(self, typed: str, temperatures: tuple[float, ...], length: int) -> CharModelVisuals:
        corpus = self.corpus
        unknown = corpus.unknown_in(typed)
        prefix = "".join(c for c in typed if c not in unknown)
        problem = None
        if unknown:
            problem = (f"The training text has no {', '.join(map(repr, unknown))}: the model cannot read "
                       f"{'it' if len(unknown) == 1 else 'them'}, so the prefix is used without "
                       f"{'it' if len(unknown) == 1 else 'them'}.")
        context = corpus.encode(prefix or corpus.start_symbol)
        picked, logits = generate(self.model, torch.from_numpy(context), tuple(float(t) for t in temperatures),
                                  length, stream(self.seed, "samples"))
        probabilities = torch.softmax(logits.double(), dim=0).cpu().numpy()
        return CharModelVisuals(
            samples=tuple((float(t), corpus.decode(row)) for t, row in zip(temperatures, picked.cpu().numpy())),
            prefix=prefix, next_model=NextCharacters.top(probabilities, corpus.symbols),
            next_bigram=NextCharacters.top(self.bigram.after(int(context[-1])), corpus.symbols),
            baselines=self.baselines, alphabet_size=corpus.size, train_chars=len(corpus.train),
            held_out_chars=len(corpus.held_out), held_out_slice_chars=min(HELD_OUT_SLICE, len(corpus.held_out)),
            bptt_used=self.bptt_used, sampled_at_step=self.updates, problem=problem)


def model_size(trainer: CharModelTrainer) -> int:
    """The network's number of parameters."""
    return sum(int(np.prod(p.shape)) for p in trainer.model.parameters())


class CharModelJob(Job):
    """A character language model learning live."""

    trainer_type = CharModelTrainer
    trainer: CharModelTrainer

    def __init__(self, config: CharModelConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or CharModelConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})},
                         **kwargs)
