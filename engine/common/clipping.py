"""Gradient clipping, as the pages that offer it (Gradient Flow's deep and recurrent networks) apply it."""

from __future__ import annotations

import torch

CLIP_MODES = {"off": "Off", "value": "By value", "norm": "By norm"}


def check_clipping(changes: dict) -> None:
    """Refuse a clipping mode or threshold among live hyperparameter `changes` that cannot be applied."""
    if "clip" in changes and changes["clip"] not in CLIP_MODES:
        raise ValueError(f"unknown clipping {changes['clip']!r}")
    if "clip_at" in changes and not float(changes["clip_at"]) > 0:
        raise ValueError("the clipping threshold must be positive")


def clip_gradients(params: list[torch.Tensor], mode: str, threshold: float, total: torch.Tensor | None = None) -> None:
    """Clip in place: "value" clamps each entry to ±threshold (the direction may turn); "norm" rescales the
    whole gradient to norm ≤ threshold (the direction is kept); `total` is the norm if already known."""
    if mode == "norm":
        if total is None:
            torch.nn.utils.clip_grad_norm_(params, threshold)
        else:
            torch.nn.utils.clip_grads_with_norm_(params, threshold, total)
    elif mode == "value":
        torch.nn.utils.clip_grad_value_(params, threshold)
    elif mode != "off":
        raise ValueError(f"unknown clipping {mode!r}")
