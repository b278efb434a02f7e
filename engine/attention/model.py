"""Small attention models that show every attention probability.

`AttentionTransformer` is a pre-LayerNorm transformer (1-4 layers, 1-8 heads)
whose attention is written out step by step, so each layer×head probability
matrix is returned with the logits; it equals
`torch.nn.functional.scaled_dot_product_attention` numerically (the tests
check). Switches a lesson needs: causal or bidirectional attention, sinusoidal
/ learned / no positional encoding, scaling scores by 1/√d_head or not, an
attention-only model (no MLPs, as in the induction-head papers), and a head
mask that switches heads off for ablation.

`RNNEncoderDecoder` is the pre-transformer way: a bidirectional GRU encoder and
a GRU decoder that attends to the encoder states, with additive (Bahdanau)
or multiplicative (Luong, "general") scores, exposing its attention weights
in the same (batch, layer, head, query, key) shape.

Parameters are initialized from an explicit `torch.Generator` by
`reset_parameters(generator)`, so a seed reproduces a model without touching
torch's global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

POSITIONAL_ENCODINGS = ("sinusoidal", "learned", "none")
RNN_ATTENTIONS = ("additive", "multiplicative")

EMBEDDING_STD = 1.0


@dataclass(frozen=True)
class ModelOutput:
    """logits: (B, Q, classes); attention: (B, layers, heads, Q, K), rows summing to 1 (None if not asked for)."""

    logits: torch.Tensor
    attention: torch.Tensor | None


def _initialize(model: nn.Module, generator: torch.Generator) -> None:
    """Embeddings N(0, 1), weight matrices Xavier-uniform, biases 0, LayerNorm the identity; all from `generator`."""
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            module.reset_parameters()
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, EMBEDDING_STD, generator=generator)
        elif isinstance(module, (nn.Linear, nn.GRU, nn.GRUCell)):
            for name, parameter in module.named_parameters(recurse=False):
                if name.startswith("bias"):
                    nn.init.zeros_(parameter)
                else:
                    nn.init.xavier_uniform_(parameter, generator=generator)


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Vaswani et al.: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    frequency = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    angle = position * frequency[None, :]
    encoding = torch.zeros(n_positions, d_model)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return encoding


def attention_probabilities(query: torch.Tensor, key: torch.Tensor, causal: bool, scale: float) -> torch.Tensor:
    """softmax(scale · Q Kᵀ) over keys, with future keys masked out when causal. Shapes (..., T, d)."""
    scores = (query @ key.transpose(-2, -1)) * scale
    if causal:
        t_query, t_key = scores.shape[-2:]
        future = torch.ones(t_query, t_key, dtype=torch.bool, device=scores.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    return scores.softmax(dim=-1)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool, scale_scores: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"the model width {d_model} must be divisible by the number of heads {n_heads}")
        self.n_heads, self.d_head, self.causal = n_heads, d_model // n_heads, causal
        self.scale_scores = scale_scores
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)
        self.output = nn.Linear(d_model, d_model, bias=False)

    @property
    def scale(self) -> float:
        """1/√d_head keeps the scores' variance near 1 whatever the head width; 1 shows what goes wrong without."""
        return 1.0 / math.sqrt(self.d_head) if self.scale_scores else 1.0

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x: torch.Tensor, head_mask: torch.Tensor | None = None, need_weights: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, d) -> (output (B, T, d), probabilities (B, heads, T, T), or None without need_weights).

        head_mask: (heads,) of 0/1; a 0 removes that head's contribution to the output.
        need_weights=False computes the same output with torch's fused
        `scaled_dot_product_attention`, which never forms the probabilities.
        """
        query, key, value = (self.split_heads(projection(x)) for projection in (self.query, self.key, self.value))
        if need_weights:
            probabilities = attention_probabilities(query, key, self.causal, self.scale)
            heads = probabilities @ value
        else:
            probabilities = None
            heads = F.scaled_dot_product_attention(query, key, value, is_causal=self.causal, scale=self.scale)
        if head_mask is not None:
            heads = heads * head_mask.to(heads.dtype).view(1, -1, 1, 1)
        batch, _, length, _ = heads.shape
        return self.output(heads.transpose(1, 2).reshape(batch, length, -1)), probabilities


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool, scale_scores: bool, attention_only: bool):
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = MultiHeadSelfAttention(d_model, n_heads, causal, scale_scores)
        self.mlp = None if attention_only else nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, head_mask: torch.Tensor | None = None, need_weights: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        update, probabilities = self.attention(self.attention_norm(x), head_mask, need_weights)
        x = x + update
        if self.mlp is not None:
            x = x + self.mlp(x)
        return x, probabilities


class AttentionTransformer(nn.Module):
    def __init__(self, n_tokens: int, n_classes: int, max_len: int, n_layers: int = 1, n_heads: int = 1,
                 d_model: int = 32, causal: bool = False, positional: str = "learned", scale_scores: bool = True,
                 attention_only: bool = False):
        super().__init__()
        if positional not in POSITIONAL_ENCODINGS:
            raise ValueError(f"unknown positional encoding {positional!r}; choose one of {POSITIONAL_ENCODINGS}")
        self.n_layers, self.n_heads, self.d_model, self.max_len = n_layers, n_heads, d_model, max_len
        self.causal, self.positional = causal, positional
        self.embed = nn.Embedding(n_tokens, d_model)
        self.learned_positions = nn.Parameter(torch.zeros(max_len, d_model)) if positional == "learned" else None
        self.register_buffer("fixed_positions", sinusoidal_positions(max_len, d_model)
                             if positional == "sinusoidal" else None, persistent=False)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, causal, scale_scores, attention_only)
                                    for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, n_classes)

    def positional_encoding(self) -> torch.Tensor | None:
        """(max_len, d_model): what is added to the token embedding at each position; None without one."""
        return self.learned_positions if self.learned_positions is not None else self.fixed_positions

    def reset_parameters(self, generator: torch.Generator) -> None:
        _initialize(self, generator)
        if self.learned_positions is not None:
            nn.init.normal_(self.learned_positions, 0.0, EMBEDDING_STD, generator=generator)

    def forward(self, tokens: torch.Tensor, head_mask: torch.Tensor | None = None,
                need_weights: bool = True) -> ModelOutput:
        """tokens: (B, T) -> logits (B, T, classes), attention (B, layers, heads, T, T).

        head_mask: (layers, heads) of 0/1; None keeps every head.
        need_weights=False: the fused kernel, attention None (for training, where nobody looks).
        """
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"this model reads at most {self.max_len} tokens; got {length}")
        x = self.embed(tokens)
        positions = self.positional_encoding()
        if positions is not None:
            x = x + positions[:length]
        maps = []
        for layer, block in enumerate(self.blocks):
            x, probabilities = block(x, None if head_mask is None else head_mask[layer], need_weights)
            maps.append(probabilities)
        attention = torch.stack(maps, dim=1) if need_weights else None
        return ModelOutput(self.unembed(self.final_norm(x)), attention)


# ------------------------------------------------------------------ RNN family
class AdditiveAttention(nn.Module):
    """Bahdanau: score(s, h_j) = vᵀ tanh(W s + U h_j)."""

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.query_projection = nn.Linear(query_size, attention_size, bias=False)
        self.key_projection = nn.Linear(key_size, attention_size, bias=True)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (B, Dq), keys (B, S, Dk) -> weights (B, S)."""
        hidden = torch.tanh(self.query_projection(query)[:, None, :] + self.key_projection(keys))
        return self.score(hidden).squeeze(-1).softmax(dim=-1)


class MultiplicativeAttention(nn.Module):
    """Luong "general": score(s, h_j) = sᵀ W h_j (W lets encoder and decoder live in different spaces)."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.bilinear = nn.Linear(key_size, query_size, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return (self.bilinear(keys) @ query[:, :, None]).squeeze(-1).softmax(dim=-1)


class RNNEncoderDecoder(nn.Module):
    """Bidirectional GRU encoder, GRU decoder with attention over the encoder states.

    Additive (Bahdanau): the previous decoder state s_{t-1} scores the encoder
    states; the context c_t joins the input of the GRU step; the output reads
    [s_t; c_t]. Multiplicative (Luong): the GRU steps first, the new state s_t
    scores the encoder states, and the output reads h̃_t = tanh(W_c [c_t; s_t]).
    """

    def __init__(self, n_tokens: int, n_classes: int, start_token: int, hidden_size: int = 64,
                 attention: str = "additive"):
        super().__init__()
        if attention not in RNN_ATTENTIONS:
            raise ValueError(f"unknown RNN attention {attention!r}; choose one of {RNN_ATTENTIONS}")
        self.kind, self.start_token, self.hidden_size = attention, start_token, hidden_size
        self.source_embed = nn.Embedding(n_tokens, hidden_size)
        self.target_embed = nn.Embedding(n_tokens, hidden_size)
        self.encoder = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)
        if attention == "additive":
            self.attention = AdditiveAttention(hidden_size, 2 * hidden_size, hidden_size)
            self.decoder = nn.GRUCell(3 * hidden_size, hidden_size)
            self.readout = nn.Linear(3 * hidden_size, n_classes)
        else:
            self.attention = MultiplicativeAttention(hidden_size, 2 * hidden_size)
            self.decoder = nn.GRUCell(hidden_size, hidden_size)
            self.combine = nn.Linear(3 * hidden_size, hidden_size)
            self.readout = nn.Linear(hidden_size, n_classes)

    def reset_parameters(self, generator: torch.Generator) -> None:
        _initialize(self, generator)

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """source (B, S) -> encoder states (B, S, 2H), first decoder state (B, H)."""
        states, last = self.encoder(self.source_embed(source))
        return states, torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=-1)))

    def decode_step(self, previous: torch.Tensor, state: torch.Tensor, encoded: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One output step: (logits (B, classes), new state (B, H), weights (B, S))."""
        embedded = self.target_embed(previous)
        if self.kind == "additive":
            weights = self.attention(state, encoded)
            context = (weights[:, None, :] @ encoded).squeeze(1)
            state = self.decoder(torch.cat([embedded, context], dim=-1), state)
            return self.readout(torch.cat([state, context], dim=-1)), state, weights
        state = self.decoder(embedded, state)
        weights = self.attention(state, encoded)
        context = (weights[:, None, :] @ encoded).squeeze(1)
        attentional = torch.tanh(self.combine(torch.cat([context, state], dim=-1)))
        return self.readout(attentional), state, weights

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> ModelOutput:
        """Teacher forcing: step t reads target[t-1] (the start token first).

        -> logits (B, L, classes), attention (B, 1, 1, L, S).
        """
        encoded, state = self.encode(source)
        previous = torch.full_like(target[:, 0], self.start_token)
        logits, weights = [], []
        for t in range(target.shape[1]):
            step_logits, state, step_weights = self.decode_step(previous, state, encoded)
            logits.append(step_logits)
            weights.append(step_weights)
            previous = target[:, t]
        return ModelOutput(torch.stack(logits, 1), torch.stack(weights, 1)[:, None, None])

    def generate(self, source: torch.Tensor, length: int) -> tuple[torch.Tensor, ModelOutput]:
        """Greedy decoding, each step reading the previous prediction -> (predictions (B, L), output)."""
        encoded, state = self.encode(source)
        previous = torch.full_like(source[:, 0], self.start_token)
        logits, weights, predictions = [], [], []
        for _ in range(length):
            step_logits, state, step_weights = self.decode_step(previous, state, encoded)
            previous = step_logits.argmax(dim=-1)
            logits.append(step_logits)
            weights.append(step_weights)
            predictions.append(previous)
        return torch.stack(predictions, 1), ModelOutput(torch.stack(logits, 1), torch.stack(weights, 1)[:, None, None])
