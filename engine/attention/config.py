"""One attention experiment as plain data: the task, the model and its optimization (what a URL or a preset
holds), checked through engine.common.limits, and the tuned preset of each task."""

from __future__ import annotations

from dataclasses import dataclass

from engine.attention.labels import PATTERN_NAMES
from engine.attention.model import POSITIONAL_ENCODINGS, RNN_ATTENTIONS
from engine.attention.tasks import TASKS, TaskSpec
from engine.common.limits import check, check_choice

ARCHITECTURES = ("transformer", "rnn")


@dataclass(frozen=True)
class AttentionConfig:
    """One attention experiment as plain data (what a URL or a preset holds).

    The defaults are reversal with a 1-layer, 1-head bidirectional transformer;
    `ATTENTION_PRESETS` holds the tuned setting of each task.
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
        check_hyperparameters(self.lr, self.batch_size, self.warmup_steps, self.weight_decay, self.grad_clip)

    def task_spec(self) -> TaskSpec:
        return TaskSpec(self.task, self.vocab_size, self.seq_len, self.segment_len)

    @property
    def layout(self) -> str:
        """How the transformer sees the task (see engine.attention.tasks); the RNN reads source and target."""
        if self.architecture == "rnn":
            return "seq2seq"
        return self.task_spec().layout(self.causal)

    @property
    def pattern_name(self) -> str:
        return PATTERN_NAMES[self.task]


def check_hyperparameters(lr: float, batch_size: int, warmup_steps: int, weight_decay: float,
                          grad_clip: float) -> None:
    """The optimization settings, which change live too (see `AttentionTrainer.set_hyperparameters`)."""
    if not 0 < lr <= 1:
        raise ValueError(f"the learning rate must be in (0, 1] (got {lr})")
    check("attention.batch_size", batch_size)
    if warmup_steps < 0:
        raise ValueError(f"warm-up steps cannot be negative (got {warmup_steps})")
    if not 0 <= weight_decay <= 1:
        raise ValueError(f"weight decay must be between 0 and 1 (got {weight_decay})")
    if grad_clip < 0:
        raise ValueError(f"gradient clipping must be 0 (off) or positive (got {grad_clip})")


ATTENTION_PRESETS: dict[str, AttentionConfig] = {
    "reverse": AttentionConfig(task="reverse"),
    "sort": AttentionConfig(task="sort", n_layers=2, n_heads=2, d_model=64),
    "copy": AttentionConfig(task="copy", causal=True),
    "induction": AttentionConfig(task="induction", vocab_size=32, seq_len=24, segment_len=4, train_size=8192,
                                 n_layers=2, n_heads=2, d_model=64, causal=True, attention_only=True),
}
