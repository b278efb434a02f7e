"""What a character language model must beat: count models, in plain NumPy.

Every model here is scored the same way as the recurrent one (engine.words.charlm_model.bits_per_char): the
mean of -log2 p(c_t | what came before) over the characters c_1 .. c_{N-1} of a text, its first character being
context only, so all of them score exactly the same characters.

- Unigram: p(c) = (n(c) + 1) / (N + V), counts over the training text with one added to each of the V symbols
  (Laplace), so that a symbol the training text lacks (UNKNOWN) still gets a probability. On a long text this
  is the maximum-likelihood estimate to within a thousandth of a bit.
- Bigram with add-k smoothing: p(b | a) = (n(a, b) + k) / (n(a) + k V), where n(a, b) counts a followed by b
  and n(a) = Σ_b n(a, b). k is chosen on a grid by the bits per character it gives the validation slice when
  counting only what precedes that slice; the chosen k is then applied to the counts of the whole training
  part (engine.words.charlm_text says where each part is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.words.charlm_text import CharCorpus

# Add-k's k from 0.001 to 10, four to a decade: the best k on a character text lies well inside it.
K_GRID = tuple(float(k) for k in np.round(10.0 ** np.arange(-3.0, 1.01, 0.25), 6))


def bigram_counts(ids: np.ndarray, size: int) -> np.ndarray:
    """n(a, b): how often symbol a is followed by symbol b in `ids`, as a (size, size) float array."""
    pairs = ids[:-1] * size + ids[1:]
    return np.bincount(pairs, minlength=size * size).reshape(size, size).astype(np.float64)


@dataclass(frozen=True)
class BigramModel:
    """An add-k smoothed bigram model: rows are the previous symbol, columns the next."""

    counts: np.ndarray  # (V, V) n(a, b)
    k: float

    def probabilities(self) -> np.ndarray:
        """(V, V) p(b | a); every row sums to 1."""
        size = len(self.counts)
        return (self.counts + self.k) / (self.counts.sum(axis=1, keepdims=True) + self.k * size)

    def after(self, previous: int) -> np.ndarray:
        """(V,) p(· | previous)."""
        row = self.counts[previous]
        return (row + self.k) / (row.sum() + self.k * len(row))

    def bits_per_char(self, ids: np.ndarray) -> float:
        previous, following = ids[:-1], ids[1:]
        size = len(self.counts)
        log_p = np.log(self.counts[previous, following] + self.k) \
            - np.log(self.counts.sum(axis=1)[previous] + self.k * size)
        return float(-log_p.mean() / math.log(2))


def unigram_bits_per_char(train: np.ndarray, text: np.ndarray, size: int) -> float:
    """Bits per character of the add-one unigram model counted on `train`, over text[1:]."""
    p = (np.bincount(train, minlength=size) + 1.0) / (len(train) + size)
    return float(-np.log2(p[text[1:]]).mean())


def validation_bits(fit: np.ndarray, validation: np.ndarray, size: int, grid=K_GRID) -> np.ndarray:
    """Bits per character of the validation text under the bigram counted on `fit`, for each k of `grid`."""
    counts = bigram_counts(fit, size)
    return np.array([BigramModel(counts, k).bits_per_char(validation) for k in grid])


@dataclass(frozen=True)
class Baselines:
    """The count models' bits per character on the held-out text, and how the bigram's k was chosen."""

    unigram_bpc: float
    bigram_bpc: float
    bigram_k: float
    k_grid: np.ndarray  # the k tried
    validation_bpc: np.ndarray  # the validation slice's bits per character at each k (k_grid's order)


def fit_baselines(corpus: CharCorpus, grid=K_GRID) -> tuple[Baselines, BigramModel]:
    """Tune k on the validation slice, then count the whole training part; score both on the held-out text."""
    size, train = corpus.size, corpus.train
    tried = validation_bits(train[:corpus.validation_start], train[corpus.validation_start:], size, grid)
    k = float(grid[int(np.argmin(tried))])
    bigram = BigramModel(bigram_counts(train, size), k)
    baselines = Baselines(unigram_bpc=unigram_bits_per_char(train, corpus.held_out, size),
                          bigram_bpc=bigram.bits_per_char(corpus.held_out), bigram_k=k,
                          k_grid=np.array(grid, dtype=np.float64), validation_bpc=tried)
    return baselines, bigram
