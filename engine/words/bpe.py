"""Byte-pair encoding, merge by merge: what the Tokens tab learns, shows and compares.

BPE starts from single characters and, again and again, merges the pair of adjacent symbols that occurs most often
in the training text into one new symbol, until it has made the number of merges asked for. Applying the first k
merges to a text gives its tokens at step k: k = 0 is characters, and every merge makes the sequence shorter and the
vocabulary one symbol larger.

Words. Merges never cross a word, so the text is first split into words: a run of letters, digits or underscores
(apostrophes inside it stay, as in "I'll"), or a run of punctuation ("--", "?!"). Whitespace is not a token; instead,
as in SentencePiece, a word that follows whitespace starts with the symbol "▁" (the text counts as following
whitespace, so its first word has one too). "▁" is a character of the alphabet like any other, so "▁the" can become
one token while "the" inside "(the" stays apart, and joining the tokens with "▁" read as a space gives the text back
with its whitespace made single spaces. We chose "▁" over Sennrich's end-of-word "</w>" because a student reads a
token that starts a word the way it was typed, and because "▁" is one character: it stands for the whitespace
character before the word, so every token is a slice of the text (see `Tokenization.spans`).

Ties. Among equally frequent pairs the merge takes the one whose (left, right) strings sort first (Python's string
order, by code point), so a text and a merge count always give the same merges, whatever the implementation.
Learning stops early when no pair occurs twice any more: a pair seen once would make a token that saves one token
once and never recurs, so the model stops and says so (`BpeModel.stopped_early`).

Symbols are their strings (as in GPT-2's merge files): "abc" made from ("ab", "c") and from ("a", "bc") is one
symbol, so the vocabulary can grow by less than one at a merge, and a pair merged once can be merged again later, when
a later merge rebuilds one of its symbols by the other route.

API (what the page uses):
- `learn(text, merges) -> BpeModel`: up to `merges` merges (limit "words.merges"), learned on `text`.
- `BpeModel` (frozen, picklable): `alphabet` (sorted characters), `merges` (tuple of `Merge(left, right, count)`,
  each with `.symbol`), `requested`, `training_tokens[k]` (tokens of the training text after k merges,
  k = 0..len(merges)), `training_words`; `stopped_early`, `vocabulary(k)`, `vocabulary_sizes()`.
- `encode(text, model, upto=None) -> Tokenization`: the text's tokens after the first `upto` merges (all when None):
  `tokens`, `words`, `word_of_token`, `spans` (start, end in the text), `tokens_per_word`. Characters the model never
  saw stay single tokens; an empty text has no tokens.
- `granularity(text, model) -> Granularity`: for every step k = 0..len(merges), the vocabulary size and the number of
  tokens of `text` (so tokens per word), plus the whole-words point (`distinct_words`, `word_count`).
- `split_words(text)`: the words, each with its "▁" where it has one.
- `learned_on_bundled(name, merges)`: a bundled text's model and granularity, cut (`first`) from MOST_MERGES merges
  learned once per process.
Texts of any length are taken (tiny Shakespeare is 1.1 MB); the page limits a pasted one with texts.check_pasted.

Speed. Learning counts each distinct word once (weighted by how often it occurs), keeps the count of every adjacent
pair and the set of words that hold it, and at each merge re-counts only the words that hold the merged pair, taking
the most frequent pair from a heap whose stale entries are skipped: about 0.6 s for 1,000 merges on tiny Shakespeare
(0.55 s for 500) on a 2-core CPU, where recounting every distinct word at every merge would take over a minute.
Encoding segments each distinct word once and copies its segmentation to every occurrence: about 0.4 s for 1 MB
with 1,000 merges, where applying each merge in turn to every word takes about 90 s (bench/words_bpe.py).
"""

from __future__ import annotations

import heapq
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, chain

import numpy as np

from engine.common.limits import LIMITS, ConfigError, check
from engine.words.texts import bundled_text

WORD_BOUNDARY = "▁"  # U+2581, SentencePiece's mark for "whitespace came before this word"
MOST_MERGES = int(LIMITS["words.merges"].high)

# Optional whitespace, then one word: letters/digits/underscores joined by inner apostrophes, or a punctuation run.
_WHITESPACE_AND_WORD = re.compile(r"(\s*)(\w+(?:['’]\w+)*|[^\w\s]+)")


@dataclass(frozen=True)
class Merge:
    """One learned merge: the adjacent pair (left, right) and how often it occurred in the training text (counting
    every adjacent position, weighted by word frequency) when it was chosen."""

    left: str
    right: str
    count: int

    @property
    def symbol(self) -> str:
        return self.left + self.right


@dataclass(frozen=True)
class BpeModel:
    """The merges learned on one text, in order, and what the page shows per step k (k merges applied)."""

    alphabet: tuple[str, ...]  # the characters of the training text's words, "▁" included, sorted
    merges: tuple[Merge, ...]
    requested: int  # the merges asked for; more than len(merges) when learning ran out of repeated pairs
    training_tokens: tuple[int, ...]  # tokens of the training text after k merges, k = 0..len(merges)
    training_words: int  # words in the training text (so training_tokens[k] / training_words is tokens per word)

    @property
    def stopped_early(self) -> bool:
        """True when learning stopped before `requested` merges because no pair occurred twice any more."""
        return len(self.merges) < self.requested

    def first(self, merges: int) -> BpeModel:
        """The model `learn(text, merges)` gives, cut from this one learned with at least as many merges asked:
        learning is the same sequence of choices, stopped sooner."""
        _check_merges(merges)
        if merges > self.requested:
            raise ConfigError(f"this model was asked for {self.requested} merges; it holds no {merges}th")
        kept = min(merges, len(self.merges))
        return BpeModel(alphabet=self.alphabet, merges=self.merges[:kept], requested=merges,
                        training_tokens=self.training_tokens[:kept + 1], training_words=self.training_words)

    def vocabulary(self, k: int | None = None) -> tuple[str, ...]:
        """The alphabet, then each distinct symbol that the first k merges (all when None) made, in merge order."""
        made = dict.fromkeys(merge.symbol for merge in self.merges[:self._steps(k)])
        return self.alphabet + tuple(made)

    def vocabulary_sizes(self) -> np.ndarray:
        """len(vocabulary(k)) for k = 0..len(merges), at once."""
        sizes, made = [len(self.alphabet)], set()
        for merge in self.merges:
            made.add(merge.symbol)
            sizes.append(len(self.alphabet) + len(made))
        return np.array(sizes, dtype=np.int64)

    def _steps(self, k: int | None) -> int:
        if k is None:
            return len(self.merges)
        if not _is_whole(k) or not 0 <= k <= len(self.merges):
            raise ConfigError(f"the step must be a whole number from 0 to {len(self.merges)} (the model's merges), "
                              f"not {k!r}")
        return k


@dataclass(frozen=True, eq=False)
class Tokenization:
    """A text's tokens at one step, with where each came from, so a page can draw token boundaries over the text."""

    tokens: tuple[str, ...]
    words: tuple[str, ...]  # the text's words in order, each with its "▁" when whitespace came before it
    word_of_token: np.ndarray  # (tokens,) int: the index in `words` of the word each token belongs to
    spans: np.ndarray  # (tokens, 2) int: text[start:end] is the token, "▁" being the whitespace character before it
    # (the first word's "▁" stands for no character when the text starts with it: its span starts at 0 all the same)

    @property
    def tokens_per_word(self) -> np.ndarray:
        """(words,) int: how many tokens each word became."""
        return np.bincount(self.word_of_token, minlength=len(self.words))


@dataclass(frozen=True, eq=False)
class Granularity:
    """Vocabulary size against sequence length for one text: BPE at every step k, characters (k = 0) and words."""

    vocabulary_sizes: np.ndarray  # (K+1,) the model's vocabulary after k merges, plus the text's unseen characters
    token_counts: np.ndarray  # (K+1,) tokens of the text after k merges
    word_count: int  # words in the text: the sequence length of whole-word tokens
    distinct_words: int  # distinct words (without "▁"): the vocabulary that whole-word tokens need

    def first(self, merges: int) -> Granularity:
        """The same text's granularity under a model cut to its first `merges` merges (BpeModel.first)."""
        steps = slice(0, merges + 1)
        return Granularity(vocabulary_sizes=self.vocabulary_sizes[steps], token_counts=self.token_counts[steps],
                           word_count=self.word_count, distinct_words=self.distinct_words)

    @property
    def tokens_per_word(self) -> np.ndarray:
        """(K+1,) float: tokens per word after k merges (zeros for a text with no words)."""
        return self.token_counts / self.word_count if self.word_count else np.zeros(len(self.token_counts))


def split_words(text: str) -> list[str]:
    """The text's words, each with "▁" when whitespace (or the text's start) came before it."""
    return _marked(_WHITESPACE_AND_WORD.findall(" " + text))  # the leading space gives the first word its "▁"


def _words_and_starts(text: str) -> tuple[list[str], np.ndarray]:
    """split_words(text), and where each word's first symbol starts in the text: its "▁" stands for the whitespace
    character just before it (-1 for the first word's, when the text starts with that word)."""
    pieces = _WHITESPACE_AND_WORD.findall(" " + text)
    words = _marked(pieces)
    ends = np.fromiter(accumulate(len(space) + len(word) for space, word in pieces), dtype=np.int64, count=len(pieces))
    symbol_lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return words, ends - symbol_lengths - 1  # -1: back from " " + text to text


def _marked(pieces: list[tuple[str, str]]) -> list[str]:
    return [WORD_BOUNDARY + word if space else word for space, word in pieces]


def learn(text: str, merges: int) -> BpeModel:
    """Learn up to `merges` merges on `text` (fewer when no pair occurs twice any more)."""
    _check_text(text)
    _check_merges(merges)
    frequency_of = Counter(split_words(text))
    frequencies = list(frequency_of.values())
    segmentations = [list(word) for word in frequency_of]  # "▁" is one character, so characters are the symbols
    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    words_holding: dict[tuple[str, str], set[int]] = defaultdict(set)  # may still list words that lost the pair
    for index, (symbols, frequency) in enumerate(zip(segmentations, frequencies)):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += frequency
            words_holding[pair].add(index)
    heap = [(-count, left, right) for (left, right), count in pair_counts.items()]
    heapq.heapify(heap)
    tokens = [sum(len(symbols) * frequency for symbols, frequency in zip(segmentations, frequencies))]
    learned: list[Merge] = []
    while len(learned) < merges:
        pair, count = _most_frequent(heap, pair_counts)
        if count < 2:
            break
        learned.append(Merge(pair[0], pair[1], count))
        symbol = pair[0] + pair[1]
        grown: set[tuple[str, str]] = set()
        shortened = 0
        for index in words_holding.pop(pair):
            old = segmentations[index]
            new = _merged(old, *pair)
            if len(new) == len(old):
                continue  # an earlier merge already took this word's occurrences of the pair
            frequency = frequencies[index]
            for old_pair in zip(old, old[1:]):
                pair_counts[old_pair] -= frequency
            for new_pair in zip(new, new[1:]):
                pair_counts[new_pair] += frequency
                if symbol in new_pair:  # only pairs with the new symbol are new to the word; the rest shrank or held
                    words_holding[new_pair].add(index)
                    grown.add(new_pair)
            segmentations[index] = new
            shortened += (len(old) - len(new)) * frequency
        for left, right in grown:
            heapq.heappush(heap, (-pair_counts[left, right], left, right))
        tokens.append(tokens[-1] - shortened)
    return BpeModel(alphabet=tuple(sorted(set(chain.from_iterable(frequency_of)))), merges=tuple(learned),
                    requested=merges, training_tokens=tuple(tokens), training_words=sum(frequencies))


_BUNDLED_LOCK = threading.Lock()  # a class arriving at once waits for one learning, not thirty


@lru_cache(maxsize=None)
def _learned_on_bundled(name: str) -> tuple[BpeModel, Granularity]:
    text = bundled_text(name)
    model = learn(text, MOST_MERGES)
    return model, granularity(text, model)


def learned_on_bundled(name: str, merges: int) -> tuple[BpeModel, Granularity]:
    """`learn(bundled_text(name), merges)` and that text's granularity, cut from MOST_MERGES merges learned once per
    process (~1 s on tiny Shakespeare; ui.preload starts it when the server starts), so that a new number of merges
    answers at once."""
    with _BUNDLED_LOCK:
        model, counts = _learned_on_bundled(name)
    return model.first(merges), counts.first(merges)


def encode(text: str, model: BpeModel, upto: int | None = None) -> Tokenization:
    """`text` as tokens after the model's first `upto` merges (all when None), exactly as applying those merges one
    by one, in order, to every word would leave it."""
    _check_text(text)
    ranks = _ranks(model, model._steps(upto))
    words, symbol_starts = _words_and_starts(text)
    segmentation_of = {word: _segment(word, model.merges, ranks)[0] for word in dict.fromkeys(words)}
    per_word = [segmentation_of[word] for word in words]
    tokens = tuple(chain.from_iterable(per_word))
    counts = np.fromiter(map(len, per_word), dtype=np.int64, count=len(per_word))
    token_lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    # A token starts where its word starts, plus the lengths of the word's tokens before it.
    starts_if_joined = np.cumsum(token_lengths) - token_lengths
    word_first_token = np.cumsum(counts) - counts
    offset_in_word = starts_if_joined - np.repeat(starts_if_joined[word_first_token], counts)
    starts = np.repeat(symbol_starts, counts) + offset_in_word
    spans = np.stack([np.maximum(starts, 0), starts + token_lengths], axis=1)
    word_of_token = np.repeat(np.arange(len(words)), counts)
    for array in (spans, word_of_token):
        array.setflags(write=False)
    return Tokenization(tokens=tokens, words=tuple(words), word_of_token=word_of_token, spans=spans)


def granularity(text: str, model: BpeModel) -> Granularity:
    """Vocabulary size and token count of `text` at every step k = 0..len(model.merges), and the whole-words point.

    Each distinct word is segmented once, noting at which merges it got shorter and by how much; the token count at
    step k is then the characters minus every shortening by a merge before k, for all k at once."""
    _check_text(text)
    ranks = _ranks(model, len(model.merges))
    frequency_of = Counter(split_words(text))
    saved_by = np.zeros(len(model.merges), dtype=np.int64)  # [r]: the tokens that merge r saves in the text
    characters = 0
    for word, frequency in frequency_of.items():
        characters += len(word) * frequency
        for rank, saved in _segment(word, model.merges, ranks)[1]:
            saved_by[rank] += saved * frequency
    token_counts = characters - np.concatenate([[0], np.cumsum(saved_by)])
    unseen = set(chain.from_iterable(frequency_of)) - set(model.alphabet)
    result = Granularity(vocabulary_sizes=model.vocabulary_sizes() + len(unseen), token_counts=token_counts,
                         word_count=sum(frequency_of.values()),
                         distinct_words=len({word.removeprefix(WORD_BOUNDARY) for word in frequency_of}))
    for array in (result.vocabulary_sizes, result.token_counts):
        array.setflags(write=False)
    return result


def _segment(word: str, merges: tuple[Merge, ...], ranks: dict[tuple[str, str], tuple[int, ...]]
             ) -> tuple[list[str], list[tuple[int, int]]]:
    """`word` after the merges in `ranks` applied one by one in order, and (merge rank, symbols saved) for each merge
    that changed it.

    Rather than try every merge, jump to the earliest merge after the last one applied whose pair occurs in the word
    (merges in between cannot change it). When no merge rebuilds a symbol, that is GPT-2's rule: merge the word's
    lowest-ranked pair first. Asking for a rank after the last one applied keeps it exact when a merge does rebuild
    one, making an earlier merge's pair occur again: applied in order, that earlier merge has had its turn."""
    symbols = list(word)
    changes: list[tuple[int, int]] = []
    after = 0  # the next merge that may still apply
    while len(symbols) > 1:
        best = None
        for pair in zip(symbols, symbols[1:]):
            for rank in ranks.get(pair, ()):
                if rank >= after:
                    if best is None or rank < best:
                        best = rank
                    break
        if best is None:
            break
        merged = _merged(symbols, merges[best].left, merges[best].right)
        changes.append((best, len(symbols) - len(merged)))
        symbols, after = merged, best + 1
    return symbols, changes


def _merged(symbols: list[str], left: str, right: str) -> list[str]:
    """`symbols` with every (left, right) merged, from the left: "a a a" with (a, a) gives "aa a"."""
    merged, index, last = [], 0, len(symbols) - 1
    while index <= last:
        if index < last and symbols[index] == left and symbols[index + 1] == right:
            merged.append(left + right)
            index += 2
        else:
            merged.append(symbols[index])
            index += 1
    return merged


def _ranks(model: BpeModel, upto: int) -> dict[tuple[str, str], tuple[int, ...]]:
    """pair -> the ranks (ascending) of the first `upto` merges that merge it (usually one)."""
    ranks: dict[tuple[str, str], tuple[int, ...]] = {}
    for rank, merge in enumerate(model.merges[:upto]):
        ranks[merge.left, merge.right] = ranks.get((merge.left, merge.right), ()) + (rank,)
    return ranks


def _most_frequent(heap: list, pair_counts: dict[tuple[str, str], int]) -> tuple[tuple[str, str] | None, int]:
    """The most frequent pair (ties: the first (left, right) in string order) and its count; (None, 0) when none.

    A pair's count that grows pushes a fresh entry, and one that shrinks leaves its old entry above the count: so
    every pair has an entry at or above its count, and the top entry that matches its count is the answer. An entry
    above its pair's count is replaced by one at the count (or dropped at 0) as it surfaces."""
    while heap:
        negative_count, left, right = heap[0]
        count = pair_counts.get((left, right), 0)
        if count == -negative_count:
            return (left, right), count
        if count > 0:
            heapq.heapreplace(heap, (-count, left, right))
        else:
            heapq.heappop(heap)
    return None, 0


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_merges(merges: object) -> None:
    if not _is_whole(merges):
        limit = LIMITS["words.merges"]
        raise ConfigError(f"{limit.what} must be a whole number from {limit.low:g} to {limit.high:g}, not {merges!r} "
                          f"(limit 'words.merges')")
    check("words.merges", merges)


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise ConfigError(f"a text to tokenize must be a string, not {type(text).__name__}")
