"""Skip-gram with negative sampling (Mikolov et al. 2013), the pieces: a vocabulary, the subsampling of frequent
words, the training pairs, and the loss with its gradients in closed form.

Each word has two vectors: an input vector v (the row of the centre word, what the page shows) and an output
vector u (the row of a word seen as a context). For a centre c and a context o seen within the window, and k
negative words drawn from the unigram distribution raised to 0.75, the pair's loss is

    -log σ(u_o · v_c) - Σ_k log σ(-u_k · v_c)

which pulls the true context's score up and the noise words' down. Its gradients are short:

    d/dv_c = (σ(u_o · v_c) - 1) u_o + Σ_k σ(u_k · v_c) u_k
    d/du_o = (σ(u_o · v_c) - 1) v_c
    d/du_k = σ(u_k · v_c) v_c

so a step touches only the rows of the words in the batch, added in place with `index_add_` as word2vec's C code
does (summed over the batch, not averaged, so the learning rate means what word2vec's does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

NOISE_POWER = 0.75  # negatives come from count^0.75, normalized (Mikolov et al. 2013)


@dataclass(frozen=True)
class CountedText:
    """Sentences of words, kept as each token's index into the text's own distinct words, with their counts: a
    vocabulary is built from the counts and encodes the text by one lookup per distinct word. So a text that many
    corpora share (the template corpus's background, 200,000 words) is counted and indexed once per process, not
    again for every seed a user picks."""

    words: tuple[str, ...]  # the distinct words, in order of first appearance
    counts: tuple[int, ...]
    ids: np.ndarray  # (tokens,) int64: each token's index into `words`
    lengths: np.ndarray  # (sentences,) int64: tokens per sentence

    @classmethod
    def of(cls, sentences: Sequence[Sequence[str]]) -> CountedText:
        counter = Counter(chain.from_iterable(sentences))
        index = {word: i for i, word in enumerate(counter)}
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        # (one pass in C over the words: a loop per sentence took twice as long)
        ids = np.fromiter(map(index.__getitem__, chain.from_iterable(sentences)), dtype=np.int64,
                          count=int(lengths.sum()))
        return cls(tuple(counter), tuple(counter.values()), ids, lengths)


@dataclass(frozen=True)
class Vocabulary:
    """The `cap` most frequent words (ties by alphabet), most frequent first, with their counts."""

    words: tuple[str, ...]
    counts: np.ndarray  # (n,) int64

    @classmethod
    def build(cls, texts: Sequence[CountedText], cap: int) -> Vocabulary:
        totals: Counter[str] = Counter()
        for text in texts:
            totals.update(dict(zip(text.words, text.counts)))
        ranked = sorted(totals.items(), key=itemgetter(0))  # ties by alphabet,
        ranked.sort(key=itemgetter(1), reverse=True)  # then by count: a stable sort keeps ties in their order
        ranked = ranked[:cap]  # (two sorts on C keys: half the time of one on a Python key, which a user waited for)
        return cls(tuple(word for word, _ in ranked), np.array([count for _, count in ranked], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def encode(self, texts: Sequence[CountedText]) -> tuple[np.ndarray, np.ndarray]:
        """The texts, one after the other, as one stream of word indices and each token's sentence number
        (numbered on through the texts); words outside the vocabulary are dropped, as word2vec drops words below
        its min-count (the window then reaches past them)."""
        index, words, sentence_of, sentences = self.index, [], [], 0
        for text in texts:
            lookup = np.fromiter(map(index.get, text.words, repeat(-1)), dtype=np.int64, count=len(text.words))
            words.append(lookup[text.ids])
            sentence_of.append(np.repeat(np.arange(sentences, sentences + len(text.lengths)), text.lengths))
            sentences += len(text.lengths)
        words, sentence_of = np.concatenate(words), np.concatenate(sentence_of)
        known = words >= 0
        return words[known], sentence_of[known]


def drop_probability(counts: np.ndarray, t: float) -> np.ndarray:
    """Subsampling: the chance each word is dropped from a pass over the corpus, 1 - sqrt(t / f(w)) clipped to
    [0, 1], where f(w) is the word's share of the corpus's (in-vocabulary) tokens. t = 0 turns it off; a word
    rarer than t is never dropped."""
    counts = np.asarray(counts, dtype=np.float64)
    if t <= 0:
        return np.zeros_like(counts)
    share = counts / counts.sum()
    return np.clip(1.0 - np.sqrt(t / share), 0.0, 1.0)


def noise_distribution(counts: np.ndarray) -> torch.Tensor:
    weights = torch.as_tensor(counts, dtype=torch.float64) ** NOISE_POWER
    return (weights / weights.sum()).float()


def context_pairs(tokens: torch.Tensor, sentence_of: torch.Tensor, centres: torch.Tensor, window: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The (centre word, context word) pairs of the tokens at positions `centres`: as word2vec, each centre
    draws its own window b uniformly from 1..window and pairs with every token within b of it in its sentence
    (so a context d apart is used with weight (window - d + 1) / window)."""
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])
    reach = torch.randint(1, window + 1, (len(centres),), generator=generator)
    positions = centres[:, None] + offsets[None, :]
    inside = (positions >= 0) & (positions < len(tokens)) & (offsets.abs()[None, :] <= reach[:, None])
    positions = positions.clamp(0, len(tokens) - 1)
    inside &= sentence_of[positions] == sentence_of[centres][:, None]
    centre_words = tokens[centres][:, None].expand_as(positions)
    return centre_words[inside], tokens[positions][inside]


def negative_sampling_gradients(v: torch.Tensor, u_pos: torch.Tensor, u_neg: torch.Tensor
                                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each pair's loss and the gradients of the summed loss: (loss (P,), d/dv (P, d), d/du_pos (P, d),
    d/du_neg (P, k, d)), in the closed form of the module docstring."""
    positive = (u_pos * v).sum(-1)
    negative = torch.einsum("pkd,pd->pk", u_neg, v)
    loss = F.softplus(-positive) + F.softplus(negative).sum(-1)
    pull = torch.sigmoid(positive) - 1.0  # (P,)
    push = torch.sigmoid(negative)  # (P, k)
    grad_v = pull[:, None] * u_pos + torch.einsum("pk,pkd->pd", push, u_neg)
    return loss, grad_v, pull[:, None] * v, push[:, :, None] * v[:, None, :]
