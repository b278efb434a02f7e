"""Questions to word vectors: nearest neighbours by cosine, and analogies by 3CosAdd (Mikolov et al. 2013; Levy &
Goldberg 2014 name it), written as the page shows them, a - b + c ≈ ?:

    answer = argmax over words d not in {a, b, c} of  cos(d, a) - cos(d, b) + cos(d, c)

on unit-length vectors, which is the word nearest by cosine to a - b + c. The query words are excluded (else the
answer is almost always a or c). Ties go to the more frequent word (the lower index): answers are ranked by a
stable sort, and a word's rank counts the words before it in that order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def analogy_scores(unit: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(q, n) 3CosAdd scores of every word for q queries a[i] - b[i] + c[i] (word indices) on unit rows, the
    query words' own scores set to -inf."""
    scores = (unit[a] - unit[b] + unit[c]) @ unit.T
    rows = np.arange(len(a))
    for query in (a, b, c):
        scores[rows, query] = -np.inf
    return scores


def ranked(scores: np.ndarray) -> np.ndarray:
    """Word indices from the best score to the worst, ties by index."""
    return np.argsort(-scores, kind="stable")


def rank_of(scores: np.ndarray, word: int) -> int:
    """The 1-based place of `word` among `scores` ranked as `ranked` ranks them."""
    score = scores[word]
    return int((scores > score).sum() + (scores[:word] == score).sum() + 1)


def top1_hits(unit: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(q,) whether each analogy's best answer is its expected word d (np.argmax: ties go to the lower index)."""
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    return analogy_scores(unit, a, b, c).argmax(axis=1) == d


def neighbours(unit: np.ndarray, word: int, count: int) -> list[tuple[int, float]]:
    """The `count` words nearest `word` by cosine, itself excluded: (index, cosine) from the nearest."""
    cosines = unit @ unit[word]
    cosines[word] = -np.inf
    return _best(cosines, count)


def answers(unit: np.ndarray, query: Sequence[int], count: int) -> tuple[list[tuple[int, float]], np.ndarray]:
    """The best `count` answers (index, score) to one analogy query (a, b, c), and every word's scores."""
    a, b, c = (np.array([i]) for i in query)
    scores = analogy_scores(unit, a, b, c)[0]
    return _best(scores, count), scores


def _best(scores: np.ndarray, count: int) -> list[tuple[int, float]]:
    """The first `count` (index, score) in ranked order, the excluded words (-inf) left out."""
    return [(int(i), float(scores[i])) for i in ranked(scores)[:count] if np.isfinite(scores[i])]
