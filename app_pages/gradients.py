"""Gradient Flow: how gradients travel back through depth and through time, live."""

import streamlit as st

from engine import gradient_flow as deep
from engine import recurrent
from engine.runtime import Job
from ui.exports import export_panel
from ui.gradient_flow_controls import DEEP, MODES, deep_controls, mode_control, time_controls
from ui.gradient_flow_views import MOMENT_REFRESH_S, PREFIX, draw_deep, draw_moment, draw_time
from ui.jobs import job_for_page, page_has_job, session_job
from ui.live import job_controls, live_area
from ui.sharing import later

st.title("Gradient Flow")
export_panel(PREFIX)  # before the controls: an imported settings file sets them
mode = mode_control()
controls = deep_controls() if mode == DEEP else time_controls()
experiment = deep.GradientFlowJob if mode == DEEP else recurrent.RecurrentJob
job = session_job(f"gradient_flow_{mode}", lambda: experiment(controls.config, controls.hyperparameters,
                                                               seed=controls.seed),
                  config=controls.config, seed=controls.seed, hyperparameters=controls.hyperparameters)


def existing_job() -> Job:
    raise LookupError("page_has_job said this job exists")


for other in MODES:  # one experiment at a time: the hidden mode's job pauses
    if other != mode and page_has_job(f"gradient_flow_{other}"):
        other_job = job_for_page(f"gradient_flow_{other}", existing_job)
        if other_job.snapshot().busy:
            other_job.pause()
job_controls(job, key=f"gf_{mode}")


if mode == DEEP:
    # The layer-by-layer view is drawn first, below the live area, so the live area can offer its figures too.
    live, below = st.container(), st.container()
    with below:
        later("gf_moment_choice").segmented_control(
            "Layer-by-layer view", ["At initialization", "Now"], default="Now", key="gf_when",
            help="Now: the latest probe (refreshed every few seconds while training). At initialization: one "
                 "forward and one backward pass before any update.")

        @st.fragment(run_every=MOMENT_REFRESH_S if job.snapshot().busy else None)
        def moment() -> None:
            draw_moment(job.snapshot())

        moment()
    with live:
        live_area(job, draw_deep)
else:
    # Fresh sequences every step: the Epoch column counts recurrent.EPOCH_SEQUENCES of them.
    live_area(job, draw_time)
