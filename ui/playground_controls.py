"""The playground's controls. Every experiment-defining one is bound to the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine.common.optimizers import OPTIMIZERS
from engine.common.layers import ACTIVATION_LABELS, INIT_SCHEMES
from engine.playground import DEFAULT_HYPERPARAMETERS, FEATURE_LABELS, FEATURES, FEATURES_1D, LOSSES, \
    MAX_HIDDEN_LAYERS, MAX_WIDTH, PlaygroundConfig
from engine.playground_data import DATASET_LABELS, DATASETS, FUNCTIONS_1D, REGRESSION_2D, BadUpload, DataSpec, \
    parse_points_csv
from engine.common.schedules import SCHEDULE_FORMULAS, SCHEDULES

URL = "query-params"
DEFAULT = PlaygroundConfig()  # the controls start from the engine's defaults
HP = DEFAULT_HYPERPARAMETERS
LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
PENALTIES = [0.0, 0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1]
CLIP_NORMS = ["off", 0.1, 0.5, 1.0, 5.0]
SPEEDS = ["max", 1000, 100, 20, 5, 1]
TARGET_LOSSES = ["off", 0.2, 0.1, 0.05, 0.02, 0.01, 0.001]
PATIENCES = ["off", 5, 10, 20, 50, 100, 200]


@dataclass(frozen=True)
class PlaygroundControls:
    config: PlaygroundConfig
    seed: int
    hyperparameters: dict[str, Any]


def _on_upload() -> None:
    """Parse an uploaded CSV before the rerun; a bad file leaves the current data untouched."""
    file = st.session_state.get("pg_upload")
    if file is None:
        return
    try:
        st.session_state["pg_uploaded"] = parse_points_csv(file.getvalue())
        st.session_state["pg_data"] = "csv"
        st.session_state.pop("pg_upload_error", None)
    except BadUpload as error:
        st.session_state["pg_upload_error"] = f"{file.name}: {error} Nothing was changed."


def _regenerate() -> None:
    st.session_state["pg_seed"] = (st.session_state.get("pg_seed", 0) + 1) % 100_000


def _data_controls() -> DataSpec:
    st.header("Data")
    uploaded = st.session_state.get("pg_uploaded")
    options = DATASETS + (("csv",) if uploaded else ())
    kind = st.selectbox("Data set", options, index=options.index(DEFAULT.data.kind), format_func=DATASET_LABELS.get,
                        key="pg_data", bind=URL)
    n_classes = 3
    if kind == "multiclass":
        n_classes = st.slider("Classes", 3, 5, 3, key="pg_classes", bind=URL)
    n_points = st.slider("Points", 50, 2000, DEFAULT.data.n_points, step=50, key="pg_points", bind=URL,
                         disabled=kind == "csv")
    noise = st.slider("Noise", 0.0, 1.0, 0.0, 0.05, key="pg_noise", bind=URL, disabled=kind == "csv",
                      help="Jitter added to the points (or labels), as a fraction of the data set's scale.")
    train_percent = st.slider("Training share (%)", 10, 90, round(100 * DEFAULT.data.train_fraction), 5,
                              key="pg_split", bind=URL)
    seed_column, button_column = st.columns([2, 1], vertical_alignment="bottom")
    seed_column.number_input("Seed", 0, 99_999, 0, key="pg_seed", bind=URL,
                             help="Fixes the data and the initial weights: the same seed gives the same run.")
    button_column.button(":material/casino:", key="pg_next_seed", on_click=_regenerate, width="stretch",
                         help="New data and weights: the next seed")
    st.file_uploader("Or upload a CSV of x1, x2, label", type=["csv"], key="pg_upload", on_change=_on_upload,
                     help="Up to 5,000 rows. Integer labels 0–4 make a classification task; other numbers "
                          "a regression task.")
    if "pg_upload_error" in st.session_state:
        st.error(st.session_state["pg_upload_error"])
    return DataSpec(kind=kind, n_points=n_points, noise=noise, train_fraction=train_percent / 100,
                    n_classes=n_classes, seed=int(st.session_state["pg_seed"]),
                    uploaded=uploaded if kind == "csv" else None)


def _network_controls(one_dimensional: bool) -> dict[str, Any]:
    st.header("Network")
    choices = list(FEATURES_1D if one_dimensional else FEATURES)
    features = st.pills("Input features", choices, default=["x1"] if one_dimensional else ["x1", "x2"],
                        selection_mode="multi", format_func=FEATURE_LABELS.get,
                        key="pg_features_1d" if one_dimensional else "pg_features", bind=URL)
    layers = st.slider("Hidden layers", 0, MAX_HIDDEN_LAYERS, len(DEFAULT.hidden), key="pg_layers", bind=URL)
    activation = st.selectbox("Activation", list(ACTIVATION_LABELS),
                              index=list(ACTIVATION_LABELS).index(DEFAULT.activations[0]),
                              format_func=ACTIVATION_LABELS.get, key="pg_act", bind=URL)
    widths, activations = [], []
    if layers:
        with st.expander("Neurons and activation per layer", expanded=True):
            for layer in range(1, layers + 1):
                left, right = st.columns([1, 1.4])
                default_width = DEFAULT.hidden[layer - 1] if layer <= len(DEFAULT.hidden) else 4
                widths.append(left.number_input(f"Layer {layer}", 1, MAX_WIDTH, default_width, key=f"pg_w{layer}",
                                                bind=URL))
                override = right.selectbox(f"Activation {layer}", ["same"] + list(ACTIVATION_LABELS),
                                           format_func=lambda a: "as above" if a == "same" else ACTIVATION_LABELS[a],
                                           key=f"pg_a{layer}", bind=URL, label_visibility="hidden")
                activations.append(activation if override == "same" else override)
    init = st.selectbox("Weight init", list(INIT_SCHEMES), index=list(INIT_SCHEMES).index(DEFAULT.init),
                        format_func=lambda s: INIT_SCHEMES[s].label, key="pg_init", bind=URL)
    st.latex(INIT_SCHEMES[init].formula)
    batch_norm = st.toggle("Batch norm", False, key="pg_bn", bind=URL)
    dropout = st.slider("Dropout", 0.0, 0.5, 0.0, 0.05, key="pg_dropout", bind=URL)
    return dict(features=tuple(features), hidden=tuple(int(w) for w in widths), activations=tuple(activations),
                init=init, batch_norm=batch_norm, dropout=dropout)


def _training_controls(regression: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    st.header("Training")
    loss = st.selectbox("Loss", list(LOSSES), index=list(LOSSES).index(DEFAULT.loss), format_func=LOSSES.get,
                        key="pg_loss", bind=URL, disabled=regression,
                        help="Regression always uses the mean squared error." if regression
                        else "How the output is compared with the labels.")
    if regression:
        loss = "mse"
    optimizer = st.selectbox("Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index(DEFAULT.optimizer),
                             format_func=OPTIMIZERS.get, key="pg_opt", bind=URL)
    lr = st.select_slider("Learning rate η", LEARNING_RATES, HP["lr"], key="pg_lr", bind=URL)
    momentum = HP["momentum"]
    if optimizer in ("momentum", "nesterov"):
        momentum = st.slider("Momentum β", 0.0, 0.99, HP["momentum"], 0.01, key="pg_momentum", bind=URL)
    batch_size = st.slider("Batch size", 1, 256, HP["batch_size"], key="pg_batch", bind=URL)
    with st.expander("Schedule, regularization, clipping"):
        schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key="pg_schedule", bind=URL)
        st.latex(SCHEDULE_FORMULAS[schedule])
        gamma = st.slider("Decay γ", 0.05, 1.0, 0.5, 0.05, key="pg_gamma", bind=URL,
                          disabled=schedule in ("constant", "power", "cosine"))
        period = st.slider("Period k (epochs)", 1, 500, 50, key="pg_period", bind=URL,
                           disabled=schedule == "constant")
        l1 = st.select_slider("L1 rate", PENALTIES, 0.0, key="pg_l1", bind=URL)
        l2 = st.select_slider("L2 rate" + (" (decoupled weight decay)" if optimizer == "adamw" else ""),
                              PENALTIES, 0.0, key="pg_l2", bind=URL)
        clip = st.select_slider("Clip gradient norm at", CLIP_NORMS, "off", key="pg_clip", bind=URL)
    with st.expander("Speed and stopping"):
        speed = st.select_slider("Steps per second", SPEEDS, "max", key="pg_speed", bind=URL,
                                 help="Slow training down to watch each step.")
        stop_epoch = st.number_input("Stop after epoch (0: never)", 0, 100_000, 0, key="pg_stop_epoch", bind=URL)
        target = st.select_slider("Stop at training loss", TARGET_LOSSES, "off", key="pg_target", bind=URL)
        patience = st.select_slider("Early stopping: patience (epochs)", PATIENCES, "off", key="pg_patience",
                                    bind=URL, help="Stop once the test loss has not improved for this many epochs, "
                                                   "and go back to the weights with the lowest test loss (the test "
                                                   "points serve as the validation set).")
    hyperparameters = {
        "lr": float(lr), "momentum": float(momentum), "l1": float(l1), "l2": float(l2),
        "batch_size": int(batch_size), "clip_norm": None if clip == "off" else float(clip),
        "schedule": schedule, "schedule_gamma": float(gamma), "schedule_period": float(period),
        "max_steps_per_second": None if speed == "max" else float(speed),
        "stop_at_epoch": int(stop_epoch) or None, "target_loss": None if target == "off" else float(target),
        "patience": None if patience == "off" else int(patience),
    }
    return dict(loss=loss, optimizer=optimizer), hyperparameters


def playground_controls() -> PlaygroundControls:
    """Draw the sidebar controls and return the experiment they define."""
    with st.sidebar:
        data = _data_controls()
        network = _network_controls(one_dimensional=data.kind in FUNCTIONS_1D)
        regression = data.kind in REGRESSION_2D + FUNCTIONS_1D or (
            data.kind == "csv" and any(row[2] != int(row[2]) for row in data.uploaded or ()))
        training, hyperparameters = _training_controls(regression)
    return PlaygroundControls(PlaygroundConfig(data=data, **network, **training), data.seed, hyperparameters)
