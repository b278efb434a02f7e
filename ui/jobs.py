"""Jobs owned by a browser session: created once per page, stopped when the tab goes away."""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from engine.common.device import pick_device
from engine.runtime import Job


def _stop_job(job: Job) -> None:
    job.stop(timeout=2.0)


@st.cache_resource(scope="session", on_release=_stop_job, show_spinner=False)
def job_for_page(page_key: str, _factory: Callable[[], Job]) -> Job:
    """This session's job for `page_key`: the existing one, else a new one from `_factory`."""
    return _factory()


def page_has_job(page_key: str) -> bool:
    """Whether this session's page `page_key` has set up its job (e.g. the Playground's network)."""
    return f"_applied_{page_key}" in st.session_state


def force_cpu() -> bool:
    return bool(st.session_state.get("force_cpu", False))


def session_job(page_key: str, factory: Callable[[], Job], config: Any, seed: int,
                hyperparameters: dict[str, Any]) -> Job:
    """This session's job for a page, brought in line with the controls.

    A changed config, seed or device rebuilds the experiment (reset); changed
    hyperparameters are sent live, so training goes on where it is. A config of
    None keeps the experiment as it is (the page found the new one invalid).
    """
    job = job_for_page(page_key, factory)
    state = st.session_state.setdefault(f"_applied_{page_key}", {"config": job.config, "seed": job.seed,
                                                                  "hp": dict(job.hp), "device": job.device})
    wanted_device = pick_device(force_cpu())
    ticket = None
    if config is not None and (state["config"] != config or state["seed"] != seed or state["device"] != wanted_device):
        ticket = job.reset(config, seed, force_cpu=force_cpu())
        state.update(config=config, seed=seed, device=wanted_device)
    changed = {k: v for k, v in hyperparameters.items() if state["hp"].get(k, object()) != v}
    if changed:
        ticket = job.set_hyperparameters(**changed)
        state["hp"].update(changed)
    if ticket is not None:
        try:  # so this run already draws the rebuilt experiment
            job.wait_applied(ticket, timeout=3.0)
        except TimeoutError:
            pass  # a slow rebuild; the live area catches up
    return job


def controlled_job(page_key: str, job_type: Callable[..., Job], controls: Any, default_config: Any) -> Job:
    """`session_job` for a page whose controls give `config` (None when the combination is invalid),
    `problem`, `seed` and `hyperparameters`: an invalid combination keeps the model shown and says why."""
    job = session_job(page_key, lambda: job_type(controls.config or default_config, controls.hyperparameters,
                                                 seed=controls.seed),
                      config=controls.config, seed=controls.seed, hyperparameters=controls.hyperparameters)
    if controls.problem:
        st.error(f"This combination does not work: {controls.problem}. The model shown is still the previous one.",
                 icon="✋")
    return job
