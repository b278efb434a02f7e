"""Sequence tasks whose right attention pattern is known in advance.

Four tasks, all over content tokens `0 .. vocab_size-1` plus one separator
token `SEPARATOR = vocab_size` (shown as "→"):

- reverse:   target = source read backwards.     Right place to look: the mirrored position.
- sort:      target = source sorted ascending.     Right place to look: any source position
             holding the value being written (ties: all of them).
- copy:      target = source.                      Right place to look: the same position.
- induction: a random segment appears twice, at a random offset; in the second copy,
             predict the next token. Right place to look: the token right after the
             current token's earlier occurrence (the "induction" pattern).

The first three are sequence-to-sequence tasks. A transformer sees them in one
of two layouts, chosen by whether its attention is causal:

- "aligned" (bidirectional attention): the stream is the source, and position
  i is trained to output target[i]. Every position is scored. Reversal's ideal
  pattern is the anti-diagonal of the L×L attention matrix.
- "prompt" (causal attention, as in a decoder-only language model): the stream
  is `source, →, target[0..L-2]` (length 2L) and position L+j is trained to
  output target[j] (teacher forcing): the separator predicts the first output,
  each output token the next one. Positions L .. 2L-1 are scored; their ideal
  attention lies in the source block (columns 0 .. L-1).

The RNN encoder–decoder reads `source` and writes `target` directly; its ideal
attention is `alignment[j, i]`: output step j should look at source position i.

Induction uses a single causal stream of length `seq_len`. The segment of
length S starts at `first_start` and again at `repeat_start` (the offset
`repeat_start - first_start` varies from example to example, so position alone
cannot solve it). Segment tokens are distinct and appear nowhere else, so each
token of the second copy has exactly one earlier occurrence. Scored positions
are the second copy's tokens except its last (each predicts the next token of
the copy); the ideal pattern is defined for every token q of the second copy:
it should attend to q - offset + 1.

All randomness comes from an explicit `torch.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

TASKS = ("reverse", "sort", "copy", "induction")
SEQ2SEQ_TASKS = ("reverse", "sort", "copy")
SEPARATOR_LABEL = "→"


@dataclass(frozen=True)
class TaskSpec:
    """The task itself: which one, over how many tokens, how long."""

    task: str = "reverse"
    vocab_size: int = 10
    seq_len: int = 8
    segment_len: int = 4  # induction only: length of the repeated segment

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.vocab_size < 2:
            raise ValueError(f"the vocabulary needs at least 2 tokens (got {self.vocab_size})")
        if self.seq_len < 2:
            raise ValueError(f"sequences need at least 2 tokens (got {self.seq_len})")
        if self.task == "induction":
            if self.segment_len < 2:
                raise ValueError(f"the repeated segment needs at least 2 tokens (got {self.segment_len})")
            if 2 * self.segment_len > self.seq_len:
                raise ValueError(f"a segment of {self.segment_len} tokens repeated once needs sequences of at least "
                                 f"{2 * self.segment_len} tokens (got {self.seq_len})")
            if self.segment_len >= self.vocab_size:
                raise ValueError(f"the segment's {self.segment_len} tokens are distinct and the filler uses other "
                                 f"tokens, so the vocabulary must exceed the segment length (got {self.vocab_size})")

    @property
    def separator(self) -> int:
        return self.vocab_size

    @property
    def n_input_tokens(self) -> int:
        """Embedding rows: the content tokens and the separator."""
        return self.vocab_size + 1

    @property
    def n_classes(self) -> int:
        """Outputs are always content tokens."""
        return self.vocab_size

    @property
    def is_seq2seq(self) -> bool:
        return self.task in SEQ2SEQ_TASKS

    def layout(self, causal: bool) -> str:
        if not self.is_seq2seq:
            return "stream"
        return "prompt" if causal else "aligned"

    def stream_len(self, causal: bool) -> int:
        return 2 * self.seq_len if self.layout(causal) == "prompt" else self.seq_len

    def token_label(self, token: int) -> str:
        return SEPARATOR_LABEL if token == self.separator else str(int(token))

    def labels(self, tokens: torch.Tensor) -> list[str]:
        return [self.token_label(int(t)) for t in tokens]


@dataclass(frozen=True)
class Examples:
    """A batch of examples, ready for a transformer (the stream) and, for
    sequence-to-sequence tasks, for the RNN encoder–decoder (source/target).

    tokens:       (N, T) int64   the transformer's input stream
    targets:      (N, T) int64   the class to output at each position (0 where not scored)
    scored:       (N, T) bool    positions that count in the loss and the accuracy
    ideal:        (N, T, T) bool ideal[n, q, k]: key k is a right place for query q to look
    pattern_rows: (N, T) bool    queries whose ideal pattern is defined
    source, target: (N, L) int64, alignment (N, L, L) bool   seq2seq tasks only
    first_start, repeat_start: (N,) int64                    induction only
    """

    layout: str
    tokens: torch.Tensor
    targets: torch.Tensor
    scored: torch.Tensor
    ideal: torch.Tensor
    pattern_rows: torch.Tensor
    source: torch.Tensor | None = None
    target: torch.Tensor | None = None
    alignment: torch.Tensor | None = None
    first_start: torch.Tensor | None = None
    repeat_start: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def subset(self, index: torch.Tensor | slice) -> "Examples":
        changes = {name: getattr(self, name)[index] for name in
                   ("tokens", "targets", "scored", "ideal", "pattern_rows", "source", "target", "alignment",
                    "first_start", "repeat_start") if getattr(self, name) is not None}
        return replace(self, **changes)

    def to(self, device: torch.device) -> "Examples":
        if device.type == "cpu":
            return self
        return Examples(**{name: (value.to(device) if isinstance(value, torch.Tensor) else value)
                           for name, value in self.__dict__.items()})


# ------------------------------------------------------------ seq2seq rules
def seq2seq_target(task: str, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, alignment) for sources of shape (N, L); alignment is (N, L_target, L_source)."""
    n, length = source.shape
    if task == "reverse":
        target = source.flip(-1)
        alignment = torch.eye(length, dtype=torch.bool).flip(-1).expand(n, length, length)
    elif task == "copy":
        target = source.clone()
        alignment = torch.eye(length, dtype=torch.bool).expand(n, length, length)
    elif task == "sort":
        target = source.sort(dim=-1).values
        alignment = target[:, :, None] == source[:, None, :]
    else:
        raise ValueError(f"{task!r} is not a sequence-to-sequence task; those are {', '.join(SEQ2SEQ_TASKS)}")
    return target, alignment.clone()


def seq2seq_examples(spec: TaskSpec, source: torch.Tensor, layout: str) -> Examples:
    """Lay out given sources (N, L) for the task; the target follows from the task's rule."""
    if source.dim() != 2 or source.shape[1] != spec.seq_len:
        raise ValueError(f"sources must have shape (N, {spec.seq_len}); got {tuple(source.shape)}")
    if source.numel() and (int(source.min()) < 0 or int(source.max()) >= spec.vocab_size):
        raise ValueError(f"source tokens must lie in 0..{spec.vocab_size - 1}")
    target, alignment = seq2seq_target(spec.task, source)
    n, length = source.shape
    if layout == "aligned":
        tokens, targets = source.clone(), target.clone()
        scored = torch.ones(n, length, dtype=torch.bool)
        ideal = alignment.clone()
    elif layout == "prompt":
        separator = torch.full((n, 1), spec.separator, dtype=source.dtype)
        tokens = torch.cat([source, separator, target[:, :-1]], dim=1)
        stream = 2 * length
        targets = torch.zeros(n, stream, dtype=torch.long)
        targets[:, length:] = target
        scored = torch.zeros(n, stream, dtype=torch.bool)
        scored[:, length:] = True
        ideal = torch.zeros(n, stream, stream, dtype=torch.bool)
        ideal[:, length:, :length] = alignment
    else:
        raise ValueError(f"sequence-to-sequence tasks use the 'aligned' or 'prompt' layout, not {layout!r}")
    return Examples(layout=layout, tokens=tokens, targets=targets, scored=scored, ideal=ideal,
                    pattern_rows=scored.clone(), source=source.clone(), target=target, alignment=alignment)


def random_sources(spec: TaskSpec, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, spec.vocab_size, (n, spec.seq_len), generator=generator)


# ---------------------------------------------------------------- induction
def induction_placements(seq_len: int, segment_len: int) -> torch.Tensor:
    """Every (first_start, repeat_start) with both copies inside the sequence and not overlapping."""
    pairs = [(a, b) for a in range(seq_len - 2 * segment_len + 1)
             for b in range(a + segment_len, seq_len - segment_len + 1)]
    return torch.tensor(pairs, dtype=torch.long)


def induction_examples(spec: TaskSpec, n: int, generator: torch.Generator) -> Examples:
    """`n` sequences with a segment repeated at a placement drawn uniformly from all valid ones."""
    length, segment, vocab = spec.seq_len, spec.segment_len, spec.vocab_size
    placements = induction_placements(length, segment)
    chosen = placements[torch.randint(0, len(placements), (n,), generator=generator)]
    first_start, repeat_start = chosen[:, 0], chosen[:, 1]
    # A random permutation per example: its first S tokens form the segment, the
    # rest is the pool the filler draws from, so segment tokens occur only in the copies.
    permutation = torch.rand(n, vocab, generator=generator).argsort(dim=1)
    segment_tokens = permutation[:, :segment]
    filler_pick = torch.randint(0, vocab - segment, (n, length), generator=generator)
    tokens = permutation[:, segment:].gather(1, filler_pick)
    rows = torch.arange(n)[:, None]
    offsets = torch.arange(segment)[None, :]
    tokens[rows, first_start[:, None] + offsets] = segment_tokens
    tokens[rows, repeat_start[:, None] + offsets] = segment_tokens
    return _induction_fields(tokens, first_start, repeat_start, segment)


def _induction_fields(tokens: torch.Tensor, first_start: torch.Tensor, repeat_start: torch.Tensor,
                      segment: int) -> Examples:
    n, length = tokens.shape
    position = torch.arange(length)[None, :]
    in_repeat = (position >= repeat_start[:, None]) & (position < repeat_start[:, None] + segment)
    scored = in_repeat & (position < repeat_start[:, None] + segment - 1)
    targets = torch.zeros_like(tokens)
    targets[:, :-1] = tokens[:, 1:]
    targets = torch.where(scored, targets, torch.zeros_like(targets))
    offset = (repeat_start - first_start)[:, None, None]
    query, key = torch.arange(length)[None, :, None], torch.arange(length)[None, None, :]
    ideal = in_repeat[:, :, None] & (key == query - offset + 1)
    return Examples(layout="stream", tokens=tokens, targets=targets, scored=scored, ideal=ideal,
                    pattern_rows=in_repeat, first_start=first_start.clone(), repeat_start=repeat_start.clone())


def induction_examples_at(tokens: torch.Tensor, first_start: int, repeat_start: int, segment_len: int) -> Examples:
    """Examples for given sequences (N, T) whose segment sits at known places (for typed input)."""
    if not (0 <= first_start and first_start + segment_len <= repeat_start
            and repeat_start + segment_len <= tokens.shape[1]):
        raise ValueError("the two copies must fit in the sequence without overlapping")
    segment = tokens[:, first_start:first_start + segment_len]
    if not torch.equal(segment, tokens[:, repeat_start:repeat_start + segment_len]):
        raise ValueError("the second copy differs from the first")
    n = tokens.shape[0]
    return _induction_fields(tokens.clone(), torch.full((n,), first_start), torch.full((n,), repeat_start),
                             segment_len)


def find_repeat(tokens: list[int], min_len: int = 2) -> tuple[int, int, int] | None:
    """The longest segment that occurs twice without overlapping: (first_start, repeat_start, length).

    Brute force, for one typed sequence; ties go to the earliest repeat.
    """
    n = len(tokens)
    for length in range(n // 2, min_len - 1, -1):
        for b in range(length, n - length + 1):
            for a in range(0, b - length + 1):
                if tokens[a:a + length] == tokens[b:b + length]:
                    return a, b, length
    return None


# ------------------------------------------------------------------ datasets
def generate(spec: TaskSpec, n: int, layout: str, generator: torch.Generator) -> Examples:
    """`n` random examples of the task in the given layout."""
    if spec.is_seq2seq:
        return seq2seq_examples(spec, random_sources(spec, n, generator), layout)
    if layout != "stream":
        raise ValueError("induction predicts the next token, which bidirectional attention could simply read; "
                         "it needs causal attention")
    return induction_examples(spec, n, generator)


def _keys(examples: Examples) -> list[bytes]:
    return [row.numpy().tobytes() for row in examples.tokens]


def train_heldout_split(spec: TaskSpec, n_train: int, n_heldout: int, layout: str,
                        generator: torch.Generator) -> tuple[Examples, Examples]:
    """A training set and a held-out set that shares no sequence with it.

    Raises ValueError when the task has too few distinct sequences for that.
    """
    if spec.is_seq2seq:
        distinct = spec.vocab_size ** spec.seq_len
        if distinct < 2 * (n_train + n_heldout):
            raise ValueError(f"only {distinct} distinct sequences of {spec.seq_len} tokens over {spec.vocab_size} "
                             f"symbols exist, too few for {n_train} training and {n_heldout} held-out sequences "
                             f"that differ: use a longer sequence, a larger vocabulary or smaller sets")
    train = generate(spec, n_train, layout, generator)
    seen = set(_keys(train))
    kept: list[Examples] = []
    found = 0
    for _ in range(50):
        candidates = generate(spec, 2 * n_heldout, layout, generator)
        fresh = []
        for index, key in enumerate(_keys(candidates)):
            if key not in seen:
                seen.add(key)
                fresh.append(index)
        kept.append(candidates.subset(torch.tensor(fresh[: n_heldout - found], dtype=torch.long)))
        found += len(kept[-1])
        if found == n_heldout:
            return train, concatenate(kept)
    raise ValueError(f"could not find {n_heldout} held-out sequences unlike the training set; "
                     f"use a longer sequence, a larger vocabulary or smaller sets")


def concatenate(parts: list[Examples]) -> Examples:
    first = parts[0]
    changes = {name: torch.cat([getattr(p, name) for p in parts]) for name in
               ("tokens", "targets", "scored", "ideal", "pattern_rows", "source", "target", "alignment",
                "first_start", "repeat_start") if getattr(first, name) is not None}
    return replace(first, **changes)


def parse_tokens(text: str, spec: TaskSpec) -> list[int]:
    """Tokens typed by a person: numbers separated by spaces or commas ("3 1 4 1 5"),
    or, when every token is one digit, digits run together ("31415")."""
    cleaned = text.replace(",", " ").split()
    if len(cleaned) == 1 and spec.vocab_size <= 10 and cleaned[0].isdigit():
        cleaned = list(cleaned[0])
    if not cleaned:
        raise ValueError("type a sequence of tokens, for example " + " ".join(str(i % spec.vocab_size)
                                                                            for i in range(spec.seq_len)))
    try:
        tokens = [int(part) for part in cleaned]
    except ValueError:
        raise ValueError(f"tokens are whole numbers from 0 to {spec.vocab_size - 1}, separated by spaces") from None
    bad = [t for t in tokens if not 0 <= t < spec.vocab_size]
    if bad:
        raise ValueError(f"token {bad[0]} is outside the vocabulary 0..{spec.vocab_size - 1}")
    if spec.is_seq2seq and len(tokens) != spec.seq_len:
        raise ValueError(f"the model was trained on sequences of exactly {spec.seq_len} tokens; "
                         f"you typed {len(tokens)}")
    if not spec.is_seq2seq and not 2 <= len(tokens) <= spec.seq_len:
        raise ValueError(f"type between 2 and {spec.seq_len} tokens (the length the model was trained on); "
                         f"you typed {len(tokens)}")
    return tokens
