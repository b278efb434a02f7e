"""Byte-pair encoding on tiny Shakespeare (1.1 MB): how fast the Tokens tab learns and applies its merges.

- bpe_learn_s: learning 1,000 merges on the whole text (best of 3), against bpe_naive_learn_s, the textbook way
  (Sennrich et al.'s reference: recount every pair of every distinct word after each merge), timed on its first
  NAIVE_LEARN_MERGES merges and scaled to 1,000 (each of its merges costs about the same).
- bpe_learn_500_s: the page's default, 500 merges (best of 3); the page waits for it on its first view.
- bpe_1mb_s: encoding the first 1,000,000 characters with those 1,000 merges (best of 3; target <= 2 s), against
  bpe_naive_1mb_s, applying the merges one at a time to every word of a NAIVE_ENCODE_CHARS slice, no caching,
  scaled to 1 MB; bpe_tokens is the 1 MB's token count.

`measure()` returns the numbers (bench/words.py merges them into its line); run alone, it prints one JSON object as
its last line.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.words.bpe import encode, learn, split_words  # noqa: E402
from engine.words.texts import bundled_text  # noqa: E402

MERGES = 1000
ENCODED_CHARS = 1_000_000
NAIVE_LEARN_MERGES = 20
NAIVE_ENCODE_CHARS = 5_000


def _best_of_3(work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def _merged(symbols: list[str], left: str, right: str) -> list[str]:
    out, index = [], 0
    while index < len(symbols):
        if index + 1 < len(symbols) and symbols[index] == left and symbols[index + 1] == right:
            out.append(left + right)
            index += 2
        else:
            out.append(symbols[index])
            index += 1
    return out


def naive_learn(text: str, merges: int) -> list[tuple[str, str]]:
    """Recount every adjacent pair of every distinct word (weighted by its frequency) after each merge."""
    words = {tuple(word): count for word, count in Counter(split_words(text)).items()}
    learned = []
    for _ in range(merges):
        pairs: Counter = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        pair = min(pairs, key=lambda p: (-pairs[p], p))
        learned.append(pair)
        words = {tuple(_merged(list(word), *pair)): count for word, count in words.items()}
    return learned


def naive_encode(text: str, merges) -> int:
    """Every merge in turn applied to every word occurrence; the number of tokens."""
    words = [list(word) for word in split_words(text)]
    for merge in merges:
        words = [_merged(word, merge.left, merge.right) for word in words]
    return sum(map(len, words))


def measure() -> dict:
    text = bundled_text("shakespeare")
    learn_s, model = _best_of_3(lambda: learn(text, MERGES))
    learn_500_s, _ = _best_of_3(lambda: learn(text, 500))
    encode_s, tokenization = _best_of_3(lambda: encode(text[:ENCODED_CHARS], model))

    start = time.perf_counter()
    naive_merges = naive_learn(text, NAIVE_LEARN_MERGES)
    naive_learn_s = (time.perf_counter() - start) * MERGES / NAIVE_LEARN_MERGES
    if naive_merges != [(merge.left, merge.right) for merge in model.merges[:NAIVE_LEARN_MERGES]]:
        raise RuntimeError("the naive learning chose other merges: a timing of different work means nothing")

    start = time.perf_counter()
    naive_tokens = naive_encode(text[:NAIVE_ENCODE_CHARS], model.merges)
    naive_encode_s = (time.perf_counter() - start) * ENCODED_CHARS / NAIVE_ENCODE_CHARS
    if naive_tokens != len(encode(text[:NAIVE_ENCODE_CHARS], model).tokens):
        raise RuntimeError("the naive encoding gave another token count: a timing of different work means nothing")

    return {
        "bpe_merges": len(model.merges),
        "bpe_learn_s": round(learn_s, 3),
        "bpe_naive_learn_s": round(naive_learn_s, 2),
        "bpe_learn_speedup": round(naive_learn_s / learn_s, 1),
        "bpe_learn_500_s": round(learn_500_s, 3),
        "bpe_1mb_s": round(encode_s, 3),
        "bpe_naive_1mb_s": round(naive_encode_s, 2),
        "bpe_encode_speedup": round(naive_encode_s / encode_s, 1),
        "bpe_tokens": len(tokenization.tokens),
        "bpe_chars": ENCODED_CHARS,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
