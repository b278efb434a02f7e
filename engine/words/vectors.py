"""The Word vectors tab's experiment as a plain trainer: skip-gram with negative sampling (engine.words.sgns)
trained live on the template corpus or a pasted text (engine.words.corpus), beside the PPMI-SVD baseline
(engine.words.ppmi) computed once from the same corpus, vocabulary and window.

A step is one minibatch of `batch_size` centre words, in a shuffled pass over the corpus (an epoch) from which
subsampling has dropped frequent words afresh (word2vec's way; a new threshold redraws the pass at once). Each
centre pairs with every word in its dynamic window, and each pair with `negatives` noise words. Plain SGD at a
constant learning rate (live training has no planned end, so no decay), word2vec's start: input vectors uniform
in ±0.5/dimensions, output vectors zero.

The vectors stay on the CPU whatever the job's device: a step gathers and adds back a few thousand rows, work a
GPU would spend launching kernels. The page's queries (a word, an analogy) use the input vectors, as word2vec's
output file does. `evaluate` scores the planted analogies (template corpus) at every publish, so it is one small
matrix product (~2 ms at 50 dimensions and 5,000 words); `observe` does the rest when a page asks (~7 ms).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.common.limits import ConfigError, check, check_choice
from engine.common.seeding import stream
from engine.runtime import Job, Trainer
from engine.words import analogies as ask
from engine.words.corpus import (RELATIONS, background_sentences, expected_answers, pasted_sentences,
                                 planted_analogies, planted_groups, planted_pairs, planted_sentences)
from engine.words.ppmi import ppmi_vectors
from engine.words.sgns import CountedText, Vocabulary, context_pairs, drop_probability, negative_sampling_gradients, \
    noise_distribution
from engine.words.texts import check_pasted

CORPORA = ("templates", "pasted")
LISTED = 10  # neighbours and analogy answers shown
PASTED_SHOWN, PASTED_SKIPPED = 150, 20  # a pasted text's projection: 150 words after the 20 most frequent
MAPPED_RELATIONS = ("all", *(relation.name for relation in RELATIONS))  # what the projections may show


@dataclass(frozen=True)
class WordVectorsConfig:
    """What the vectors learn from and their shape; a change rebuilds both models (the rest is live)."""

    corpus: str = "templates"  # "templates" or "pasted"
    text: str = ""  # the pasted text (ignored for the templates)
    dimensions: int = 50
    window: int = 3  # words on each side; also the PPMI baseline's window
    vocabulary: int = 5000  # the most frequent words kept; the others are dropped from the text

    def __post_init__(self) -> None:
        check_choice("corpus", self.corpus, CORPORA)
        for name in ("dimensions", "window", "vocabulary"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"the {name} must be a whole number, not {value!r}")
            check(f"words.{name}", value)
        if self.corpus == "pasted":
            check_pasted(self.text)


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": 0.025,  # word2vec's skip-gram default
    "negatives": 5,
    "subsample": 1e-3,  # t; 0 turns subsampling off
    "batch_size": 256,  # centre words per step
    "word": "paris",  # whose nearest neighbours the page shows
    "analogy": ("king", "man", "woman"),  # a - b + c ≈ ? (a fourth word, if given, is the expected answer)
    "relation": "all",  # the planted relation whose words the projections show ("all": every planted word)
    "max_steps_per_second": None,
}


def check_hyperparameters(hp: dict[str, Any]) -> None:
    """Raise ConfigError for a live value the trainer cannot take (a query word outside the vocabulary is not
    an error: `observe` says so in its `problem`)."""
    for name in ("lr", "negatives", "subsample", "batch_size"):
        if name in hp:
            check(f"words.{name}", hp[name])
    for name in ("negatives", "batch_size"):
        if name in hp and (not isinstance(hp[name], int) or isinstance(hp[name], bool)):
            raise ConfigError(f"the {name} must be a whole number, not {hp[name]!r}")
    if "relation" in hp:
        check_choice("relation", hp["relation"], MAPPED_RELATIONS)
    if "word" in hp and not isinstance(hp["word"], str):
        raise ConfigError(f"the word must be a string, not {hp['word']!r}")
    if "analogy" in hp:
        query = hp["analogy"]
        if not (isinstance(query, (tuple, list)) and len(query) in (3, 4) and all(isinstance(w, str) for w in query)):
            raise ConfigError(f"an analogy is three words a, b, c (a - b + c ≈ ?), optionally a fourth, the expected "
                              f"answer; not {query!r}")


@dataclass(frozen=True)
class WordVectorsVisuals:
    """What the page draws of both models at one step. Projections are PCA of the shown words' vectors."""

    corpus: str
    vocabulary_size: int
    corpus_tokens: int  # in-vocabulary tokens of the corpus, before subsampling
    words: tuple[str, ...]  # the words of the projections
    groups: tuple[str, ...]  # each one's group, for colour ("capital", "female", ...; "word" for a pasted text)
    sgns_projection: np.ndarray  # (n, 2) PC1, PC2 of the shown words' skip-gram vectors
    sgns_variance: tuple[float, float]  # each axis's share of those vectors' variance
    ppmi_projection: np.ndarray  # (n, 2) the same for the PPMI-SVD vectors
    ppmi_variance: tuple[float, float]
    pairs: np.ndarray  # (m, 2) int: planted pairs among the shown words (first, second), indices into `words`
    pair_relations: tuple[str, ...]  # each pair's relation
    word: str  # the queried word
    sgns_neighbours: tuple[tuple[str, float], ...]  # its nearest words by cosine, nearest first
    ppmi_neighbours: tuple[tuple[str, float], ...]
    analogy: tuple[str, str, str]  # (a, b, c): a - b + c ≈ ?
    expected: str | None  # the answer expected (the fourth word asked, or the planted one), if any
    sgns_answers: tuple[tuple[str, float], ...]  # the best answers by 3CosAdd with their scores
    ppmi_answers: tuple[tuple[str, float], ...]
    sgns_expected_rank: int | None  # the expected answer's rank (1 = top), if there is one in the vocabulary
    ppmi_expected_rank: int | None
    per_relation: tuple[tuple[str, float, float], ...]  # (relation, skip-gram top-1 share, PPMI-SVD top-1 share)
    problem: str | None  # what is wrong with the queries, in words ("'xyz' is not in the vocabulary ...")


def projection(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The rows' coordinates on their first two principal components, and each one's share of the variance."""
    centred = vectors - vectors.mean(axis=0)
    _, sigma, directions = np.linalg.svd(centred, full_matrices=False)
    total = float((sigma ** 2).sum()) or 1.0
    shares = [float(s ** 2) / total for s in sigma[:2]] + [0.0, 0.0]
    coordinates = np.zeros((len(vectors), 2), dtype=np.float32)
    coordinates[:, :len(directions[:2])] = centred @ directions[:2].T
    return coordinates, (shares[0], shares[1])


@functools.lru_cache(maxsize=1)
def background_text() -> CountedText:
    """The template corpus's background text, counted and indexed once per process."""
    return CountedText.of(background_sentences())


@functools.lru_cache(maxsize=8)
def corpus_and_baseline(config: WordVectorsConfig, seed: int) -> tuple[Vocabulary, torch.Tensor, torch.Tensor,
                                                                       np.ndarray]:
    """What a config and a seed make before any training: the vocabulary, the corpus as a token stream (each
    token's word and sentence) and the PPMI + SVD baseline's unit vectors. A pure function of its arguments, ~0.17
    s for a new seed of the template corpus (two fifths of it the SVD, a fifth drawing the planted sentences; the
    background text is counted once per process), so made once per process and shared, read-only, by every job
    that asks again: a class whose students train on the same seed, a seed a user comes back to."""
    if config.corpus == "templates":
        texts = background_text(), CountedText.of(planted_sentences(seed))
    else:
        texts = CountedText.of(pasted_sentences(config.text)),
    vocabulary = Vocabulary.build(texts, config.vocabulary)
    tokens, sentence_of = vocabulary.encode(texts)
    if not np.any(sentence_of[1:] == sentence_of[:-1]):
        raise ConfigError("no two words of this text share a sentence, so no word has a context: paste a "
                          "longer text")
    ppmi_unit = ask.unit_rows(ppmi_vectors(tokens, sentence_of, len(vocabulary), config.window, config.dimensions,
                                           seed))
    ppmi_unit.flags.writeable = False  # (the rest is read through torch, whose tensors cannot be made read-only)
    return vocabulary, torch.from_numpy(tokens), torch.from_numpy(sentence_of), ppmi_unit


class WordVectorsTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: WordVectorsConfig = self.config
        check_hyperparameters(self.hp)
        self.vocabulary, self.tokens, self.sentence_of, self.ppmi_unit = corpus_and_baseline(config, self.seed)
        self.index = self.vocabulary.index
        self.analogies = [a for a in planted_analogies() if config.corpus == "templates"
                          and all(w in self.index for w in (a.a, a.b, a.c, a.d))]
        self.questions = tuple(np.array([self.index[getattr(a, part)] for a in self.analogies], dtype=np.int64)
                               for part in "abcd")
        self.expected_answers = expected_answers() if config.corpus == "templates" else {}
        self.ppmi_hits = ask.top1_hits(self.ppmi_unit, *self.questions) if self.analogies else None  # fixed
        self.ppmi_top1 = float(self.ppmi_hits.mean()) if self.analogies else None
        size, dimensions = len(self.vocabulary), config.dimensions
        weights = stream(self.seed, "weights")
        self.input_vectors = (torch.rand(size, dimensions, generator=weights) - 0.5) / dimensions
        self.output_vectors = torch.zeros(size, dimensions)
        self.noise = noise_distribution(self.vocabulary.counts)
        self.rng = stream(self.seed, "batches")
        self.subsampling = stream(self.seed, "subsample")
        self.epochs_done = 0
        self._new_pass()

    def _new_pass(self, start: tuple[float, np.ndarray, np.ndarray] | None = None) -> None:
        """A shuffled pass over the tokens that subsampling keeps this time. `start`: how a pass began (its
        subsampling rate and the two generators' states then), to draw that pass again."""
        if start is None:
            start = (float(self.hp["subsample"]), self.subsampling.get_state().numpy(), self.rng.get_state().numpy())
        subsample, subsampling_state, rng_state = start
        self.subsampling.set_state(torch.from_numpy(subsampling_state))
        self.rng.set_state(torch.from_numpy(rng_state))
        self._pass_start = start
        drop = torch.from_numpy(drop_probability(self.vocabulary.counts, subsample))
        keep = torch.rand(len(self.tokens), generator=self.subsampling, dtype=torch.float64) >= drop[self.tokens]
        self.kept_tokens, self.kept_sentence_of = self.tokens[keep], self.sentence_of[keep]
        self.order = torch.randperm(len(self.kept_tokens), generator=self.rng)
        self.cursor = 0

    @property
    def epoch(self) -> float:
        return self.epochs_done + self.cursor / max(1, len(self.order))

    # The pass under way is saved as how it began and drawn again on loading (~30 ms): saved whole (the tokens
    # subsampling kept, their order) it took 6.4 MB a checkpoint on the template corpus, 2 MB without.
    CHECKPOINTED = ("input_vectors", "output_vectors", "epochs_done", "_pass_start", "rng", "subsampling", "cursor")

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        rng, subsampling, cursor = self.rng.get_state(), self.subsampling.get_state(), self.cursor
        self._new_pass(self._pass_start)
        self.rng.set_state(rng)
        self.subsampling.set_state(subsampling)
        self.cursor = cursor

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        if "subsample" in changes and changes["subsample"] != self.hp["subsample"]:
            self.hp["subsample"] = changes["subsample"]
            self._new_pass()

    def train_step(self) -> dict[str, float]:
        centre_words = torch.empty(0)
        while len(centre_words) == 0:  # a batch of centres alone in their sentences (after subsampling) has no pair
            if self.cursor >= len(self.order):
                self.epochs_done += 1
                self._new_pass()
            centres = self.order[self.cursor:self.cursor + int(self.hp["batch_size"])]
            self.cursor += len(centres)
            centre_words, context_words = context_pairs(self.kept_tokens, self.kept_sentence_of, centres,
                                                        self.config.window, self.rng)
        negatives = torch.multinomial(self.noise, len(centre_words) * int(self.hp["negatives"]), replacement=True,
                                      generator=self.rng).view(len(centre_words), -1)
        loss, grad_v, grad_u, grad_negatives = negative_sampling_gradients(
            self.input_vectors[centre_words], self.output_vectors[context_words], self.output_vectors[negatives])
        lr = float(self.hp["lr"])
        self.input_vectors.index_add_(0, centre_words, grad_v, alpha=-lr)
        self.output_vectors.index_add_(0, context_words, grad_u, alpha=-lr)
        self.output_vectors.index_add_(0, negatives.reshape(-1), grad_negatives.reshape(-1, grad_v.shape[1]),
                                       alpha=-lr)
        return {"loss": float(loss.mean())}

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (f"The {name} became {value} at step {step}: the learning rate {self.hp['lr']:g} is too large for "
                f"{self.hp['batch_size']} centre words a step. Lower it (word2vec starts at 0.025) and press Reset.")

    def vectors(self) -> np.ndarray:
        """The skip-gram word vectors (input vectors), a NumPy copy."""
        return self.input_vectors.numpy().copy()

    def evaluate(self) -> dict[str, float]:
        if not self.analogies:
            return {}
        hits = ask.top1_hits(ask.unit_rows(self.input_vectors.numpy()), *self.questions)
        return {"analogy_top1": float(hits.mean()), "ppmi_analogy_top1": self.ppmi_top1}

    # ------------------------------------------------------------- what the page inspects
    def shown_words(self) -> tuple[list[str], list[str]]:
        """The projection's words and groups: the planted words (template corpus; of one relation when the
        "relation" hyperparameter names one), or a pasted text's PASTED_SHOWN most frequent words after its
        PASTED_SKIPPED most frequent (mostly "the", "and", "of")."""
        if self.config.corpus == "templates":
            groups = planted_groups()
            sides = next((r.sides for r in RELATIONS if r.name == self.hp["relation"]), None)
            words = [word for word in groups if word in self.index and (sides is None or groups[word] in sides)]
            return words, [groups[word] for word in words]
        skipped = min(PASTED_SKIPPED, max(0, len(self.vocabulary) - PASTED_SHOWN))
        words = list(self.vocabulary.words[skipped:skipped + PASTED_SHOWN])
        return words, ["word"] * len(words)

    def observe(self) -> WordVectorsVisuals:
        sgns_unit = ask.unit_rows(self.vectors())
        words, groups = self.shown_words()
        shown = [self.index[word] for word in words]
        sgns_projection, sgns_variance = projection(sgns_unit[shown])
        ppmi_projection, ppmi_variance = projection(self.ppmi_unit[shown])
        place = {word: i for i, word in enumerate(words)}
        pairs = [(place[first], place[second], relation) for first, second, relation in planted_pairs()
                 if first in place and second in place]
        problems = []
        word = str(self.hp["word"]).strip().lower()
        listed: dict[str, tuple] = {"sgns_neighbours": (), "ppmi_neighbours": ()}
        if self._known(word, problems):
            for name, unit in (("sgns", sgns_unit), ("ppmi", self.ppmi_unit)):
                listed[f"{name}_neighbours"] = self._named(ask.neighbours(unit, self.index[word], LISTED))
        query = tuple(str(w).strip().lower() for w in self.hp["analogy"])
        expected = query[3] if len(query) == 4 else self.expected_answers.get(query[:3])
        analogy_parts = dict.fromkeys(("sgns_answers", "ppmi_answers"), ())
        analogy_parts |= dict.fromkeys(("sgns_expected_rank", "ppmi_expected_rank"))
        if all([self._known(w, problems) for w in query[:3]]):  # a list: every unknown word is named
            indices = [self.index[w] for w in query[:3]]
            for name, unit in (("sgns", sgns_unit), ("ppmi", self.ppmi_unit)):
                best, scores = ask.answers(unit, indices, LISTED)
                analogy_parts[f"{name}_answers"] = self._named(best)
                if expected in self.index and expected not in query[:3]:
                    analogy_parts[f"{name}_expected_rank"] = ask.rank_of(scores, self.index[expected])
        if expected is not None and len(query) == 4:
            self._known(expected, problems)
        return WordVectorsVisuals(
            corpus=self.config.corpus, vocabulary_size=len(self.vocabulary), corpus_tokens=len(self.tokens),
            words=tuple(words), groups=tuple(groups), sgns_projection=sgns_projection, sgns_variance=sgns_variance,
            ppmi_projection=ppmi_projection, ppmi_variance=ppmi_variance,
            pairs=np.array([p[:2] for p in pairs], dtype=np.int64).reshape(-1, 2),
            pair_relations=tuple(p[2] for p in pairs), word=word, **listed, analogy=query[:3], expected=expected,
            **analogy_parts, per_relation=self.per_relation(sgns_unit),
            problem=" ".join(dict.fromkeys(problems)) or None)

    def per_relation(self, sgns_unit: np.ndarray) -> tuple[tuple[str, float, float], ...]:
        """Each relation's share of its planted analogies answered top-1, by skip-gram and by PPMI-SVD."""
        if not self.analogies:
            return ()
        relations = np.array([a.relation for a in self.analogies])
        sgns, ppmi = ask.top1_hits(sgns_unit, *self.questions), self.ppmi_hits
        return tuple((name, float(sgns[relations == name].mean()), float(ppmi[relations == name].mean()))
                     for name in dict.fromkeys(relations.tolist()))

    def _known(self, word: str, problems: list[str]) -> bool:
        if word in self.index:
            return True
        problems.append(f"'{word}' is not in the vocabulary ({len(self.vocabulary):,} words).")
        return False


    def _named(self, listed: list[tuple[int, float]]) -> tuple[tuple[str, float], ...]:
        return tuple((self.vocabulary.words[i], score) for i, score in listed)


class WordVectorsJob(Job):
    """Skip-gram with negative sampling learning word vectors live, beside its PPMI-SVD baseline."""

    trainer_type = WordVectorsTrainer
    trainer: WordVectorsTrainer

    def __init__(self, config: WordVectorsConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or WordVectorsConfig(),
                         {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
