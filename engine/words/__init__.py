"""Words and sequences: how text becomes something a network learns from.

- texts: the bundled public-domain text and the checks on a pasted one
- bpe: byte-pair encoding, merge by merge (the Tokens tab)
- word vectors: skip-gram with negative sampling trained live, against an SVD of the PPMI matrix (LSA)
- charlm: a character-level recurrent language model trained live with truncated BPTT, and its baselines
- spec: the page's controls and the experiments they define
"""
