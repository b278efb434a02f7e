"""The Attention page's experiment as data: its control table, the spec it defines (engine.common.spec), and the
tuned presets as specs."""

from __future__ import annotations

from typing import Any

from engine.attention.config import ATTENTION_PRESETS, AttentionConfig
from engine.attention.labels import OLD_TASK_LABELS, TASK_LABELS
from engine.attention.model import POSITIONAL_ENCODINGS
from engine.attention.tasks import TASKS
from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class

DEFAULT = ATTENTION_PRESETS["reverse"]  # the controls start from reversal's tuned setting
FAMILIES = {"transformer": "Transformer", "rnn_additive": "RNN + additive attention (Bahdanau)",
            "rnn_multiplicative": "RNN + multiplicative attention (Luong)"}
HEADS = (1, 2, 4, 8)
WIDTHS = (16, 32, 64, 128)
TRAIN_SIZES = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
SPEEDS = ("max", 200, 50, 10, 2)
KEPT_BY_PRESETS = ("speed", "seed")  # a preset sets the experiment, not the pace of watching it or its seed
CUSTOM = "custom"  # the preset box when the controls hold no preset's setting

CONTROLS: tuple[Control, ...] = (
    # Task
    Control("task", "select", "Task", DEFAULT.task, options=TASKS, labels=TASK_LABELS, aliases=OLD_TASK_LABELS,
            help="Induction: continue a repeated segment (find the current token earlier on, copy what followed it)."),
    Control("vocab", "slider", "Vocabulary size", DEFAULT.vocab_size, low=2, high=64, limit="attention.vocab_size"),
    Control("len", "slider", "Sequence length", DEFAULT.seq_len, low=2, high=48,
            help="Reverse, sort and copy: 2–16. Induction: 6–48."),
    Control("segment", "slider", "Repeated segment length", DEFAULT.segment_len, low=2, high=12),
    Control("train", "select_slider", "Training examples", DEFAULT.train_size, options=TRAIN_SIZES),
    # Model
    Control("family", "select", "Model family", "transformer", options=tuple(FAMILIES), labels=FAMILIES),
    Control("layers", "slider", "Layers", DEFAULT.n_layers, low=1, high=4, limit="attention.layers"),
    Control("heads", "select_slider", "Heads per layer", DEFAULT.n_heads, options=HEADS),
    Control("width", "select_slider", "Width (d_model)", DEFAULT.d_model, options=WIDTHS),
    Control("causal", "toggle", "Causal attention (look only back)", DEFAULT.causal,
            help="Off: bidirectional, every position sees the whole sequence."),
    Control("pos", "select", "Positional encoding", DEFAULT.positional, options=POSITIONAL_ENCODINGS),
    Control("scale", "toggle", "Scale scores by 1/√d", DEFAULT.scale_scores,
            help="Without it large dot products saturate the softmax and its gradients vanish."),
    Control("attn_only", "toggle", "Attention only (no MLPs)", DEFAULT.attention_only),
    # Training
    Control("lr", "select_slider", "Learning rate", DEFAULT.lr, options=LEARNING_RATES,
            help="AdamW with a 50-step warm-up; changes live."),
    Control("batch", "select_slider", "Batch size", DEFAULT.batch_size, options=BATCH_SIZES, help="Changes live."),
    Control("speed", "select_slider", "Speed limit (steps/s)", 50, options=SPEEDS,
            help="Slow it down to watch the pattern form; 'max' trains as fast as it can."),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the data, the initial weights and the batch order."),
)


@spec_class
class AttentionSpec(Spec):
    """One attention experiment: a field per control of the page (see CONTROLS)."""

    PREFIX = "at_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("at_tab",)

    @classmethod
    def of(cls, config: AttentionConfig) -> AttentionSpec:
        """The spec whose controls hold `config` (the speed and seed at their defaults)."""
        family = "transformer" if config.architecture == "transformer" else f"rnn_{config.rnn_attention}"
        return cls(task=config.task, vocab=config.vocab_size, len=config.seq_len, segment=config.segment_len,
                   train=config.train_size, family=family, layers=config.n_layers, heads=config.n_heads,
                   width=config.d_model, causal=config.causal, pos=config.positional, scale=config.scale_scores,
                   attn_only=config.attention_only, lr=config.lr, batch=config.batch_size)

    def config(self) -> AttentionConfig:
        """The task and model this spec trains (its learning rate and batch size are hyperparameters, changed
        live: the config keeps the engine's defaults for them). Raises ConfigError for a combination the
        engine refuses (induction without causal attention, a sequence too long for reversal, ...)."""
        transformer = self.family == "transformer"
        try:
            return AttentionConfig(
                task=self.task, vocab_size=self.vocab, seq_len=self.len, segment_len=self.segment,
                train_size=self.train, architecture="transformer" if transformer else "rnn",
                rnn_attention=DEFAULT.rnn_attention if transformer else self.family.removeprefix("rnn_"),
                n_layers=self.layers, n_heads=self.heads, d_model=self.width, causal=self.causal,
                positional=self.pos, scale_scores=self.scale, attention_only=self.attn_only)
        except ValueError as error:  # the engine refuses some combinations with a plain ValueError
            raise ConfigError(str(error)) from error

    def hyperparameters(self) -> dict[str, Any]:
        """The live hyperparameters (changed without rebuilding the model)."""
        return {"lr": float(self.lr), "batch_size": int(self.batch),
                "max_steps_per_second": None if self.speed == "max" else int(self.speed)}

    def preset_fields(self) -> dict[str, Any]:
        """What a preset sets: every field but the speed and the seed."""
        return {field: value for field, value in self.to_dict().items() if field not in KEPT_BY_PRESETS}

    def preset(self) -> str:
        """The preset whose setting this spec holds, else CUSTOM."""
        fields = self.preset_fields()
        return next((name for name, preset in PRESET_SPECS.items() if preset.preset_fields() == fields), CUSTOM)


# Each task's tuned setting.
PRESET_SPECS = {name: AttentionSpec.of(config) for name, config in ATTENTION_PRESETS.items()}
PRESET_LABELS = {**{name: TASK_LABELS[spec.task] for name, spec in PRESET_SPECS.items()}, CUSTOM: "Custom"}
