"""The count-based baseline, latent semantic analysis on word contexts: an SVD of the positive pointwise mutual
information (PPMI) matrix of co-occurrence counts (Levy, Goldberg & Dagan 2015 compare it with skip-gram).

- Counts: over the same token stream skip-gram trains on (the same vocabulary, out-of-vocabulary words dropped,
  windows inside a sentence), a pair d words apart counts (window - d + 1) / window, the weight skip-gram's
  dynamic window gives it on average; symmetric. No subsampling.
- PPMI(w, c) = max(0, log p(w, c) / (p(w) p_α(c))) with context-distribution smoothing α = 0.75: p_α(c) is
  count(c)^0.75 normalized, the same smoothing as skip-gram's noise distribution. Zero counts stay zero, so the
  matrix stays sparse.
- Vectors: a truncated SVD M ≈ U Σ Vᵀ to `dimensions` (at most the vocabulary size - 1), by scikit-learn's
  randomized SVD (a 5,000-word vocabulary takes about a second), and a word's vector is its row of U Σ^0.5
  (the symmetric weighting Levy et al. found better than U Σ for similarity and analogies).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

CONTEXT_SMOOTHING = 0.75
SINGULAR_VALUE_POWER = 0.5


def cooccurrence(tokens: np.ndarray, sentence_of: np.ndarray, size: int, window: int) -> sparse.csr_matrix:
    """(size, size) weighted counts of words within `window` of each other in a sentence, symmetric."""
    rows, columns, weights = [], [], []
    for distance in range(1, window + 1):
        same = sentence_of[distance:] == sentence_of[:-distance]
        rows.append(tokens[:-distance][same])
        columns.append(tokens[distance:][same])
        weights.append(np.full(int(same.sum()), (window - distance + 1) / window))
    rows, columns, weights = np.concatenate(rows), np.concatenate(columns), np.concatenate(weights)
    one_way = sparse.coo_matrix((weights, (rows, columns)), shape=(size, size)).tocsr()
    return (one_way + one_way.T).tocsr()


def ppmi(counts: sparse.csr_matrix, smoothing: float = CONTEXT_SMOOTHING) -> sparse.csr_matrix:
    """The PPMI matrix of co-occurrence `counts` (module docstring), as sparse as the counts."""
    counts = counts.tocoo()
    total = counts.sum()
    word_totals = np.asarray(counts.sum(axis=1)).ravel()
    context_weights = np.asarray(counts.sum(axis=0)).ravel() ** smoothing
    p_context = context_weights / context_weights.sum()
    pmi = np.log(counts.data / total) - np.log(word_totals[counts.row] / total) - np.log(p_context[counts.col])
    positive = pmi > 0
    return sparse.csr_matrix((pmi[positive], (counts.row[positive], counts.col[positive])), shape=counts.shape)


def svd_vectors(matrix: sparse.csr_matrix, dimensions: int, seed: int) -> np.ndarray:
    """Rows of U Σ^0.5 of a rank-`dimensions` randomized SVD (fewer when the matrix is smaller), float32."""
    rank = max(1, min(dimensions, matrix.shape[0] - 1))
    u, sigma, _ = randomized_svd(matrix, rank, n_iter=5, random_state=seed)
    return (u * sigma ** SINGULAR_VALUE_POWER).astype(np.float32)


def ppmi_vectors(tokens: np.ndarray, sentence_of: np.ndarray, size: int, window: int, dimensions: int,
                 seed: int) -> np.ndarray:
    """The LSA baseline's (size, dimensions) word vectors from a token stream."""
    return svd_vectors(ppmi(cooccurrence(tokens, sentence_of, size, window)), dimensions, seed)
