"""The Diffusion page's controls (every experiment-defining one bound to the URL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine.diffusion import MAX_T, MIN_T, SCHEDULES, DiffusionConfig, default_config
from engine.diffusion_data import DATASET_LABELS, DATASETS, MAX_WORD_LENGTH
from engine.runtime import Snapshot

URL = "query-params"
DEFAULT = default_config("moons")
WIDTHS = [16, 32, 64, 128, 256, 512]
DEPTHS = [1, 2, 3, 4, 5, 6]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2]
BATCH_SIZES = [32, 64, 128, 256, 512, 1024]
BETA_MINS = [1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]
BETA_MAXS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5]
POINT_COUNTS = [1000, 2000, 4000, 8000, 16000]
SAMPLER_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
SPEEDS = ["max", 500, 200, 100, 20]
SAMPLER_LABELS = {"ddpm": "DDPM (stochastic, all T steps)", "ddim": "DDIM (deterministic, fewer steps)"}


@dataclass(frozen=True)
class DiffusionControls:
    config: DiffusionConfig | None  # None: the combination is invalid
    problem: str | None
    seed: int
    hyperparameters: dict[str, Any]


def _tuned(dataset: str) -> dict[str, Any]:
    """The network and training settings known to learn this data set (the digits want a wider network)."""
    config = default_config(dataset)
    return {"df_width": config.width, "df_depth": config.depth, "df_lr": config.lr, "df_batch": config.batch_size}


def _apply_tuned() -> None:
    st.session_state.update(_tuned(st.session_state["df_data"]))


def diffusion_controls() -> DiffusionControls:
    d = DEFAULT
    with st.sidebar:
        st.header("Data")
        dataset = st.selectbox("Data set", DATASETS, format_func=DATASET_LABELS.get, key="df_data", bind=URL,
                               on_change=_apply_tuned, help="Choosing one also fills in a network and learning "
                               "rate known to learn it. Everything is standardized; nothing is downloaded.")
        word = st.text_input("Word to fill with points", d.word, max_chars=MAX_WORD_LENGTH, key="df_word", bind=URL,
                             disabled=dataset != "word", help="Drawn with the font that ships with Pillow.")
        n_points = st.select_slider("Training points", POINT_COUNTS, d.n_points, key="df_points", bind=URL,
                                    disabled=dataset == "digits")
        st.header("Noise schedule")
        schedule = st.radio("Schedule", SCHEDULES, horizontal=True, key="df_schedule", bind=URL,
                            help="Linear β (Ho et al. 2020) or cosine ᾱ (Nichol & Dhariwal 2021).")
        T = st.number_input("Diffusion steps T", MIN_T, MAX_T, d.T, key="df_T", bind=URL)
        linear = schedule == "linear"
        beta_start = st.select_slider("β_min (β₁)", BETA_MINS, d.beta_start, key="df_bmin", bind=URL,
                                      disabled=not linear)
        beta_end = st.select_slider("β_max (β_T)", BETA_MAXS, d.beta_end, key="df_bmax", bind=URL,
                                    disabled=not linear)
        st.header("Network")
        width = st.select_slider("Width", WIDTHS, d.width, key="df_width", bind=URL)
        depth = st.select_slider("Residual blocks", DEPTHS, d.depth, key="df_depth", bind=URL)
        st.header("Training")
        lr = st.select_slider("Learning rate", LEARNING_RATES, d.lr, key="df_lr", bind=URL,
                              help="Adam, warmed up and then decayed by a cosine; changes live.")
        batch = st.select_slider("Batch size", BATCH_SIZES, d.batch_size, key="df_batch", bind=URL,
                                 help="Changes live.")
        speed = st.select_slider("Speed limit (steps/s)", SPEEDS, 200, key="df_speed", bind=URL,
                                 help="A limit leaves the server time to draw samples and the page; 'max' trains "
                                      "as fast as it can.")
        seed = st.number_input("Seed", 0, 99_999, 0, key="df_seed", bind=URL,
                               help="Fixes the data, the initial weights, the batches and the sampling noise.")
        st.header("Sampling")
        sampler = st.radio("Sampler", list(SAMPLER_LABELS), format_func=SAMPLER_LABELS.get, key="df_sampler",
                           bind=URL, index=list(SAMPLER_LABELS).index(d.sampler),
                           help="Draws the samples that are shown and scored; the reverse-process tab shows both.")
        steps = st.select_slider("DDIM steps", SAMPLER_STEPS, d.sampler_steps, key="df_steps", bind=URL,
                                 help="At most T; DDPM always takes all T steps.")
    overrides = dict(n_points=n_points, word=word, schedule=schedule, T=int(T), width=width, depth=depth,
                     seed=int(seed), sampler_steps=min(d.sampler_steps, int(T)))
    if linear:
        overrides.update(beta_start=float(beta_start), beta_end=float(beta_end))
    try:
        config, problem = default_config(dataset, **overrides), None
    except ValueError as error:
        config, problem = None, str(error)
    hyperparameters = {"lr": float(lr), "batch_size": int(batch), "sampler": sampler,
                       "sampler_steps": min(int(steps), int(T)),
                       "max_steps_per_second": None if speed == "max" else int(speed)}
    return DiffusionControls(config, problem, int(seed), hyperparameters)


def measuring(snap: Snapshot) -> bool:
    """True while the job has stopped training but is still drawing and scoring samples of its last step."""
    return bool(snap.visuals.get("measuring"))
