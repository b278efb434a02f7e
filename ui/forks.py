"""Fork and rewind on a training page (engine.runtime.checkpoints): "Branch here" starts a second job of the
session from one of the page's job's checkpoints, which the page's controls then drive, while the original run
stays, paused, for comparison; "Rewind" takes the run shown back to its initial weights.

A page that offers it gets its job through `branch_job` first (while a branch is on, that is the job the controls
set; a new config or seed ends it), draws `fork_controls` under its job controls, and draws its curves through
`forked_curves`, which adds the original run's from the fork on.
"""

from __future__ import annotations

from typing import Any, Callable, Collection

import plotly.graph_objects as go
import streamlit as st

from engine.common.limits import ConfigError
from engine.common.spec import Spec
from engine.runtime import Job, JobStatus, Snapshot
from engine.runtime.checkpoints import NotCheckpointable
from ui.jobs import find_job, job_for_page, session_job
from ui.live import remembered
from viz.forks import with_original


def _branch_here(original: Job, name: str, key: str) -> None:
    step = int(st.session_state[f"{key}_fork_step"])
    original.pause()
    try:
        branch = original.fork(step)
    except NotCheckpointable as error:
        st.session_state[f"{key}_fork_error"] = str(error)
        return
    _end_branch(key)
    count = st.session_state.get(f"{key}_forks", 0) + 1  # a new name each time: a session's jobs are cached by name
    st.session_state[f"{key}_forks"] = count
    branch_name = f"{name}_branch_{count}"
    job_for_page(branch_name, lambda: branch)
    st.session_state[f"{key}_branch"] = (branch_name, branch.snapshot().step, original.config, original.seed, name)


def _rewind(job: Job) -> None:
    """Rewind, and wait until the trainer has done it, so the rerun that follows shows step 0 (a busy trainer:
    the live area catches up)."""
    try:
        job.wait_applied(job.rewind(), timeout=2.0)
    except TimeoutError:
        pass


def _end_branch(key: str) -> None:
    """Stop the branch (its cache entry stays, stopped, until the session ends)."""
    branch = st.session_state.pop(f"{key}_branch", None)
    if branch is not None:
        job_for_page(branch[0], None).stop()


def branch_job(key: str, spec: Spec, config: Any = None, shown: dict[str, Any] | None = None) -> Job | None:
    """The branch of this page's run, brought in line with the controls, while one is on; else None, and the page
    gets its job as usual (ui.jobs.experiment_job, whose `config` and `shown` these are). Another experiment (a new
    config or seed, or one the engine refuses) ends the branch."""
    if f"{key}_branch" not in st.session_state:
        return None
    branch_name, _, forked_config, forked_seed, _ = st.session_state[f"{key}_branch"]
    try:
        config = spec.config() if config is None else config
    except ConfigError:
        config = None
    if config != forked_config or spec.job_seed() != forked_seed:  # the comparison is over
        _end_branch(key)
        return None
    return session_job(branch_name, lambda: None, config, forked_seed, {**spec.hyperparameters(), **(shown or {})})


def shown_job(key: str, name: str) -> str:
    """The name of the job a page shows: its branch's while one is on, else `name`."""
    branch = st.session_state.get(f"{key}_branch")
    return name if branch is None else branch[0]


def forked_curves(key: str, chart: str, build: Callable[[Snapshot], go.Figure], snap: Snapshot,
                  leave_out: Collection[str] = ()) -> go.Figure:
    """`build(snap)`: the page's `chart` (a short name) of the run shown; while that run is a branch, with the same
    chart of its original run from the fork on (viz.forks.with_original; `leave_out`: curves not worth comparing,
    by trace name)."""
    figure = build(snap)
    if f"{key}_branch" not in st.session_state:
        return figure
    _, fork_step, _, _, name = st.session_state[f"{key}_branch"]
    original = find_job(name)
    if original is None:
        return figure
    then = original.snapshot()  # paused: its history stays the same object from one refresh to the next
    reference = remembered(f"{key}_original_{chart}", (then.history,), lambda: build(then))
    return with_original(figure, reference, fork_step, leave_out)


def fork_controls(job: Job, name: str, key: str) -> None:
    """Branch here (a checkpoint's step; then change the controls and train the branch), end the branch, and
    Rewind: the checkpoints are those of the page's last full run (pause to see the newest)."""
    snap = job.snapshot()
    checkpoints = snap.checkpoints
    branched = f"{key}_branch" in st.session_state
    if snap.status is JobStatus.RUNNING:  # this label is drawn once, then the job trains on: no count to go stale
        summary = "checkpoints are kept as it trains (pause to fork from the newest)"
    else:
        summary = checkpoints.describe() if checkpoints else "no checkpoints"
    with st.expander(f"Fork and rewind: {summary}", expanded=branched):
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        if branched:
            left.caption("The controls now drive the branch; the original run is paused, its curves dotted.")
            middle.button("End the branch", key=f"{key}_unfork", on_click=_end_branch, args=(key,),
                          icon=":material/close:", width="stretch",
                          help="Stop the branch; the controls drive the original run again")
        elif checkpoints is not None:
            steps = list(checkpoints.steps)
            chosen = st.session_state.get(f"{key}_fork_step")
            if chosen not in steps or chosen == st.session_state.get(f"{key}_fork_newest"):  # none chosen: the newest
                st.session_state[f"{key}_fork_step"] = steps[-1]
            st.session_state[f"{key}_fork_newest"] = steps[-1]
            left.select_slider("Fork at step", steps, key=f"{key}_fork_step", disabled=len(steps) < 2)
            middle.button("Branch here", key=f"{key}_fork", on_click=_branch_here, args=(job, name, key),
                          icon=":material/call_split:", width="stretch",
                          help="A second run from this checkpoint (the same data, weights and batches up to it): "
                               "change the controls, then train it")
        right.button("Rewind", key=f"{key}_rewind", on_click=_rewind, args=(job,), icon=":material/history:",
                     width="stretch", help="Back to the initial weights with the same seed: the same data order, "
                     "so training again repeats the run (with the hyperparameters set now)")
        if f"{key}_fork_error" in st.session_state:
            st.error(st.session_state.pop(f"{key}_fork_error"))
