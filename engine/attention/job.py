"""The Attention page's live experiment: the job runtime running an `AttentionTrainer`."""

from __future__ import annotations

from typing import Any

from engine.attention.config import AttentionConfig
from engine.attention.trainer import AttentionTrainer
from engine.runtime import Job

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": AttentionConfig.lr, "batch_size": AttentionConfig.batch_size,
    **AttentionTrainer.DEFAULT_HYPERPARAMETERS, "max_steps_per_second": None,
}


class AttentionJob(Job):
    """A transformer or RNN encoder–decoder learning an attention task, live."""

    trainer_type = AttentionTrainer
    trainer: AttentionTrainer

    def __init__(self, config: AttentionConfig, hyperparameters: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
