"""What the Attention page draws, as the trainer publishes it: `AttentionVisuals`, one frozen value of NumPy
arrays, numbers, strings and small frozen dataclasses (it pickles; readers never touch the live model),
and the `AttentionTimeline` of attention snapshots it is drawn from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.attention.measures import Ablation, Prediction


class AttentionTimeline:
    """Attention snapshots taken during training, for a scrubber, in bounded memory.

    Records every `interval` steps; when `capacity` snapshots are held, every
    other one is dropped and the interval doubles, so the timeline always
    spans the whole run evenly.
    """

    def __init__(self, capacity: int = 64, interval: int = 10):
        if capacity < 2:
            raise ValueError("a timeline holds at least 2 snapshots")
        self.capacity, self.interval = capacity, interval
        self.steps: list[int] = []
        self.maps: list[np.ndarray] = []

    def due(self, step: int) -> bool:
        return step % self.interval == 0 and (not self.steps or step > self.steps[-1])

    def record(self, step: int, attention: np.ndarray) -> None:
        if len(self.steps) == self.capacity:
            self.steps, self.maps = self.steps[::2], self.maps[::2]
            self.interval *= 2
        self.steps.append(step)
        self.maps.append(attention)

    def frozen(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (S,), attention (S, N, layers, heads, Q, K)), both read-only."""
        steps = np.array(self.steps, dtype=np.int64)
        maps = np.stack(self.maps) if self.maps else np.empty((0,), dtype=np.float32)
        steps.setflags(write=False)
        maps.setflags(write=False)
        return steps, maps


@dataclass(frozen=True)
class AttentionVisuals:
    """One publish of the Attention experiment.

    The first few held-out examples as the model predicts them: `attention` (N, layers, heads, Q, K), the
    token labels along each axis, `predictions` / `expected` (N, Q) with -1 where a row outputs nothing
    scored, and the task's `ideal` (N, Q, K). The last held-out evaluation (at `evaluated_step`):
    `pattern_mass` (layers, heads) and its `best_head`. `timeline_steps` (S,) and `timeline_attention`
    (S, N, layers, heads, Q, K) for the scrubber. `positional_encoding` (positions, d_model) and
    `positional_similarity` (positions, positions), None without an encoding (switched off, or the RNN).
    The last head ablation asked for and its step; what the model makes of the typed query, or why that
    query does not fit; and the trained weights, copied, for the Export panel.
    """

    attention: np.ndarray
    query_labels: tuple[tuple[str, ...], ...]
    key_labels: tuple[tuple[str, ...], ...]
    predictions: np.ndarray
    expected: np.ndarray
    ideal: np.ndarray
    pattern_mass: np.ndarray
    best_head: tuple[int, int]
    evaluated_step: int
    is_transformer: bool
    heads_off: tuple[tuple[int, int], ...]
    timeline_steps: np.ndarray
    timeline_attention: np.ndarray
    positional_encoding: np.ndarray | None
    positional_similarity: np.ndarray | None
    ablation_step: int | None
    ablation: Ablation | None
    prediction: Prediction | None
    query_error: str | None
    state: dict[str, torch.Tensor]  # the model's state_dict on the CPU, for weight export
