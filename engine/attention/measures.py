"""Measuring an attention model on its task: held-out accuracy, how much attention falls where the task
says it should (anti-diagonal mass for reversal, induction score for induction), the attention maps to
draw, what switching one head off does, and what the model makes of one typed sequence.

Plain functions of a model, its task and examples (the trainer calls them on its own). A head mask of None
means every head on; sequence-to-sequence tasks in the prompt layout and the RNN are decoded greedily, each
output reading the model's own previous outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from engine.attention.model import AttentionTransformer, ModelOutput
from engine.attention.tasks import Examples, TaskSpec, find_repeat, induction_examples_at, seq2seq_examples


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
    query_labels: tuple[tuple[str, ...], ...]
    key_labels: tuple[tuple[str, ...], ...]
    predictions: np.ndarray
    expected: np.ndarray
    ideal: np.ndarray  # (N, Q, K) bool


@dataclass(frozen=True)
class Prediction:
    """What the model makes of one typed sequence (see `predict`)."""

    tokens: tuple[int, ...]
    predicted: tuple[int, ...]
    expected: tuple[int | None, ...]
    attention: np.ndarray  # (layers, heads, Q, K)
    query_labels: tuple[str, ...]
    key_labels: tuple[str, ...]
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


@dataclass(frozen=True)
class Scoring:
    """What a model is scored on, in its own axes (the stream for a transformer, target×source for the RNN)."""

    targets: torch.Tensor
    scored: torch.Tensor
    ideal: torch.Tensor
    rows: torch.Tensor


def is_transformer(model: torch.nn.Module) -> bool:
    return isinstance(model, AttentionTransformer)


def scoring(model: torch.nn.Module, examples: Examples) -> Scoring:
    if is_transformer(model):
        return Scoring(examples.targets, examples.scored, examples.ideal, examples.pattern_rows)
    every = torch.ones_like(examples.target, dtype=torch.bool)
    return Scoring(examples.target, every, examples.alignment, every)


def teacher_forced(model: torch.nn.Module, examples: Examples, head_mask: torch.Tensor | None = None,
                   need_weights: bool = True) -> tuple[ModelOutput, Scoring]:
    if is_transformer(model):
        return model(examples.tokens, head_mask, need_weights), scoring(model, examples)
    return model(examples.source, examples.target), scoring(model, examples)


def predict_positions(model: torch.nn.Module, spec: TaskSpec, examples: Examples, head_mask: torch.Tensor | None
                      ) -> tuple[torch.Tensor, ModelOutput]:
    """Predicted class at every position (in the scoring axes) and the output that made them.

    Prompt layout and RNN: greedy decoding. Aligned and stream: one pass (no output feeds back).
    """
    if not is_transformer(model):
        return model.generate(examples.source, spec.seq_len)
    if examples.layout != "prompt":
        output = model(examples.tokens, head_mask)
        return output.logits.argmax(-1), output
    length = spec.seq_len
    tokens = examples.tokens[:, :length + 1]
    for j in range(length):
        output = model(tokens, head_mask)
        if j < length - 1:
            tokens = torch.cat([tokens, output.logits[:, -1:].argmax(-1)], dim=1)
    predictions = torch.zeros_like(examples.targets)
    predictions[:, length:] = output.logits[:, length:].argmax(-1)
    return predictions, output


@torch.no_grad()
def evaluate(model: torch.nn.Module, spec: TaskSpec, examples: Examples,
             head_mask: torch.Tensor | None = None) -> Evaluation:
    model.eval()
    forced, scores = teacher_forced(model, examples, head_mask)
    loss = F.cross_entropy(forced.logits[scores.scored], scores.targets[scores.scored])
    predictions, _ = predict_positions(model, spec, examples, head_mask)
    right = (predictions == scores.targets) | ~scores.scored
    token_accuracy = right[scores.scored].float().mean()
    sequence_accuracy = right.all(dim=1).float().mean()
    mass = pattern_mass(forced.attention, scores.ideal, scores.rows)
    return Evaluation(float(loss), float(token_accuracy), float(sequence_accuracy), mass.cpu().numpy())


@torch.no_grad()
def ablation(model: AttentionTransformer, spec: TaskSpec, examples: Examples) -> Ablation:
    """Accuracy with each head switched off alone (the others on)."""
    every = torch.ones(model.n_layers, model.n_heads, device=examples.tokens.device)
    baseline = evaluate(model, spec, examples)
    tokens = np.zeros(every.shape)
    sequences = np.zeros(every.shape)
    for layer, head in np.ndindex(*every.shape):
        mask = every.clone()
        mask[layer, head] = 0.0
        result = evaluate(model, spec, examples, mask)
        tokens[layer, head], sequences[layer, head] = result.token_accuracy, result.sequence_accuracy
    return Ablation(baseline.token_accuracy, baseline.sequence_accuracy, tokens, sequences)


def _labels(spec: TaskSpec, rows: torch.Tensor) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(spec.labels(row)) for row in rows)


@torch.no_grad()
def attention_maps(model: torch.nn.Module, spec: TaskSpec, examples: Examples,
                   head_mask: torch.Tensor | None = None) -> AttentionMaps:
    """Attention of the examples as the model predicts them: generated outputs in the prompt layout and for
    the RNN."""
    model.eval()
    predictions, output = predict_positions(model, spec, examples, head_mask)
    scores = scoring(model, examples)
    if is_transformer(model):
        queries = keys = _labels(spec, _shown_tokens(spec, examples, predictions))
    else:
        queries, keys = _labels(spec, predictions), _labels(spec, examples.source)
    expected = torch.where(scores.scored, scores.targets, torch.full_like(scores.targets, -1))
    shown = torch.where(scores.scored, predictions, torch.full_like(predictions, -1))
    return AttentionMaps(output.attention.float().cpu().numpy(), queries, keys, shown.cpu().numpy(),
                         expected.cpu().numpy(), scores.ideal.cpu().numpy())


def _shown_tokens(spec: TaskSpec, examples: Examples, predictions: torch.Tensor) -> torch.Tensor:
    """The stream the model actually read: in the prompt layout, its own outputs after the separator."""
    if examples.layout != "prompt":
        return examples.tokens
    length = spec.seq_len
    return torch.cat([examples.tokens[:, :length + 1], predictions[:, length:-1]], dim=1)


@torch.no_grad()
def predict(model: torch.nn.Module, spec: TaskSpec, tokens: list[int], layout: str,
            head_mask: torch.Tensor | None = None) -> Prediction:
    """The model on one typed sequence (validate it first with `tasks.parse_tokens`), in the layout it
    was trained on.

    Sequence-to-sequence tasks: `tokens` is the source, `predicted` the generated output and
    `expected` the task's answer. Induction: `predicted[i]` is the next token predicted after
    position i; `expected[i]` is known inside the second copy of the longest repeated segment
    (None elsewhere), and `pattern_mass` is the induction score on that repeat.
    """
    device = next(model.parameters()).device
    row = torch.tensor([tokens], dtype=torch.long)
    if spec.is_seq2seq:
        examples = seq2seq_examples(spec, row, layout).to(device)
        maps = attention_maps(model, spec, examples, head_mask)
        keep = slice(spec.seq_len, None) if examples.layout == "prompt" else slice(None)
        predicted = tuple(int(p) for p in maps.predictions[0, keep])
        expected = tuple(int(e) for e in examples.target[0])
        scores = scoring(model, examples)
        mass = pattern_mass(torch.from_numpy(maps.attention), scores.ideal.cpu(), scores.rows.cpu()).numpy()
        return Prediction(tuple(tokens), predicted, expected, maps.attention[0], maps.query_labels[0],
                          maps.key_labels[0], mass)
    model.eval()
    output = model(row.to(device), head_mask)
    attention = output.attention.cpu()
    predicted = tuple(int(p) for p in output.logits[0].argmax(-1))
    expected: list[int | None] = [None] * len(tokens)
    mass = None
    repeat = find_repeat(tokens)
    if repeat is not None:
        first, again, length = repeat
        for position in range(again, again + length - 1):
            expected[position] = tokens[position + 1]
        examples = induction_examples_at(row, first, again, length)
        mass = pattern_mass(attention, examples.ideal, examples.pattern_rows).numpy()
    labels = tuple(spec.labels(row[0]))
    return Prediction(tuple(tokens), predicted, tuple(expected), attention[0].numpy(), labels, labels, mass)
