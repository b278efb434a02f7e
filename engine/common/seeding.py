"""Independent random streams from one seed: one `torch.Generator` per purpose (data, weights, batches, ...),
so a seed reproduces a run while other jobs' threads draw from torch's global RNG, and a change to one
purpose's draws (a bigger batch) leaves the others' alone."""

from __future__ import annotations

import zlib

import torch


def stream(seed: int, name: str) -> torch.Generator:
    """The generator of purpose `name` for `seed`."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)
