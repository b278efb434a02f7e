"""The Diffusion page's tabs (app_pages/diffusion.py draws the controls, the status bar and the live area): the
samples (2-D points or digits) with their training curves, the reverse process, the forward process and its
schedule. Each tab function draws one tab of a snapshot; `shown` is whether the tab is open (lazy tabs)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.diffusion.noise_schedule import NOTATION
from engine.diffusion.visuals import forward_sample
from engine.runtime import Snapshot
from ui.exports import Charts
from ui.live import remembered
from viz import diffusion as figures

MAIN_BELOW = 18.5  # rem above the samples in presentation mode: title, buttons, numbers, tabs
LAG_WARNING_S = 5.0  # samples older than this much training are said to lag, in a warning


def measuring(snap: Snapshot) -> bool:
    """True while the job has stopped training but is still drawing and scoring samples of its last step."""
    return snap.visuals is not None and snap.visuals.measuring


def setting(snap: Snapshot) -> str:
    return f"{snap.config.dataset}-{snap.config.schedule}-T{snap.config.T}"


def name(snap: Snapshot, figure: str) -> str:
    return f"diffusion-{setting(snap)}-{figure}-step{snap.step}"



def samples_caption(snap: Snapshot) -> None:
    m = snap.visuals.measurement
    label = figures.sampler_label(m.sampler, m.steps)
    stale = " Measuring the latest step…" if measuring(snap) and not snap.busy else ""
    behind = snap.step - m.step
    if snap.busy and behind / max(snap.steps_per_second, 1.0) > LAG_WARNING_S:
        st.warning(f"The server is busy: these samples are from step {m.step:,} and training is at "
                   f"step {snap.step:,}. New samples follow as soon as the draw under way is measured.",
                   icon=":material/hourglass_top:")
    elif snap.busy and behind > 0:
        stale = f" Training is at step {snap.step:,}."
    st.caption(f"Samples from step {m.step:,} ({label}), all drawn from the same N(0, I) noise each "
               f"time, so they change only because the network learned.{stale}")


def points_samples_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, m = snap.visuals, snap.visuals.measurement
    left, right = st.columns([1, 1])
    with left:
        if m is None:
            st.info("Press **Train** (or **Step**): samples are drawn and scored as the network learns.")
        else:
            charts.show(lambda: remembered("df_samples", (m.samples, v.x0), lambda: figures.samples_vs_data(
                m.samples, v.x0, m.sampler, f"2,000 samples at step {m.step:,}")),
                name(snap, "samples"), key="df_samples", visible=shown, main_below=MAIN_BELOW)
            samples_caption(snap)
    with right:
        history = snap.curves
        marks = tuple(len(history[k][0]) if k in history else 0 for k in ("mmd_norm", "energy_norm"))
        charts.show(lambda: remembered("df_quality", marks, lambda: figures.quality_curves(history)),
                    name(snap, "quality"), key="df_quality", visible=shown)
        st.caption("Normalized score = (metric − floor) / (ceiling − floor), 2,000 samples against 2,000 held-out "
                   "points: floor = a fresh sample of the data, ceiling = N(0, I) noise. MMD² is averaged over RBF "
                   "bandwidths 0.05–1.")
        loss = snap.series("loss")
        charts.show(lambda: figures.loss_curve(loss.steps, loss.values), name(snap, "loss"), key="df_loss",
                    visible=shown)


def digits_samples_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    m = snap.visuals.measurement
    left, right = st.columns([1, 1])
    with left:
        if m is None:
            st.info("Press **Train** (or **Step**): samples are drawn and judged as the network learns.")
        else:
            charts.show(lambda: remembered("df_grid", (m.samples,), lambda: figures.digit_grid(
                m.samples, f"64 samples at step {m.step:,}")), name(snap, "samples"),
                key="df_digit_grid", visible=shown, main_below=MAIN_BELOW)
            samples_caption(snap)
            charts.show(lambda: remembered("df_shares", (m.class_shares,), lambda: figures.judge_class_shares(
                m.class_shares)), name(snap, "classes"), key="df_shares", visible=shown)
    with right:
        confidence = snap.series("judge_confidence")
        real = m.real_confidence if m is not None else None
        charts.show(lambda: remembered("df_judge", (len(confidence), real),
                                       lambda: figures.judge_curve(confidence.steps, confidence.values, real)),
                    name(snap, "judge"), key="df_judge", visible=shown)
        st.caption("A logistic-regression judge trained on real digits; its mean top-class probability on 256 "
                   "samples, next to its value on real held-out digits.")
        loss = snap.series("loss")
        charts.show(lambda: figures.loss_curve(loss.steps, loss.values), name(snap, "loss"), key="df_loss",
                    visible=shown)


def reverse_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v = snap.visuals
    if v.measurement is None:
        st.info("The reverse process appears after the first training step.")
        return
    r = v.measurement.reverse
    if v.kind == "digits":
        for sampler in ("ddpm", "ddim"):
            title = f"{figures.sampler_label(sampler, r.ddim_steps)}: noise → digit"
            charts.show(lambda s=sampler, t=title: remembered(f"df_strip-{s}", (getattr(r, s), t), lambda: (
                figures.denoising_strip(getattr(r, s), r.frame_t, t))),
                name(snap, f"strip-{sampler}"), key=f"df_strip_{sampler}", visible=shown)
        st.caption("Both strips start from the same noise. DDPM adds fresh noise at every one of its T steps; "
                   "DDIM takes a few deterministic jumps.")
        return
    charts.show(lambda: remembered("df_reverse", (r, v.x0), lambda: figures.reverse_animation(
        r.frame_t, r.ddpm, r.ddim, r.ddim_steps, r.field_x, r.field_y, r.field_eps, data=v.x0)),
        name(snap, "reverse"), key="df_reverse", visible=shown)
    st.caption(f"{r.ddpm.shape[1]} points from one N(0, I) draw (network of step {r.sampled_step:,}); press ▶ or "
               "drag the slider over t. Arrows: the learned −ε̂(x, t), which points along the score ∇ log q(x_t), "
               "scaled so the longest arrow of each frame fills a grid cell. Pause training to scrub undisturbed.")


def timestep_slider(T: int) -> int:
    """The timestep shown, 0..T; it stays where it was when T changes, or goes to T when T falls below it.

    New bounds make Streamlit a new slider, which may come back with a value kept from an earlier one instead
    of the value shown (T 1000 -> 500, t moved to 125, T -> 200: the 250 shown at T = 1000 came back, above
    the new maximum, and the slider failed). So when T changes the page sets the value itself."""
    if st.session_state.get("_df_t_bound", T) != T and "df_t" in st.session_state:
        st.session_state["df_t"] = min(st.session_state["df_t"], T)
    st.session_state["_df_t_bound"] = T
    return st.slider("Timestep t", 0, T, T // 4, key="df_t", bind="query-params")


def forward_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, config = snap.visuals, snap.config
    t = timestep_slider(config.T)
    alpha_bar = float(v.alpha_bars[t])
    if v.kind == "points":
        def forward():
            return figures.forward_points(forward_sample(v, t), v.x0, t, alpha_bar)
    else:
        def forward():
            times = sorted({0, t, *np.linspace(0, config.T, 9).round().astype(int).tolist()})
            return figures.denoising_strip(
                np.stack([forward_sample(v, s) for s in times]), times,
                f"q(x_t | x_0) for six held-out digits (t = {t} included): √ᾱ_t = {np.sqrt(alpha_bar):.3f}")
    charts.show(lambda: remembered("df_forward", (v.x0, t), forward), name(snap, f"forward-t{t}"),
                key="df_forward", visible=shown)
    # By value: a new data set or network rebuilds the experiment (new arrays) but keeps its schedule.
    schedule = (config.schedule, config.T, config.beta_start, config.beta_end, t)
    charts.show(lambda: remembered("df_schedule", schedule, lambda: figures.schedule_curves(
        v.betas, v.alpha_bars, config.schedule, t)), name(snap, "schedule"), key="df_schedule_curves",
        visible=shown)
    if shown:
        st.markdown("**Notation.** This page writes what Ho et al. write; course note 002 (Prince) uses other "
                    "letters for the same things:\n\n| here | note 002 | what it is |\n|---|---|---|\n" +
                    "\n".join(f"| ${here}$ | ${there}$ | {what} |" for here, there, what in NOTATION))


def score_text(score: float) -> str:
    """A normalized score: 3 decimals near the 0..1 range that matters, whole numbers for a far-off start."""
    return f"{score:,.0f}" if abs(score) >= 10 else f"{score:.3f}"
