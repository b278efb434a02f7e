"""The count-based baseline, latent semantic analysis on word contexts: an SVD of the positive pointwise mutual
information (PPMI) matrix of co-occurrence counts (Levy, Goldberg & Dagan 2015 compare it with skip-gram).

- Counts: over the same token stream skip-gram trains on (the same vocabulary, out-of-vocabulary words dropped,
  windows inside a sentence), a pair d words apart counts (window - d + 1) / window, the weight skip-gram's
  dynamic window gives it on average; symmetric. No subsampling.
- PPMI(w, c) = max(0, log p(w, c) / (p(w) p_α(c))) with context-distribution smoothing α = 0.75: p_α(c) is
  count(c)^0.75 normalized, the same smoothing as skip-gram's noise distribution. Zero counts stay zero, so the
  matrix stays sparse.
- Vectors: a truncated SVD M ≈ U Σ Vᵀ to `dimensions` (at most the vocabulary size - 1), by a randomized SVD
  (Halko, Martinsson & Tropp 2011: a range finder with power iterations) on torch's sparse CSR tensors in
  float32, and a word's vector is its row of U Σ^0.5 (the symmetric weighting Levy et al. found better than U Σ
  for similarity and analogies). On the template corpus (5,000 words, ~320,000 non-zeros) a new seed's matrix takes
  85-95 ms, where scikit-learn's `randomized_svd` (float64 scipy products) took 110-120 ms while the user who chose
  the seed waited, and it comes closer to the exact SVD: the 50th singular value 57.1 against the exact 58.9
  (scikit-learn: 56.7). The tail of this spectrum is flat (the 40th to 60th singular values lie between 57 and
  61), so no cheap method pins down the last directions, and the baseline's analogy score moves by a few points
  with them (0.33-0.41 over seeds and methods; the exact SVD: 0.34-0.37).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import sparse

CONTEXT_SMOOTHING = 0.75
SINGULAR_VALUE_POWER = 0.5
OVERSAMPLING = 30  # columns the range finder keeps beyond the rank asked for
POWER_ITERATIONS = 4


def cooccurrence(tokens: np.ndarray, sentence_of: np.ndarray, size: int, window: int) -> sparse.csr_matrix:
    """(size, size) weighted counts of words within `window` of each other in a sentence, symmetric."""
    tokens = tokens.astype(np.int32)  # (scipy builds the matrix from 32-bit indices ~15% faster: 36 against 43 ms)
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
    u, sigma = randomized_svd(matrix, rank, seed)
    return (u * sigma ** SINGULAR_VALUE_POWER).numpy()


def randomized_svd(matrix: sparse.csr_matrix, rank: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """U (rows, rank) and Σ (rank,) of a sparse matrix's truncated SVD, float32: an orthonormal basis Q of the
    range of (M Mᵀ)^q M Ω for a Gaussian Ω, re-orthonormalized after every product (the power iterations make the
    leading directions stand out against a flat tail), then the exact SVD of the small Qᵀ M."""
    forward, backward = _csr_tensor(matrix), _csr_tensor(matrix.T.tocsr())  # (Mᵀ as CSR too: its products are fast)
    width = min(rank + OVERSAMPLING, *matrix.shape)
    start = torch.randn(matrix.shape[1], width, generator=torch.Generator().manual_seed(seed))
    basis = torch.linalg.qr(forward @ start).Q
    for _ in range(POWER_ITERATIONS):
        basis = torch.linalg.qr(forward @ torch.linalg.qr(backward @ basis).Q).Q
    small_u, sigma, _ = torch.linalg.svd((backward @ basis).T, full_matrices=False)
    return basis @ small_u[:, :rank], sigma[:rank]


def _csr_tensor(matrix: sparse.csr_matrix) -> torch.Tensor:
    matrix = matrix.astype(np.float32)
    with warnings.catch_warnings():  # ("sparse CSR tensor support is in beta": products with dense ones are all we use)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr).long(), torch.from_numpy(matrix.indices).long(),
                                       torch.from_numpy(matrix.data), size=matrix.shape, check_invariants=False)


def ppmi_vectors(tokens: np.ndarray, sentence_of: np.ndarray, size: int, window: int, dimensions: int,
                 seed: int) -> np.ndarray:
    """The LSA baseline's (size, dimensions) word vectors from a token stream."""
    return svd_vectors(ppmi(cooccurrence(tokens, sentence_of, size, window)), dimensions, seed)
