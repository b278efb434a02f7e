"""The controls and the live area that every training page shares."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from engine.device import limit_torch_threads
from engine.jobs import UI_REFRESH_S, Job, JobLimitReached, JobStatus, Snapshot

_STATUS_TEXT = {
    JobStatus.READY: "ready", JobStatus.RUNNING: "training", JobStatus.PAUSED: "paused",
    JobStatus.DONE: "done", JobStatus.DIVERGED: "diverged", JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "stopped",
}


def _command(job: Job, action: str) -> None:
    """Button callback: send the command and wait until the trainer applied it (for Step
    and Epoch: finished it), so the rerun that follows already shows its effect."""
    try:
        ticket = {"play": job.play, "pause": job.pause, "step": job.step, "epoch": job.step_epoch,
                  "reset": job.reset}[action]()
        if action in ("step", "epoch"):
            job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=2.0)
        else:
            job.wait_applied(ticket, timeout=2.0)
    except JobLimitReached as error:
        st.session_state["_job_limit_message"] = str(error)
    except TimeoutError:
        pass  # the trainer is busy; the live area will catch up


def job_controls(job: Job, key: str) -> None:
    """Train/Pause, Step (one minibatch), Epoch (one epoch), Reset."""
    snap = job.snapshot()
    running = snap.status is JobStatus.RUNNING
    can_train = snap.status in (JobStatus.READY, JobStatus.PAUSED, JobStatus.DONE, JobStatus.RUNNING)
    cols = st.columns([1.3, 1, 1, 1, 3])
    cols[0].button("Pause" if running else "Train", key=f"{key}_play", type="primary", width="stretch",
                   icon=":material/pause:" if running else ":material/play_arrow:",
                   disabled=not can_train, on_click=_command, args=(job, "pause" if running else "play"))
    cols[1].button("Step", key=f"{key}_step", width="stretch", disabled=not can_train, icon=":material/skip_next:",
                   on_click=_command, args=(job, "step"), help="Train on one minibatch, then pause")
    cols[2].button("Epoch", key=f"{key}_epoch", width="stretch", disabled=not can_train,
                   icon=":material/fast_forward:",
                   on_click=_command, args=(job, "epoch"), help="Train until the next whole epoch, then pause")
    cols[3].button("Reset", key=f"{key}_reset", width="stretch", on_click=_command, args=(job, "reset"),
                   icon=":material/restart_alt:",
                   help="Start again from freshly initialized weights (same seed)")
    message = st.session_state.pop("_job_limit_message", None)
    if message:
        st.warning(message, icon="⏳")


def status_bar(snap: Snapshot, metrics: dict[str, str]) -> None:
    """Step counter, epoch, status, speed, and the page's own headline numbers."""
    cells = {"Step": f"{snap.step:,}", "Epoch": f"{snap.epoch:,.1f}", **metrics,
             "Steps/s": f"{snap.steps_per_second:,.0f}" if snap.busy else "–"}
    for column, (label, value) in zip(st.columns(len(cells)), cells.items()):
        column.metric(label, value)
    st.caption(f"Status: **{_STATUS_TEXT[snap.status]}** · {snap.device} · seed {snap.seed}")
    if snap.status is JobStatus.DIVERGED:
        st.error(snap.message, icon="💥")
    elif snap.status is JobStatus.FAILED:
        st.error(snap.message, icon="⚠️")
    elif snap.status is JobStatus.DONE:
        st.success(snap.message, icon="🏁")
    elif snap.message:
        st.warning(snap.message)


def live_area(job: Job, draw: Callable[[Snapshot], None]) -> None:
    """Draw the job's latest snapshot, refreshing while it trains.

    Only this fragment reruns while training; the controls above it do not.
    When training ends on its own (done, diverged) the whole page reruns once
    so the controls show it.
    """
    polling = job.snapshot().busy

    @st.fragment(run_every=UI_REFRESH_S if polling else None)
    def _live() -> None:
        limit_torch_threads()  # a fragment rerun is a fresh thread too
        snap = job.snapshot()
        draw(snap)
        if polling and not snap.busy:
            st.rerun(scope="app")

    _live()
