"""The Attention page's controls. Every experiment-defining one is bound to the URL."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import streamlit as st

from engine.attention_tasks import TASK_LABELS, TASKS
from engine.attention_training import PRESETS, AttentionConfig
from engine.transformer import POSITIONAL_ENCODINGS

URL = "query-params"
DEFAULT = PRESETS["reverse"]
FAMILIES = {"transformer": "Transformer", "rnn_additive": "RNN + additive attention (Bahdanau)",
            "rnn_multiplicative": "RNN + multiplicative attention (Luong)"}
POSITIONAL_LABELS = {"learned": "learned", "sinusoidal": "sinusoidal", "none": "none"}
HEADS = [1, 2, 4, 8]
WIDTHS = [16, 32, 64, 128]
TRAIN_SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCH_SIZES = [8, 16, 32, 64, 128, 256]
SPEEDS = ["max", 200, 50, 10, 2]
CUSTOM = "custom"  # the preset box when the controls hold no preset's setting
PRESET_LABELS = {**{name: TASK_LABELS[PRESETS[name].task] for name in PRESETS}, CUSTOM: "Custom"}


@dataclass(frozen=True)
class AttentionControls:
    config: AttentionConfig | None  # None: the combination is invalid
    problem: str | None
    seed: int
    hyperparameters: dict[str, Any]


def _preset_values(config: AttentionConfig) -> dict[str, Any]:
    family = "transformer" if config.architecture == "transformer" else f"rnn_{config.rnn_attention}"
    return {"at_task": config.task, "at_family": family, "at_layers": config.n_layers, "at_heads": config.n_heads,
            "at_width": config.d_model, "at_causal": config.causal, "at_pos": config.positional,
            "at_scale": config.scale_scores, "at_attn_only": config.attention_only, "at_vocab": config.vocab_size,
            "at_len": config.seq_len, "at_segment": config.segment_len, "at_train": config.train_size,
            "at_lr": config.lr, "at_batch": config.batch_size}


def matching_preset(values: Mapping[str, Any]) -> str:
    """The preset whose every control value `values` holds (control key -> value), else CUSTOM."""
    return next((name for name, config in PRESETS.items()
                 if all(values.get(key) == value for key, value in _preset_values(config).items())), CUSTOM)


def _apply_preset() -> None:
    if st.session_state["at_preset"] != CUSTOM:  # "Custom" keeps the controls as they are
        st.session_state.update(_preset_values(PRESETS[st.session_state["at_preset"]]))


def attention_controls() -> AttentionControls:
    d = _preset_values(DEFAULT)
    with st.sidebar:
        preset_box = st.container()  # filled once the controls below have read the URL, to say what they hold
        st.header("Task")
        task = st.selectbox("Task", TASKS, index=TASKS.index(d["at_task"]), format_func=TASK_LABELS.get,
                            key="at_task", bind=URL)
        vocab = st.slider("Vocabulary size", 2, 64, d["at_vocab"], key="at_vocab", bind=URL)
        length = st.slider("Sequence length", 2, 48, d["at_len"], key="at_len", bind=URL,
                           help="Reverse, sort and copy: 2–16. Induction: 6–48.")
        segment = st.slider("Repeated segment length", 2, 12, d["at_segment"], key="at_segment", bind=URL,
                            disabled=task != "induction")
        train_size = st.select_slider("Training examples", TRAIN_SIZES, d["at_train"], key="at_train", bind=URL)
        st.header("Model")
        family = st.selectbox("Model family", list(FAMILIES), format_func=FAMILIES.get, key="at_family", bind=URL)
        transformer = family == "transformer"
        layers = st.slider("Layers", 1, 4, d["at_layers"], key="at_layers", bind=URL, disabled=not transformer)
        heads = st.select_slider("Heads per layer", HEADS, d["at_heads"], key="at_heads", bind=URL,
                                 disabled=not transformer)
        width = st.select_slider("Width (d_model)", WIDTHS, d["at_width"], key="at_width", bind=URL,
                                 disabled=not transformer)
        causal = st.toggle("Causal attention (look only back)", d["at_causal"], key="at_causal", bind=URL,
                           disabled=not transformer,
                           help="Off: bidirectional, every position sees the whole sequence.")
        positional = st.selectbox("Positional encoding", POSITIONAL_ENCODINGS,
                                  index=POSITIONAL_ENCODINGS.index(d["at_pos"]), key="at_pos", bind=URL,
                                  disabled=not transformer)
        scale = st.toggle("Scale scores by 1/√d", d["at_scale"], key="at_scale", bind=URL, disabled=not transformer,
                          help="Without it large dot products saturate the softmax and its gradients vanish.")
        attention_only = st.toggle("Attention only (no MLPs)", d["at_attn_only"], key="at_attn_only", bind=URL,
                                   disabled=not transformer)
        st.header("Training")
        lr = st.select_slider("Learning rate", LEARNING_RATES, d["at_lr"], key="at_lr", bind=URL,
                              help="AdamW with a 50-step warm-up; changes live.")
        batch = st.select_slider("Batch size", BATCH_SIZES, d["at_batch"], key="at_batch", bind=URL,
                                 help="Changes live.")
        speed = st.select_slider("Speed limit (steps/s)", SPEEDS, 50, key="at_speed", bind=URL,
                                 help="Slow it down to watch the pattern form; 'max' trains as fast as it can.")
        seed = st.number_input("Seed", 0, 99_999, 0, key="at_seed", bind=URL,
                               help="Fixes the data, the initial weights and the batch order.")
    # Not in the URL itself: it shows the preset a link's (or the user's) control values amount to.
    st.session_state["at_preset"] = matching_preset({key: st.session_state[key] for key in d})
    preset_box.selectbox("Preset (tuned settings)", list(PRESET_LABELS), key="at_preset", on_change=_apply_preset,
                         format_func=PRESET_LABELS.get,
                         help="Fills every control below with a setting known to learn; “Custom” when they hold "
                              "none of them.")
    try:
        config = dataclasses.replace(
            DEFAULT, task=task, vocab_size=vocab, seq_len=length, segment_len=segment, train_size=train_size,
            architecture="transformer" if transformer else "rnn",
            rnn_attention=DEFAULT.rnn_attention if transformer else family.removeprefix("rnn_"),
            n_layers=layers, n_heads=heads, d_model=width, causal=causal, positional=positional,
            scale_scores=scale, attention_only=attention_only)
        problem = None
    except ValueError as error:
        config, problem = None, str(error)
    hyperparameters = {"lr": float(lr), "batch_size": int(batch),
                       "max_steps_per_second": None if speed == "max" else int(speed)}
    return AttentionControls(config, problem, int(seed), hyperparameters)
