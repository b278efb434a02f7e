"""Jobs owned by a browser session: created once per page, stopped when the tab goes away, and found by name in
one registry (the Loss Landscape page explores the network the Playground page trains).

Every training page has one shape: controls (from its table) -> spec -> `experiment_job` -> live area.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st
import torch

from engine.common.device import pick_device
from engine.common.limits import ConfigError
from engine.common.spec import Spec
from engine.runtime import Job
from engine.runtime.hosts import start_job

log = logging.getLogger(__name__)
APPLY_WAIT_S = 3.0  # how long a page run waits for its job to apply a change before drawing what there is
# A click or a change whose effect the page could not show yet (the trainer had not applied it, or Train's first
# step had not come, within the run's wait) makes the live area refresh at the fastest rate until it shows, for at most
# this long, with plain reads: under a full class a live area's fair period is up to 10 s, and Train on a busy
# server showed its first step only a period later (the classroom bench's tail). Plain reads ask the job for no
# visuals: fresh ones, twice a second from every catching-up tab, kept the jobs observing instead of training,
# and the first step never came (tried and reverted).
CATCH_UP_S = 10.0
CATCH_UP_KEY = "_live_catch_up"  # id(job) -> (the step at the click or None, when the catch-up ends)

REGISTRY_KEY = "_jobs"
WHERE_KEY = "_where_slot"


@dataclass
class Applied:
    """What a session's job was last brought in line with."""

    config: Any
    seed: int
    hp: dict[str, Any] = field(default_factory=dict)
    device: torch.device | None = None


def _stop_job(job: Job) -> None:
    job.stop(timeout=2.0)


@st.cache_resource(scope="session", on_release=_stop_job, show_spinner=False)
def job_for_page(name: str, _factory: Callable[[], Job]) -> Job:
    """This session's job `name`: the one made before, else a new one from `_factory`. It is in the registry
    once a page has brought it in line with its controls (`session_job`); the Loss Landscape page makes the
    Playground's network this way when the Playground page has not, and that page then takes it over."""
    return _factory()


def session_jobs() -> dict[str, Applied]:
    """The registry: this session's jobs by name, with what each was last set to."""
    return st.session_state.setdefault(REGISTRY_KEY, {})


def find_job(name: str) -> Job | None:
    """This session's job `name` if a page has set it up (e.g. "playground": the Playground's network)."""
    return job_for_page(name, None) if name in session_jobs() else None


def where_slot() -> None:
    """Keep the place in the sidebar where this run's page says where its job trains (`show_where`). A container,
    not an st.empty: a browser shows a container's last words until the run replaces them (or, where the page
    trains nothing, drops them at its end). An empty slot was blank until the page had run, so everything under
    it in the sidebar (Share and present, Class, the page's controls) jumped up and back down at each rerun, and
    a button that had just appeared under the pointer moved away (the teacher's Push, measured)."""
    st.session_state[WHERE_KEY] = [st.container(), False]  # (the place, whether this run's page has said it)


def show_where(job: Job) -> None:
    """"This page's model trains in worker 2 of 7 (CPU)", in the sidebar beside the device."""
    place = st.session_state.get(WHERE_KEY)
    text = f"This page's model trains in **{job.where}**."
    if place is None:
        st.sidebar.caption(text)
    elif not place[1]:  # (once a run: a page that draws two jobs' controls says the first's)
        place[0].caption(text)
        place[1] = True


def force_cpu() -> bool:
    return bool(st.session_state.get("force_cpu", False))


def session_job(name: str, factory: Callable[[], Job], config: Any, seed: int,
                hyperparameters: dict[str, Any]) -> Job:
    """This session's job `name` (made by `factory` the first time), brought in line with the controls.

    A changed config, seed or device rebuilds the experiment (reset); changed hyperparameters are sent live,
    so training goes on where it is. A config of None keeps the experiment as it is (the page found the new
    one invalid).
    """
    job = job_for_page(name, factory)
    registry = session_jobs()
    state = registry.get(name)
    if state is None:
        state = registry[name] = Applied(job.config, job.seed, dict(job.hp), job.device)
    wanted_device = pick_device(force_cpu())
    ticket = None
    if config is not None and (state.config != config or state.seed != seed or state.device != wanted_device):
        ticket = job.reset(config, seed, force_cpu=force_cpu())
        state.config, state.seed, state.device = config, seed, wanted_device
    changed = {k: v for k, v in hyperparameters.items() if state.hp.get(k, object()) != v}
    if changed:
        ticket = job.set_hyperparameters(**changed)
        state.hp.update(changed)
    if ticket is not None:
        try:  # so this run already draws the rebuilt experiment
            job.wait_applied(ticket, timeout=APPLY_WAIT_S)
        except TimeoutError:  # a slow rebuild; the live area catches up. Logged: a control then took > 3 s
            log.warning("job %r applied no change within %.0f s (%s)", name, APPLY_WAIT_S, job.where)
            catch_up(job, None)
    return job


def catch_up(job: Job, step: int | None) -> None:
    """What this run asked of `job` could not be shown yet (its trainer had not applied it within the wait): the
    live area (ui.live) refreshes at the fastest rate until it shows, for at most CATCH_UP_S. `step`: the step at a
    Train click, which the counter must pass; None where the change being applied is enough (a rebuild)."""
    st.session_state.setdefault(CATCH_UP_KEY, {})[id(job)] = (step, time.monotonic() + CATCH_UP_S)


def experiment_job(name: str, job_type: Callable[..., Job], spec: Spec, config: Any = None,
                   problem: str | None = None, shown: dict[str, Any] | None = None) -> Job:
    """The page shape's job: this session's `job_type` job `name`, brought in line with `spec` (`config`: what
    the spec builds, if the page adds to it, such as an uploaded data set). A combination the engine refuses
    (`spec.config()` raising ConfigError, or the page's own `problem`) keeps the model shown and says why.
    `shown`: live hyperparameters that follow what the page shows rather than the spec (the CNN's accuracy-under-
    attack curves, measured only while their view is open)."""
    if config is None and problem is None:
        try:
            config = spec.config()
        except ConfigError as error:
            problem = str(error)
    if problem is not None:
        config = None
    hyperparameters, seed = {**spec.hyperparameters(), **(shown or {})}, spec.job_seed()
    job = session_job(name, lambda: start_job(job_type, config if config is not None else spec.fallback_config(),
                                              hyperparameters, seed=seed, force_cpu=force_cpu()),
                      config=config, seed=seed, hyperparameters=hyperparameters)
    if problem:
        st.error(f"This combination does not work: {problem.rstrip('.')}. The model shown is still the previous "
                 "one.", icon=":material/front_hand:")
    return job

