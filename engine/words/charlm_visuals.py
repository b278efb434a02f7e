"""What the character language model's page shows: typed, frozen and picklable (engine.runtime.trainer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.words.charlm_baselines import Baselines

TOP_CHARACTERS = 15  # a next-character table shows this many, the rest summed


@dataclass(frozen=True)
class NextCharacters:
    """A next-character distribution, cut to its most probable characters."""

    chars: tuple[str, ...]  # most probable first; UNKNOWN (engine.words.charlm_text) stands for unknown ones
    probabilities: np.ndarray  # (len(chars),) float64
    rest: float  # the probability of every other character, together

    @classmethod
    def top(cls, probabilities: np.ndarray, symbols: tuple[str, ...], count: int = TOP_CHARACTERS) -> NextCharacters:
        order = np.argsort(-probabilities, kind="stable")[:count]
        shown = probabilities[order].astype(np.float64)
        return cls(tuple(symbols[i] for i in order), shown, float(max(0.0, probabilities.sum() - shown.sum())))


@dataclass(frozen=True)
class CharModelVisuals:
    """Samples and next-character distributions of the model as it is now, and what it is measured against."""

    samples: tuple[tuple[float, str], ...]  # (temperature, sample) in the order of the hyperparameter's temperatures
    prefix: str  # the prefix the samples continue (characters outside the alphabet left out: see `problem`)
    next_model: NextCharacters  # the model's next character after the prefix, at temperature 1
    next_bigram: NextCharacters  # the bigram baseline's after the prefix's last character
    baselines: Baselines  # the count models' held-out bits per character
    alphabet_size: int  # symbols, UNKNOWN included when the held-out text needs it
    train_chars: int
    held_out_chars: int
    held_out_slice_chars: int  # how many held-out characters the live "held_out_bpc" metric reads (from its start)
    bptt_used: int  # the chunk length trained on: the bptt hyperparameter, or less when the streams are shorter
    sampled_at_step: int  # the training steps the model had taken when it was sampled (while training, samples
    # are drawn at most about once a second, so they may be a little older than the snapshot)
    problem: str | None  # why the prefix could not be used as typed; None when it could
