"""The Gradient Flow page's controls, one group per mode. Every experiment-defining one is bound to the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine import gradient_flow as deep
from engine import recurrent
from engine.common.layers import INIT_SCHEMES
from engine.playground_data import DATASET_LABELS, DATASETS, DataSpec

URL = "query-params"
DEEP, TIME = "deep", "time"
MODES = {DEEP: "Deep networks", TIME: "Through time"}
DEEP_DEFAULT, TIME_DEFAULT = deep.DeepConfig(), recurrent.RecurrentConfig()
WIDTHS = [4, 8, 16, 32, 64, 128, 256]
HIDDEN_SIZES = [8, 16, 32, 64, 128]
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
CLIP_THRESHOLDS = [0.01, 0.1, 0.5, 1.0, 5.0, 10.0]
BATCH_SIZES = [8, 16, 32, 64, 128, 256]


@dataclass(frozen=True)
class Controls:
    config: Any
    seed: int
    hyperparameters: dict[str, Any]


def mode_control() -> str:
    return st.segmented_control("Mode", list(MODES), default=DEEP, format_func=MODES.get, key="gf_mode", bind=URL,
                                label_visibility="collapsed") or DEEP


def _clipping(prefix: str, default_at: float) -> tuple[str, float]:
    clip = st.segmented_control("Gradient clipping", list(deep.CLIP_MODES), default="off",
                                format_func=deep.CLIP_MODES.get, key=f"{prefix}_clip", bind=URL,
                                help="By value: clamp every gradient entry to ±threshold (may turn the direction). "
                                     "By norm: rescale the whole gradient to at most the threshold (keeps the "
                                     "direction).") or "off"
    clip_at = st.select_slider("Clip threshold", CLIP_THRESHOLDS, default_at, key=f"{prefix}_clip_at", bind=URL,
                               disabled=clip == "off")
    return clip, float(clip_at)


def deep_controls() -> Controls:
    with st.sidebar:
        st.header("Network")
        kind = st.selectbox("Data set", DATASETS, index=DATASETS.index(DEEP_DEFAULT.data.kind),
                            format_func=DATASET_LABELS.get, key="gf_data", bind=URL)
        seed = st.number_input("Seed", 0, 99_999, 0, key="gf_seed", bind=URL,
                               help="Fixes the data and the initial weights: the same seed gives the same run.")
        depth = st.slider("Depth (hidden layers)", 1, deep.MAX_DEPTH, DEEP_DEFAULT.depth, key="gf_depth", bind=URL)
        width = st.select_slider("Width (units per layer)", WIDTHS, DEEP_DEFAULT.width, key="gf_width", bind=URL)
        activation = st.selectbox("Activation", list(deep.ACTIVATION_CHOICES),
                                  index=list(deep.ACTIVATION_CHOICES).index(DEEP_DEFAULT.activation),
                                  format_func=deep.ACTIVATION_CHOICES.get, key="gf_act", bind=URL)
        init = st.selectbox("Weight init", list(deep.INIT_CHOICES),
                            index=list(deep.INIT_CHOICES).index(DEEP_DEFAULT.init),
                            format_func=deep.INIT_CHOICES.get, key="gf_init", bind=URL)
        st.latex(INIT_SCHEMES[init].formula)
        norm = st.segmented_control("Normalization", list(deep.NORMS), default="none", format_func=deep.NORMS.get,
                                    key="gf_norm", bind=URL) or "none"
        residual = st.toggle("Residual connections (h ← h + f(Wh))", False, key="gf_res", bind=URL)
        st.header("Training")
        optimizer = st.selectbox("Optimizer", list(deep.OPTIMIZER_CHOICES),
                                 index=list(deep.OPTIMIZER_CHOICES).index(DEEP_DEFAULT.optimizer),
                                 format_func=deep.OPTIMIZER_CHOICES.get, key="gf_opt", bind=URL)
        lr = st.select_slider("Learning rate η", LEARNING_RATES, deep.DEFAULT_HYPERPARAMETERS["lr"], key="gf_lr",
                              bind=URL)
        batch = st.select_slider("Batch size", BATCH_SIZES, deep.DEFAULT_HYPERPARAMETERS["batch_size"],
                                 key="gf_batch", bind=URL)
        clip, clip_at = _clipping("gf", deep.DEFAULT_HYPERPARAMETERS["clip_at"])
        every = st.toggle("Probe every step", False, key="gf_every", bind=URL,
                          help="Probes normally run once a second, which costs almost nothing. Every step sees "
                               "everything, and trains several times slower.")
    config = deep.DeepConfig(data=DataSpec(kind=kind, n_points=DEEP_DEFAULT.data.n_points, seed=int(seed)),
                             depth=int(depth), width=int(width), activation=activation, init=init, norm=norm,
                             residual=residual, optimizer=optimizer)
    hyperparameters = {"lr": float(lr), "batch_size": int(batch), "clip": clip, "clip_at": clip_at,
                       "probe_every_step": every}
    return Controls(config, int(seed), hyperparameters)


def time_controls() -> Controls:
    with st.sidebar:
        st.header("Recall task")
        seq_len = st.slider("Sequence length T", 5, recurrent.MAX_SEQ_LEN, TIME_DEFAULT.seq_len, 5, key="gf_T",
                            bind=URL, help="The first token must be recalled after T steps of distractors.")
        seed = st.number_input("Seed", 0, 99_999, 0, key="gf_rseed", bind=URL)
        st.header("Cells")
        hidden = st.select_slider("Hidden units", HIDDEN_SIZES, TIME_DEFAULT.hidden, key="gf_hidden", bind=URL)
        radius = st.slider("Spectral radius ρ of W_hh (vanilla RNNs)", 0.5, 3.0, TIME_DEFAULT.spectral_radius, 0.05,
                           key="gf_rho", bind=URL,
                           help="W_hh is rescaled so that its largest |eigenvalue| is ρ: below 1 gradients "
                                "vanish through time, above 1 they can explode.")
        gate_bias = st.slider("Keep-gate bias b (LSTM forget gate, GRU update gate)", -2.0, 6.0,
                              TIME_DEFAULT.gate_bias, 0.5, key="gf_gate", bind=URL,
                              help="σ(b) is the share of the memory kept per step at init.")
        st.header("Training")
        optimizer = st.segmented_control("Optimizer", list(recurrent.RECURRENT_OPTIMIZERS), default="adam",
                                         format_func=recurrent.RECURRENT_OPTIMIZERS.get, key="gf_ropt", bind=URL,
                                         help="Adam scales each step by the gradient's running size, so spikes "
                                              "barely move it; SGD steps by the gradient itself.") or "adam"
        lr = st.select_slider("Learning rate η", LEARNING_RATES, recurrent.DEFAULT_HYPERPARAMETERS["lr"],
                              key="gf_rlr", bind=URL)
        batch = st.select_slider("Batch size", BATCH_SIZES, recurrent.DEFAULT_HYPERPARAMETERS["batch_size"],
                                 key="gf_rbatch", bind=URL)
        clip, clip_at = _clipping("gf_r", recurrent.DEFAULT_HYPERPARAMETERS["clip_at"])
    config = recurrent.RecurrentConfig(seq_len=int(seq_len), hidden=int(hidden), spectral_radius=float(radius),
                                       gate_bias=float(gate_bias), optimizer=optimizer)
    return Controls(config, int(seed), {"lr": float(lr), "batch_size": int(batch), "clip": clip, "clip_at": clip_at})
