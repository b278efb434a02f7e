"""Training the attention models on the attention tasks: `AttentionTrainer`, the experiment's plain trainer.

Build it from an `AttentionConfig` and a seed, call `train_step()` as often as you like (or drive it with
`engine.runtime.train`), and ask it at any time for the held-out accuracy (`measure`), the attention maps
of a batch, what switching one head off does, or what it makes of a typed sequence (engine.attention.measures
does the measuring). The bench and the tests drive it in a loop; the page's `AttentionJob` runs it live.

What the page asks for on demand travels as hyperparameters and is served between steps:

- `query`: a typed token sequence (a tuple, already checked with `tasks.parse_tokens`); its prediction and
  attention are refreshed at every `observe`, so they change as the model learns.
- `heads_off`: (layer, head) pairs switched off for evaluation, prediction and the drawn attention
  (training always uses every head).
- `ablation_request`: a counter; each new value measures the held-out accuracy with each head switched
  off alone.

Held-out evaluation costs several training steps (a greedy decode of the whole held-out set), so while the
job trains on (`training`) it runs at most every `EVAL_EVERY_S` and never takes more than about
`EVAL_SHARE` of the time; otherwise it runs whenever the step changed.

Randomness: the data, the initial weights and the order of minibatches each come from their own
`torch.Generator` derived from the seed, so a seed reproduces a run whatever else the process is doing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from engine.attention import measures
from engine.attention.config import AttentionConfig, check_hyperparameters
from engine.attention.measures import Ablation, AttentionMaps, Evaluation, Prediction
from engine.attention.model import AttentionTransformer, RNNEncoderDecoder
from engine.attention.tasks import Examples, TaskSpec, parse_tokens, train_heldout_split
from engine.attention.visuals import AttentionTimeline, AttentionVisuals
from engine.runtime import Trainer

EVAL_EVERY_S = 0.5
EVAL_SHARE = 0.2  # at most this fraction of the time goes to held-out evaluation while training

# Independent random streams derived from one seed.
_DATA, _INIT, _BATCHES = 0, 1, 2


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(4 * int(seed) + stream)


def build_model(config: AttentionConfig, spec: TaskSpec) -> torch.nn.Module:
    if config.architecture == "rnn":
        return RNNEncoderDecoder(spec.n_input_tokens, spec.n_classes, spec.separator, config.rnn_hidden,
                                 config.rnn_attention)
    return AttentionTransformer(spec.n_input_tokens, spec.n_classes, spec.stream_len(config.causal),
                                config.n_layers, config.n_heads, config.d_model, config.causal, config.positional,
                                config.scale_scores, config.attention_only)


class AttentionTrainer(Trainer):
    """Builds data and model from a config and a seed; trains one minibatch per `train_step()`."""

    DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"query": None, "heads_off": (), "ablation_request": 0}
    DISPLAY_EXAMPLES = 4
    TIMELINE_CAPACITY, TIMELINE_INTERVAL = 64, 10

    config: AttentionConfig

    def setup(self) -> None:
        config = self.config
        self.spec = config.task_spec()
        # The RNN reads source and target; its examples carry the prompt stream only because every example has one.
        layout = "prompt" if config.architecture == "rnn" else self.spec.layout(config.causal)
        train, heldout = train_heldout_split(self.spec, config.train_size, config.heldout_size, layout,
                                             _generator(self.seed, _DATA))
        self.train_set, self.heldout = train.to(self.device), heldout.to(self.device)
        self.display = self.heldout.subset(slice(0, self.DISPLAY_EXAMPLES))
        self.model = build_model(config, self.spec)
        self.model.reset_parameters(_generator(self.seed, _INIT))
        self.model.to(self.device)
        self.lr, self.batch_size = config.lr, config.batch_size
        self.warmup_steps, self.grad_clip = config.warmup_steps, config.grad_clip
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self._batch_rng = _generator(self.seed, _BATCHES)
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self.step = 0  # optimizer steps taken: the warm-up and the timeline count them
        self.examples_seen = 0
        shape = (config.n_layers, config.n_heads) if self.is_transformer else (1, 1)
        self.head_mask = torch.ones(shape, device=self.device)
        self.timeline = AttentionTimeline(self.TIMELINE_CAPACITY, self.TIMELINE_INTERVAL)
        self.timeline.record(0, self.attention_maps().attention)
        self._evaluation: Evaluation | None = None
        self._evaluated_step = -1
        self._next_eval_at = 0.0
        # A request made before this trainer was built (the job's hyperparameters outlive a reset) is not repeated.
        self._ablation_counter = self.hp["ablation_request"]
        self._ablation: tuple[int, Ablation] | None = None
        self._timeline_cache: tuple[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None
        self.apply_hyperparameters(self.hp)

    @property
    def is_transformer(self) -> bool:
        return measures.is_transformer(self.model)

    @property
    def epoch(self) -> float:
        return self.examples_seen / len(self.train_set)

    # ------------------------------------------------------------ training
    CHECKPOINTED = ("model", "optimizer", "_batch_rng", "_order", "_cursor", "step", "examples_seen", "timeline")

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        # What was measured of other weights.
        self._evaluation, self._evaluated_step, self._ablation, self._timeline_cache = None, -1, None, None

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        live = {k: changes[k] for k in ("lr", "batch_size") if changes.get(k) is not None}
        if live:
            self.set_hyperparameters(**live)
        if "heads_off" in changes and self.is_transformer:
            self.head_mask.fill_(1.0)
            layers, heads = self.head_mask.shape
            for layer, head in changes["heads_off"] or ():
                if 0 <= layer < layers and 0 <= head < heads:
                    self.set_head(layer, head, False)
            self._evaluated_step = -1  # the held-out numbers depend on the mask
        request = changes.get("ablation_request")
        if request is not None and request != self._ablation_counter:
            self._ablation_counter = request
            if self.is_transformer:
                self._ablation = (self.step, self.ablation())

    def set_hyperparameters(self, lr: float | None = None, batch_size: int | None = None,
                            warmup_steps: int | None = None, weight_decay: float | None = None,
                            grad_clip: float | None = None) -> None:
        """Change optimization settings between steps (no reset)."""
        new = dict(lr=self.lr if lr is None else float(lr),
                   batch_size=self.batch_size if batch_size is None else int(batch_size),
                   warmup_steps=self.warmup_steps if warmup_steps is None else int(warmup_steps),
                   weight_decay=self.optimizer.param_groups[0]["weight_decay"] if weight_decay is None
                   else float(weight_decay),
                   grad_clip=self.grad_clip if grad_clip is None else float(grad_clip))
        check_hyperparameters(**new)
        self.lr, self.batch_size, self.warmup_steps = new["lr"], new["batch_size"], new["warmup_steps"]
        self.grad_clip = new["grad_clip"]
        for group in self.optimizer.param_groups:
            group["weight_decay"] = new["weight_decay"]

    def current_lr(self) -> float:
        """Linear warm-up from lr/warmup to lr over the first `warmup_steps` steps, then constant."""
        if self.warmup_steps and self.step < self.warmup_steps:
            return self.lr * (self.step + 1) / self.warmup_steps
        return self.lr

    def _next_batch(self) -> Examples:
        """Shuffled epochs: every training example once per epoch, in a new order each time."""
        parts, needed = [], self.batch_size
        while needed:
            if self._cursor >= len(self._order):
                self._order = torch.randperm(len(self.train_set), generator=self._batch_rng)
                self._cursor = 0
            take = self._order[self._cursor:self._cursor + needed]
            self._cursor += len(take)
            needed -= len(take)
            parts.append(take)
        return self.train_set.subset(torch.cat(parts).to(self.device))

    def train_step(self) -> dict[str, float]:
        """One AdamW step on one minibatch -> {"loss", "train_accuracy", "lr"} of that minibatch."""
        self.model.train()
        batch = self._next_batch()
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        output, scoring = measures.teacher_forced(self.model, batch, need_weights=False)
        logits, targets = output.logits[scoring.scored], scoring.targets[scoring.scored]
        loss = F.cross_entropy(logits, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.examples_seen += len(batch)
        if self.timeline.due(self.step):
            self.timeline.record(self.step, self.attention_maps().attention)
        accuracy = (logits.argmax(-1) == targets).float().mean()
        return {"loss": loss.item(), "train_accuracy": float(accuracy), "lr": lr}

    # ------------------------------------------------------------ measuring
    def evaluate(self) -> dict[str, float]:
        """The held-out metrics for the history, when the step changed (and, while training live, when due);
        else nothing."""
        now = time.monotonic()
        if self.step == self._evaluated_step or (self.training and now < self._next_eval_at):
            return {}
        started = time.perf_counter()
        self._evaluation = self.measure()
        cost = time.perf_counter() - started
        self._evaluated_step = self.step
        self._next_eval_at = now + max(EVAL_EVERY_S, cost / EVAL_SHARE)
        return self._evaluation.metrics()

    def measure(self, examples: Examples | None = None, head_mask: torch.Tensor | None = None) -> Evaluation:
        """Held-out (or given) examples, with the trainer's head mask unless one is given."""
        examples = self.heldout if examples is None else examples
        head_mask = self.head_mask if head_mask is None else head_mask
        return measures.evaluate(self.model, self.spec, examples, self._mask_or_none(head_mask))

    def _mask_or_none(self, head_mask: torch.Tensor) -> torch.Tensor | None:
        return head_mask if self.is_transformer and not bool(head_mask.all()) else None

    def set_head(self, layer: int, head: int, enabled: bool) -> None:
        """Switch one head on or off for evaluation and prediction (training always uses every head)."""
        if not self.is_transformer:
            raise ValueError("the RNN has a single attention; switching heads off is for transformers")
        self.head_mask[layer, head] = 1.0 if enabled else 0.0

    def ablation(self, examples: Examples | None = None) -> Ablation:
        """Held-out accuracy with each head switched off alone (the others on)."""
        if not self.is_transformer:
            raise ValueError("the RNN has a single attention; head ablation is for transformers")
        return measures.ablation(self.model, self.spec, self.heldout if examples is None else examples)

    def attention_maps(self, examples: Examples | None = None) -> AttentionMaps:
        """Attention of the given examples (by default the first few held-out ones) as the model
        predicts them, with the trainer's head mask."""
        return measures.attention_maps(self.model, self.spec, self.display if examples is None else examples,
                                       self._mask_or_none(self.head_mask))

    def predict(self, tokens: list[int]) -> Prediction:
        """The model on one typed sequence (see `measures.predict`)."""
        return measures.predict(self.model, self.spec, tokens, self.train_set.layout,
                                self._mask_or_none(self.head_mask))

    def positional_encoding(self) -> np.ndarray | None:
        """(positions, d_model) added to the embeddings, or None (no encoding, or the RNN)."""
        if not self.is_transformer:
            return None
        encoding = self.model.positional_encoding()
        return None if encoding is None else encoding.detach().cpu().numpy().copy()

    def positional_similarity(self) -> np.ndarray | None:
        """Dot products between the encodings of every two positions, (positions, positions)."""
        encoding = self.positional_encoding()
        return None if encoding is None else encoding @ encoding.T

    # ------------------------------------------------------------ publishing
    def observe(self) -> AttentionVisuals:
        if self._evaluation is None or not self.training:
            self.evaluate()
        maps = self.attention_maps()
        encoding = self.positional_encoding()
        ablation_step, ablation = self._ablation if self._ablation is not None else (None, None)
        prediction, query_error = self._prediction()
        timeline_steps, timeline_attention = self._timeline()
        return AttentionVisuals(
            attention=maps.attention.copy(), query_labels=maps.query_labels, key_labels=maps.key_labels,
            predictions=maps.predictions.copy(), expected=maps.expected.copy(), ideal=maps.ideal.copy(),
            pattern_mass=self._evaluation.pattern_mass.copy(), best_head=self._evaluation.best_head,
            evaluated_step=self._evaluated_step, is_transformer=self.is_transformer,
            heads_off=tuple(map(tuple, np.argwhere(self.head_mask.cpu().numpy() == 0).tolist())),
            timeline_steps=timeline_steps, timeline_attention=timeline_attention,
            positional_encoding=encoding, positional_similarity=None if encoding is None else encoding @ encoding.T,
            ablation_step=ablation_step, ablation=ablation, prediction=prediction, query_error=query_error,
            # The trained weights, copied, for the Export panel (readers never touch the live model).
            state={name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()})

    def _timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """The timeline, re-stacked only when it changed (it grows every few steps)."""
        mark = (len(self.timeline.steps), self.timeline.steps[-1] if self.timeline.steps else -1)
        if self._timeline_cache is None or self._timeline_cache[0] != mark:
            self._timeline_cache = (mark, self.timeline.frozen())
        return self._timeline_cache[1]

    def _prediction(self) -> tuple[Prediction | None, str | None]:
        query = self.hp.get("query")
        if not query:
            return None, None
        try:  # a query typed for the previous experiment may not fit this one
            tokens = parse_tokens(" ".join(str(t) for t in query), self.spec)
        except ValueError as error:
            return None, str(error)
        return self.predict(tokens), None
