"""What the Gradient Flow page says about an experiment: its short name in file names, and the notes beside its
charts (Markdown with LaTeX), with the experiment's own numbers filled in."""

from __future__ import annotations

import math

from engine.common.layers import INIT_SCHEMES
from engine.gradients.deep_config import ACTIVATION_CHOICES, DeepConfig
from engine.gradients.recurrent_config import RecurrentConfig


def deep_setting(config: DeepConfig) -> str:
    """The experiment in file names: e.g. spiral-relu-he-depth20x64-momentum, -batchnorm, -layernorm-noaffine,
    -residual, -residual-preact."""
    norm = "" if config.norm == "none" else f"-{config.norm}norm"
    if config.norm == "layer" and not config.layer_norm_affine:
        norm += "-noaffine"
    return (f"{config.data.kind}-{config.activation}-{config.init}-depth{config.depth}x{config.width}{norm}"
            f"{'-residual' if config.residual else ''}{'-preact' if pre_activation(config) else ''}-{config.optimizer}")


def pre_activation(config: DeepConfig) -> bool:
    return config.residual and config.residual_order == "pre"


def time_setting(config: RecurrentConfig) -> str:
    """E.g. recall-T50-h32-rho0.8-b3-adam."""
    return (f"recall-T{config.seq_len}-h{config.hidden}-rho{config.spectral_radius:g}-b{config.gate_bias:g}-"
            f"{config.optimizer}")


THEORY_LINE = (r"**The theory line.** With independent zero-mean weights and zero biases, $z = Wh$ has "
               r"$E[z^2] = n_{in}\,\mathrm{Var}(W)\,E[h^2]$. Each scheme picks $\mathrm{Var}(W)$ to keep it "
               r"steady: He $2/n_{in}$ (ReLU halves $E[h^2]$), LeCun $1/n_{in}$ (linear, SELU), "
               r"Xavier $2/(n_{in}+n_{out})$ (balances the backward pass too).")


# Residual blocks multiply the random factors of every block before them: one network strays far from the mean.
SCATTER = (" The line is the mean over random initializations; one network scatters around it, the more so the "
           "deeper and narrower it is (try other seeds).")


def this_init(config: DeepConfig) -> str:
    """Beside the theory line: what it shows for this network."""
    text = (f"This network uses **{INIT_SCHEMES[config.init].label}**; the dashed line carries its variance "
            f"through {config.depth} {ACTIVATION_CHOICES[config.activation]} layers. Markers far from it mean the "
            "activations grow or die with depth, and so will the gradients.")
    if pre_activation(config):
        return text + (r" **Residual, pre-activation** ($h_l = h_{l-1} + z_l$, $z_l = W_l f(h_{l-1})$): the zero-mean "
                       r"weights leave no cross term, so $E[h_l^2] = E[h_{l-1}^2] + E[z_l^2]$. Under He init with "
                       r"ReLU, $E[z_l^2] \approx E[h_{l-1}^2]$: each block about doubles the variance (course note "
                       r"002), and the line grows by about 2× a block." + SCATTER)
    if config.residual:
        return text + (r" **Residual** ($h_l = h_{l-1} + f(z_l)$): each block adds $f(z_l)$, whose mean is not 0 "
                       r"for ReLU, so $E[h_l^2] = E[h_{l-1}^2] + 2E[h_{l-1}]E[f(z_l)] + E[f(z_l)^2]$: under He init "
                       r"with ReLU the line grows by 2.6–2.9× a block." + SCATTER)
    return text


def why_the_lstm_remembers(config: RecurrentConfig) -> str:
    kept = 1 / (1 + math.exp(-config.gate_bias))
    return (r"**Why the LSTM remembers.** Its cell state is updated additively, $c_t = f_t \odot c_{t-1} + "
            r"i_t \odot g_t$, so along the cell path $\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$: no "
            r"$W_{hh}$, no squashing derivative. "
            f"With the forget-gate bias $b = {config.gate_bias:g}$ the gate starts near $\\sigma(b) = {kept:.2f}$, "
            f"and over $T = {config.seq_len}$ steps the error keeps about $\\sigma(b)^T = "
            f"{kept ** config.seq_len:.2g}$ of itself (the dotted line, $\\lVert\\partial L/\\partial c_t\\rVert$). "
            r"A vanilla RNN multiplies it by $\mathrm{diag}(f')\,W_{hh}$ at every step instead; with $|f'| \le 1$ "
            f"it shrinks about like $\\rho^{{T-t}}$ (dashed guide, $\\rho = {config.spectral_radius:g}$) or faster.")


CLIPPING = ("**Clipping.** Set ρ ≥ 2 and the ReLU RNN's gradient norm jumps past 10⁴ (chart above). Adam hardly "
            "notices: it divides each step by the gradient's running size. With SGD the step is the gradient itself, "
            "and the ReLU RNN's weights overflow within a few steps (it stops). Clip by norm and no step is longer "
            "than η × threshold: it trains on. Clipping tames the step, not the cause; a smaller ρ does that.")
