"""The Attention page's live experiment: an `AttentionTrainer` run by the job runtime.

Everything the page draws is copied into the snapshot as NumPy arrays or frozen
dataclasses, so the page never touches the live model. What the page asks for
on demand travels as hyperparameters and runs in the trainer thread:

- `query`: a typed token sequence (a tuple, already checked with
  `attention_tasks.parse_tokens`); its prediction and attention are refreshed
  at every publish, so they change as the model learns.
- `heads_off`: (layer, head) pairs switched off for evaluation, prediction and
  the drawn attention (training always uses every head).
- `ablation_request`: a counter; each new value measures the held-out accuracy
  with each head switched off alone.

Held-out evaluation costs several training steps (a greedy decode of the whole
held-out set), so while training it runs at most every `EVAL_EVERY_S` and
never takes more than about a fifth of the time; when paused it runs whenever
the step changed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.attention_tasks import parse_tokens
from engine.attention_training import Ablation, AttentionConfig, AttentionTrainer, Evaluation, Prediction
from engine.runtime import Job, JobStatus

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr": AttentionConfig.lr, "batch_size": AttentionConfig.batch_size, "query": None, "heads_off": (),
    "ablation_request": 0, "max_steps_per_second": None,
}
EVAL_EVERY_S = 0.5
EVAL_SHARE = 0.2  # at most this fraction of the time goes to held-out evaluation while training


class AttentionJob(Job):
    """A transformer or RNN encoder–decoder learning an attention task, live."""

    def __init__(self, config: AttentionConfig, hyperparameters: dict[str, Any] | None = None, **kwargs: Any):
        # Set before the base starts the thread, which calls setup() and apply_hyperparameters().
        self.trainer: AttentionTrainer | None = None
        self._ablation_counter = 0
        self._ablation: tuple[int, Ablation] | None = None
        self._evaluation: Evaluation | None = None
        self._evaluated_step = -1
        self._next_eval_at = 0.0
        self._timeline_cache: tuple[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None
        super().__init__(config, {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)

    # ------------------------------------------------------------ hooks
    def setup(self) -> None:
        self.trainer = None
        self._ablation, self._evaluation, self._evaluated_step = None, None, -1
        self._timeline_cache = None
        self.trainer = AttentionTrainer(self.config, seed=self.seed, device=self.device)

    @property
    def epoch(self) -> float:
        return self.trainer.epoch if self.trainer is not None else 0.0

    def train_step(self) -> dict[str, float]:
        return self.trainer.train_step()

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        live = {k: changes[k] for k in ("lr", "batch_size") if k in changes and changes[k] is not None}
        if live:
            trainer.set_hyperparameters(**live)
        if "heads_off" in changes and trainer.is_transformer:
            trainer.head_mask.fill_(1.0)
            layers, heads = trainer.head_mask.shape
            for layer, head in changes["heads_off"] or ():
                if 0 <= layer < layers and 0 <= head < heads:
                    trainer.set_head(layer, head, False)
            self._evaluated_step = -1  # the held-out numbers depend on the mask
        request = changes.get("ablation_request")
        if request is not None and request != self._ablation_counter:
            self._ablation_counter = request
            if trainer.is_transformer:
                self._ablation = (self.steps_done, trainer.ablation())

    def evaluate(self) -> dict[str, float]:
        now = time.monotonic()
        running = self._status is JobStatus.RUNNING
        if self.steps_done == self._evaluated_step or (running and now < self._next_eval_at):
            return {}
        started = time.perf_counter()
        self._evaluation = self.trainer.evaluate()
        cost = time.perf_counter() - started
        self._evaluated_step = self.steps_done
        self._next_eval_at = now + max(EVAL_EVERY_S, cost / EVAL_SHARE)
        return self._evaluation.metrics()

    def observe(self) -> dict[str, Any]:
        trainer = self.trainer
        if self._evaluation is None:
            self.evaluate()
        maps = trainer.attention_maps()
        visuals: dict[str, Any] = {
            "attention": maps.attention.copy(), "query_labels": maps.query_labels, "key_labels": maps.key_labels,
            "predictions": maps.predictions.copy(), "expected": maps.expected.copy(), "ideal": maps.ideal.copy(),
            "pattern_mass": self._evaluation.pattern_mass.copy(), "best_head": self._evaluation.best_head,
            "evaluated_step": self._evaluated_step, "is_transformer": trainer.is_transformer,
            "heads_off": tuple(map(tuple, np.argwhere(trainer.head_mask.cpu().numpy() == 0).tolist())),
            # The trained weights, copied, for the Export panel (readers never touch the live model).
            "state": {name: value.detach().cpu().clone() for name, value in trainer.model.state_dict().items()},
        }
        visuals["timeline_steps"], visuals["timeline_attention"] = self._timeline()
        encoding = trainer.positional_encoding()
        if encoding is not None:
            visuals["positional_encoding"] = encoding
            visuals["positional_similarity"] = encoding @ encoding.T
        if self._ablation is not None:
            visuals["ablation_step"], visuals["ablation"] = self._ablation
        visuals["prediction"], visuals["query_error"] = self._prediction()
        return visuals

    # ------------------------------------------------------------ helpers
    def _timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """The trainer's timeline, re-stacked only when it changed (it grows every few steps)."""
        timeline = self.trainer.timeline
        mark = (len(timeline.steps), timeline.steps[-1] if timeline.steps else -1)
        if self._timeline_cache is None or self._timeline_cache[0] != mark:
            self._timeline_cache = (mark, timeline.frozen())
        return self._timeline_cache[1]

    def _prediction(self) -> tuple[Prediction | None, str | None]:
        query = self.hp.get("query")
        if not query:
            return None, None
        try:  # a query typed for the previous experiment may not fit this one
            tokens = parse_tokens(" ".join(str(t) for t in query), self.trainer.spec)
        except ValueError as error:
            return None, str(error)
        return self.trainer.predict(tokens), None
