"""Training and measuring the attention models on the attention tasks.

`AttentionTrainer` is plain code with no thread: build it from an
`AttentionConfig` and a seed, call `train_step()` as often as you like, and ask
it at any time for the held-out accuracy, the attention maps of a batch, how
much attention falls where the task says it should (anti-diagonal mass for
reversal, induction score for induction), or what switching one head off does.
The bench drives it in a loop; the live Job wraps it.

Randomness: the data, the initial weights and the order of minibatches each
come from their own `torch.Generator` derived from the seed, so a seed
reproduces a run whatever else the process is doing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from engine.attention_tasks import (PATTERN_NAMES, TASKS, Examples, TaskSpec, find_repeat, induction_examples_at,
                                    seq2seq_examples, train_heldout_split)
from engine.common.limits import check, check_choice
from engine.transformer import (POSITIONAL_ENCODINGS, RNN_ATTENTIONS, AttentionTransformer, ModelOutput,
                                RNNEncoderDecoder)

ARCHITECTURES = ("transformer", "rnn")


# Independent random streams derived from one seed.
_DATA, _INIT, _BATCHES = 0, 1, 2


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(4 * int(seed) + stream)


@dataclass(frozen=True)
class AttentionConfig:
    """One attention experiment as plain data (what a URL or a preset holds).

    The defaults are reversal with a 1-layer, 1-head bidirectional transformer;
    `PRESETS` holds the tuned setting of each task.
    """

    # task
    task: str = "reverse"
    vocab_size: int = 10
    seq_len: int = 8
    segment_len: int = 4  # induction only
    train_size: int = 4096
    heldout_size: int = 512
    # model
    architecture: str = "transformer"
    n_layers: int = 1
    n_heads: int = 1
    d_model: int = 32
    causal: bool = False
    positional: str = "learned"
    scale_scores: bool = True
    attention_only: bool = False
    rnn_attention: str = "additive"
    rnn_hidden: int = 64
    # optimization (AdamW, linear warm-up then constant; all changeable live)
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        check_choice("task", self.task, TASKS)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check("attention.vocab_size", self.vocab_size)
        if self.task == "induction":
            check("attention.induction_seq_len", self.seq_len)
            if not self.causal and self.architecture == "transformer":
                raise ValueError("induction predicts the next token, which bidirectional attention could simply "
                                 "read; switch causal attention on")
            if self.architecture == "rnn":
                raise ValueError("the RNN encoder–decoder maps a source to a target: use it for reverse, sort or "
                                 "copy, not induction")
        else:
            check("attention.seq_len", self.seq_len)
        self.task_spec()  # checks the segment length against the sequence and vocabulary
        check("attention.layers", self.n_layers)
        check("attention.heads", self.n_heads)
        check("attention.width", self.d_model)
        if self.d_model % self.n_heads:
            raise ValueError(f"the model width {self.d_model} must be divisible by the number of heads "
                             f"{self.n_heads}, so every head gets the same width")
        if self.positional not in POSITIONAL_ENCODINGS:
            raise ValueError(f"unknown positional encoding {self.positional!r}; "
                             f"choose one of {', '.join(POSITIONAL_ENCODINGS)}")
        if self.rnn_attention not in RNN_ATTENTIONS:
            raise ValueError(f"unknown RNN attention {self.rnn_attention!r}; choose one of {', '.join(RNN_ATTENTIONS)}")
        check("attention.rnn_hidden", self.rnn_hidden)
        check("attention.train_size", self.train_size)
        check("attention.heldout_size", self.heldout_size)
        _check_hyperparameters(self.lr, self.batch_size, self.warmup_steps, self.weight_decay, self.grad_clip)

    def task_spec(self) -> TaskSpec:
        return TaskSpec(self.task, self.vocab_size, self.seq_len, self.segment_len)

    @property
    def layout(self) -> str:
        """How the transformer sees the task (see engine.attention_tasks); the RNN reads source and target."""
        if self.architecture == "rnn":
            return "seq2seq"
        return self.task_spec().layout(self.causal)

    @property
    def pattern_name(self) -> str:
        return PATTERN_NAMES[self.task]


def _check_hyperparameters(lr: float, batch_size: int, warmup_steps: int, weight_decay: float,
                           grad_clip: float) -> None:
    if not 0 < lr <= 1:
        raise ValueError(f"the learning rate must be in (0, 1] (got {lr})")
    check("attention.batch_size", batch_size)
    if warmup_steps < 0:
        raise ValueError(f"warm-up steps cannot be negative (got {warmup_steps})")
    if not 0 <= weight_decay <= 1:
        raise ValueError(f"weight decay must be between 0 and 1 (got {weight_decay})")
    if grad_clip < 0:
        raise ValueError(f"gradient clipping must be 0 (off) or positive (got {grad_clip})")


PRESETS: dict[str, AttentionConfig] = {
    "reverse": AttentionConfig(task="reverse"),
    "sort": AttentionConfig(task="sort", n_layers=2, n_heads=2, d_model=64),
    "copy": AttentionConfig(task="copy", causal=True),
    "induction": AttentionConfig(task="induction", vocab_size=32, seq_len=24, segment_len=4, train_size=8192,
                                 n_layers=2, n_heads=2, d_model=64, causal=True, attention_only=True),
}


# ------------------------------------------------------------------ measures
def pattern_mass(attention: torch.Tensor, ideal: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Mean attention that falls on the ideal keys, per layer and head.

    attention (B, layers, heads, Q, K); ideal (B, Q, K) bool; rows (B, Q) bool (queries that count).
    Returns (layers, heads). For reversal this is the anti-diagonal mass, for
    induction the induction score.
    """
    on_ideal = (attention * ideal[:, None, None].to(attention.dtype)).sum(-1)
    weight = rows[:, None, None].to(attention.dtype)
    return (on_ideal * weight).sum(dim=(0, 3)) / weight.sum(dim=(0, 3)).clamp_min(1)


@dataclass(frozen=True)
class Evaluation:
    """How a model does on a set of examples.

    token_accuracy: fraction of scored positions right; sequence_accuracy:
    fraction of examples with every scored position right. Sequence-to-sequence
    tasks in the prompt layout and the RNN are decoded greedily (each output
    reads the model's own previous outputs), so these are honest accuracies,
    not teacher-forced ones; the loss is teacher-forced cross-entropy.
    pattern_mass: (layers, heads), see `pattern_mass` (teacher-forced attention).
    """

    loss: float
    token_accuracy: float
    sequence_accuracy: float
    pattern_mass: np.ndarray

    @property
    def best_head(self) -> tuple[int, int]:
        layer, head = np.unravel_index(int(np.argmax(self.pattern_mass)), self.pattern_mass.shape)
        return int(layer), int(head)

    @property
    def best_pattern_mass(self) -> float:
        return float(self.pattern_mass.max())

    def metrics(self) -> dict[str, float]:
        """Scalars for a metric history."""
        return {"heldout_loss": self.loss, "heldout_token_accuracy": self.token_accuracy,
                "heldout_sequence_accuracy": self.sequence_accuracy, "pattern_mass": self.best_pattern_mass}


@dataclass(frozen=True)
class AttentionMaps:
    """Attention of a few examples, ready to draw.

    attention: (N, layers, heads, Q, K); query_labels[n] / key_labels[n]: token labels along each axis;
    predictions / expected: (N, Q) class per query row, -1 where the row outputs nothing scored.
    """

    attention: np.ndarray
    query_labels: list[list[str]]
    key_labels: list[list[str]]
    predictions: np.ndarray
    expected: np.ndarray
    ideal: np.ndarray  # (N, Q, K) bool


@dataclass(frozen=True)
class Prediction:
    """What the model makes of one typed sequence (see `AttentionTrainer.predict`)."""

    tokens: list[int]
    predicted: list[int]
    expected: list[int | None]
    attention: np.ndarray  # (layers, heads, Q, K)
    query_labels: list[str]
    key_labels: list[str]
    pattern_mass: np.ndarray | None  # (layers, heads) on this sequence; None where no pattern is defined

    @property
    def correct(self) -> bool | None:
        checked = [(p, e) for p, e in zip(self.predicted, self.expected) if e is not None]
        return all(p == e for p, e in checked) if checked else None


@dataclass(frozen=True)
class Ablation:
    """Held-out accuracy with every head on, and with each head switched off alone."""

    baseline_token_accuracy: float
    baseline_sequence_accuracy: float
    token_accuracy: np.ndarray  # (layers, heads)
    sequence_accuracy: np.ndarray


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
class _Scoring:
    """What a model is scored on, in its own axes (the stream for a transformer, target×source for the RNN)."""

    targets: torch.Tensor
    scored: torch.Tensor
    ideal: torch.Tensor
    rows: torch.Tensor


def build_model(config: AttentionConfig, spec: TaskSpec) -> torch.nn.Module:
    if config.architecture == "rnn":
        return RNNEncoderDecoder(spec.n_input_tokens, spec.n_classes, spec.separator, config.rnn_hidden,
                                 config.rnn_attention)
    return AttentionTransformer(spec.n_input_tokens, spec.n_classes, spec.stream_len(config.causal),
                                config.n_layers, config.n_heads, config.d_model, config.causal, config.positional,
                                config.scale_scores, config.attention_only)


class AttentionTrainer:
    """Builds data and model from a config and a seed; trains one minibatch per `train_step()`."""

    DISPLAY_EXAMPLES = 4

    def __init__(self, config: AttentionConfig, seed: int = 0, device: torch.device | str = "cpu",
                 timeline_capacity: int = 64, timeline_interval: int = 10):
        self.config, self.seed, self.device = config, int(seed), torch.device(device)
        self.spec = config.task_spec()
        # The RNN reads source and target; its examples carry the prompt stream only because every example has one.
        layout = "prompt" if config.architecture == "rnn" else self.spec.layout(config.causal)
        train, heldout = train_heldout_split(self.spec, config.train_size, config.heldout_size, layout,
                                             _generator(self.seed, _DATA))
        self.train_set, self.heldout = self._to_device(train), self._to_device(heldout)
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
        self.step = 0
        self.examples_seen = 0
        shape = (config.n_layers, config.n_heads) if self.is_transformer else (1, 1)
        self.head_mask = torch.ones(shape, device=self.device)
        self.timeline = AttentionTimeline(timeline_capacity, timeline_interval)
        self.timeline.record(0, self.attention_maps().attention)

    def _to_device(self, examples: Examples) -> Examples:
        if self.device.type == "cpu":
            return examples
        return Examples(**{name: (value.to(self.device) if isinstance(value, torch.Tensor) else value)
                           for name, value in examples.__dict__.items()})

    @property
    def is_transformer(self) -> bool:
        return isinstance(self.model, AttentionTransformer)

    @property
    def epoch(self) -> float:
        return self.examples_seen / len(self.train_set)

    # ------------------------------------------------------------ training
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
        _check_hyperparameters(**new)
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
        output, scoring = self._teacher_forced(batch, need_weights=False)
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
    def _scoring(self, examples: Examples) -> _Scoring:
        if self.is_transformer:
            return _Scoring(examples.targets, examples.scored, examples.ideal, examples.pattern_rows)
        every = torch.ones_like(examples.target, dtype=torch.bool)
        return _Scoring(examples.target, every, examples.alignment, every)

    def _teacher_forced(self, examples: Examples, head_mask: torch.Tensor | None = None, need_weights: bool = True
                        ) -> tuple[ModelOutput, _Scoring]:
        if self.is_transformer:
            return self.model(examples.tokens, head_mask, need_weights), self._scoring(examples)
        return self.model(examples.source, examples.target), self._scoring(examples)

    def _predict(self, examples: Examples, head_mask: torch.Tensor | None) -> tuple[torch.Tensor, ModelOutput]:
        """Predicted class at every position (in the scoring axes) and the output that made them.

        Prompt layout and RNN: greedy decoding. Aligned and stream: one pass (no output feeds back).
        """
        if not self.is_transformer:
            return self.model.generate(examples.source, self.spec.seq_len)
        if examples.layout != "prompt":
            output = self.model(examples.tokens, head_mask)
            return output.logits.argmax(-1), output
        length = self.spec.seq_len
        tokens = examples.tokens[:, :length + 1]
        for j in range(length):
            output = self.model(tokens, head_mask)
            if j < length - 1:
                tokens = torch.cat([tokens, output.logits[:, -1:].argmax(-1)], dim=1)
        predictions = torch.zeros_like(examples.targets)
        predictions[:, length:] = output.logits[:, length:].argmax(-1)
        return predictions, output

    @torch.no_grad()
    def evaluate(self, examples: Examples | None = None, head_mask: torch.Tensor | None = None) -> Evaluation:
        """Held-out (or given) examples, with the trainer's head mask unless one is given."""
        examples = self.heldout if examples is None else examples
        head_mask = self.head_mask if head_mask is None else head_mask
        self.model.eval()
        forced, scoring = self._teacher_forced(examples, self._mask_or_none(head_mask))
        loss = F.cross_entropy(forced.logits[scoring.scored], scoring.targets[scoring.scored])
        predictions, _ = self._predict(examples, self._mask_or_none(head_mask))
        right = (predictions == scoring.targets) | ~scoring.scored
        token_accuracy = right[scoring.scored].float().mean()
        sequence_accuracy = right.all(dim=1).float().mean()
        mass = pattern_mass(forced.attention, scoring.ideal, scoring.rows)
        return Evaluation(float(loss), float(token_accuracy), float(sequence_accuracy), mass.cpu().numpy())

    def _mask_or_none(self, head_mask: torch.Tensor) -> torch.Tensor | None:
        return head_mask if self.is_transformer and not bool(head_mask.all()) else None

    def set_head(self, layer: int, head: int, enabled: bool) -> None:
        """Switch one head on or off for evaluation and prediction (training always uses every head)."""
        if not self.is_transformer:
            raise ValueError("the RNN has a single attention; switching heads off is for transformers")
        self.head_mask[layer, head] = 1.0 if enabled else 0.0

    @torch.no_grad()
    def ablation(self, examples: Examples | None = None) -> Ablation:
        """Held-out accuracy with each head switched off alone (the others on)."""
        if not self.is_transformer:
            raise ValueError("the RNN has a single attention; head ablation is for transformers")
        every = torch.ones_like(self.head_mask)
        baseline = self.evaluate(examples, every)
        tokens = np.zeros(every.shape)
        sequences = np.zeros(every.shape)
        for layer in range(every.shape[0]):
            for head in range(every.shape[1]):
                mask = every.clone()
                mask[layer, head] = 0.0
                result = self.evaluate(examples, mask)
                tokens[layer, head], sequences[layer, head] = result.token_accuracy, result.sequence_accuracy
        return Ablation(baseline.token_accuracy, baseline.sequence_accuracy, tokens, sequences)

    @torch.no_grad()
    def attention_maps(self, examples: Examples | None = None) -> AttentionMaps:
        """Attention of the given examples (by default the first few held-out ones) as the model
        predicts them: generated outputs in the prompt layout and for the RNN."""
        examples = self.display if examples is None else examples
        self.model.eval()
        predictions, output = self._predict(examples, self._mask_or_none(self.head_mask))
        scoring = self._scoring(examples)
        if self.is_transformer:
            queries = keys = [self.spec.labels(row) for row in self._shown_tokens(examples, predictions)]
        else:
            queries = [self.spec.labels(row) for row in predictions]
            keys = [self.spec.labels(row) for row in examples.source]
        expected = torch.where(scoring.scored, scoring.targets, torch.full_like(scoring.targets, -1))
        shown = torch.where(scoring.scored, predictions, torch.full_like(predictions, -1))
        return AttentionMaps(output.attention.float().cpu().numpy(), queries, keys, shown.cpu().numpy(),
                             expected.cpu().numpy(), scoring.ideal.cpu().numpy())

    def _shown_tokens(self, examples: Examples, predictions: torch.Tensor) -> torch.Tensor:
        """The stream the model actually read: in the prompt layout, its own outputs after the separator."""
        if examples.layout != "prompt":
            return examples.tokens
        length = self.spec.seq_len
        return torch.cat([examples.tokens[:, :length + 1], predictions[:, length:-1]], dim=1)

    @torch.no_grad()
    def predict(self, tokens: list[int]) -> Prediction:
        """The model on one typed sequence (validate it first with `attention_tasks.parse_tokens`).

        Sequence-to-sequence tasks: `tokens` is the source, `predicted` the generated output and
        `expected` the task's answer. Induction: `predicted[i]` is the next token predicted after
        position i; `expected[i]` is known inside the second copy of the longest repeated segment
        (None elsewhere), and `pattern_mass` is the induction score on that repeat.
        """
        row = torch.tensor([tokens], dtype=torch.long)
        if self.spec.is_seq2seq:
            examples = self._to_device(seq2seq_examples(self.spec, row, self.train_set.layout))
            maps = self.attention_maps(examples)
            keep = slice(self.spec.seq_len, None) if examples.layout == "prompt" else slice(None)
            predicted = [int(p) for p in maps.predictions[0, keep]]
            expected: list[int | None] = [int(e) for e in examples.target[0]]
            scoring = self._scoring(examples)
            mass = pattern_mass(torch.from_numpy(maps.attention), scoring.ideal.cpu(), scoring.rows.cpu()).numpy()
            return Prediction(tokens, predicted, expected, maps.attention[0], maps.query_labels[0],
                              maps.key_labels[0], mass)
        self.model.eval()
        output = self.model(row.to(self.device), self._mask_or_none(self.head_mask))
        attention = output.attention.cpu()
        predicted = [int(p) for p in output.logits[0].argmax(-1)]
        expected = [None] * len(tokens)
        mass = None
        repeat = find_repeat(tokens)
        if repeat is not None:
            first, again, length = repeat
            for position in range(again, again + length - 1):
                expected[position] = tokens[position + 1]
            examples = induction_examples_at(row, first, again, length)
            mass = pattern_mass(attention, examples.ideal, examples.pattern_rows).numpy()
        labels = self.spec.labels(row[0])
        return Prediction(tokens, predicted, expected, attention[0].numpy(), labels, labels, mass)

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
