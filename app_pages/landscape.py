"""Loss Landscape: the loss around the network the Playground trains, computed live."""

import time
from dataclasses import replace
from typing import Any, Callable, NamedTuple

import numpy as np
import streamlit as st

from engine.common.device import pick_device
from engine.landscape.directions import NORMALIZATIONS
from engine.landscape.network import PlaygroundLandscape
from engine.landscape.presets import DIRECTIONS, LINE_KINDS
from engine.landscape.spec import COARSE, LandscapeSpec
from engine.landscape.stability import step_size_verdict
from engine.landscape.views import NeedsTraining, compute_view
from engine.playground.trainer import PlaygroundJob
from engine.runtime.hosts import start_job
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.jobs import find_job, force_cpu, job_for_page
from ui.live import LIVE_AREAS, job_controls, live_area, remembered, status_bar
from ui.sharing import later
from viz import landscape as figures
from viz.animation import playground_replay

LIVE_BUDGET_S, PROGRESS_AFTER_S = 0.3, 0.5
MAIN_BELOW = 15.0  # rem above the surface in presentation mode: title, buttons, numbers

st.title("Loss Landscape")
playground = find_job("playground")  # the Playground page's network, once that page has set it up
export_panel(LandscapeSpec)
panel = ControlPanel(LandscapeSpec)
with st.sidebar:
    st.header("Network")
    panel.draw("preset", disabled=playground is not None)
    st.header("Directions")
    kind = panel.draw("dirs")
    panel.draw("seed", disabled=kind not in NORMALIZATIONS)
    st.header("View")
    panel.draw("view", disabled=kind in LINE_KINDS)
    panel.draw("data", "log", "range", "res")
    st.header("Curvature")
    panel.draw("k", "method")
spec: LandscapeSpec = panel.spec()

if playground is not None:
    job = playground
    st.caption("The network of the **Network Playground** page, live: train it there or here.")
else:
    preset_config, preset_hp = spec.network()
    # Under the Playground's name but not in the registry (find_job stays None): when the Playground page sets
    # up its network, it takes this job over.
    job = job_for_page("playground", lambda: start_job(PlaygroundJob, preset_config, preset_hp, seed=0,
                                                       force_cpu=force_cpu()))
    if job.snapshot().config != preset_config:
        job.set_hyperparameters(**preset_hp)
        job.wait_applied(job.reset(preset_config))


def _train(steps: int) -> None:
    try:  # wait until the trainer took it, so this rerun already polls the live area
        job.wait_applied(job.step(steps), timeout=2.0)
    except TimeoutError:
        pass


def _pin() -> None:
    snap = job.snapshot(fresh=True)
    if snap.visuals is not None:
        land = PlaygroundLandscape.from_state(snap.config, snap.visuals.state, snap.visuals.dataset)
        st.session_state["ls_pinned"] = land.weights.double().numpy()
        st.session_state["ls_pinned_step"] = snap.step


job_controls(job, key="ls")
train_col, pin_col, note_col = later("ls_actions").columns([1.3, 1.3, 3.4], vertical_alignment="center")
train_col.button("Train 500 steps", key="ls_train", on_click=_train, args=(500,), width="stretch",
                 icon=":material/model_training:")
pin_col.button("Pin current weights", key="ls_pin", on_click=_pin, width="stretch", icon=":material/push_pin:",
               help="Remember these weights to draw the line from them to a later (or another run's) network")
if "ls_pinned" in st.session_state:
    note_col.caption(f"Pinned: the weights at step {st.session_state['ls_pinned_step']:,}.")


def _fingerprint(weights: np.ndarray) -> int:
    return hash(weights.tobytes())


def _cancel(key) -> None:
    st.session_state["_ls_cancelled"] = key


def _progress(key, slot):
    """Shows a progress bar and a Cancel button once a computation has taken a while."""
    started, parts = time.monotonic(), {}

    def report(done: int, total: int) -> None:
        if "bar" not in parts:
            if done >= total or time.monotonic() - started < PROGRESS_AFTER_S:
                return
            with slot.container():
                parts["bar"] = st.progress(0.0)
                st.button("Cancel", key="ls_cancel", on_click=_cancel, args=(key,), icon=":material/cancel:")
        parts["bar"].progress(done / total, text=f"Loss at {done:,} of {total:,} weight vectors…")

    return report


class Computed(NamedTuple):
    """A picture or a spectrum, with the step of the weights it was computed at and when. (Each run of the page
    defines this class anew: one remembered from an earlier run is not an instance of it.)"""

    result: Any
    step: int
    when: float


def _weights_for(name: str, settings: str, weights: int, busy: bool) -> int:
    """The weights (their fingerprint) to compute `name` at: the current ones; but while training, those it was
    last computed at with these settings until this session's share of the live areas' budget allows it again
    (`LIVE_AREAS.due`; a full class watching: every few tens of seconds). Each picture says its step."""
    last = st.session_state.get(f"_{name}_at")  # (settings, weights, when, seconds) of the last computation
    if busy and last is not None and last[0] == settings and not LIVE_AREAS.due(last[2], last[3]):
        return last[1]
    return weights


def _computed(name: str, settings: str, weights: int, compute: Callable[[], Computed]) -> Computed:
    """`compute()` once per settings and weights (ui.live.remembered), noting when for `_weights_for`."""
    held = remembered(name, (settings, weights), compute, figure=False)
    st.session_state[f"_{name}_at"] = (settings, weights, held.when, held.result.seconds)
    return held


def prepare(snap: Snapshot, interactive: bool):
    """(request, picture, spectrum) for a snapshot, each a `Computed` once per weights and settings (while
    training, at most as often as `LIVE_AREAS.due` allows), or the reason there is none.

    Interactive (a whole-page run: paused, or settings changed) it shows a progress bar and a
    Cancel button; a click reruns the page, which stops the computation at the next chunk.
    Inside the live fragment (training) it draws coarse where fine would be slow."""
    land = PlaygroundLandscape.from_state(snap.config, snap.visuals.state, snap.visuals.dataset,
                                          pick_device(force_cpu()))
    request = spec.config()
    cost = st.session_state.get("_ls_seconds_per_point", 0.0)
    if snap.busy and cost * (spec.res if request.one_dimensional else spec.res**2) > LIVE_BUDGET_S:
        request = replace(request, resolution=min(spec.res, COARSE))
    pinned = st.session_state.get("ls_pinned") if spec.dirs == "pinned" else None
    current = _fingerprint(land.weights.cpu().numpy())
    # Settings as text: remembered matches its sources by value only for numbers and text.
    curvature_settings = repr((spec.k, spec.method))
    weights = _weights_for("ls_spectrum", curvature_settings, current, snap.busy)
    try:
        spectrum = _computed("ls_spectrum", curvature_settings, weights, lambda: Computed(
            land.hessian_eigenvalues(spec.k, spec.method), snap.step, time.monotonic()))
    except FloatingPointError as error:
        spectrum = str(error)
    settings = repr((request, None if pinned is None else _fingerprint(pinned)))
    weights = _weights_for("ls_picture", settings, current, snap.busy)
    key = (settings, weights)
    if st.session_state.get("_ls_cancelled") == key:
        if interactive:
            st.info("Cancelled. Lower the resolution, or compute it anyway.", icon=":material/cancel:")
            st.button("Compute anyway", key="ls_resume", on_click=st.session_state.pop, args=("_ls_cancelled",))
        return request, None, spectrum
    slot = st.empty()
    try:
        picture = _computed("ls_picture", settings, weights, lambda: Computed(compute_view(
            land, request, snap.visuals.trajectory, snap.step, pinned,
            progress=_progress(key, slot) if interactive else None), snap.step, time.monotonic()))
    except NeedsTraining as reason:
        return request, str(reason), spectrum
    slot.empty()
    computed = picture.result
    st.session_state["_ls_seconds_per_point"] = computed.seconds / max(1, computed.losses[request.which[0]].size)
    return request, picture, spectrum


def draw(snap: Snapshot) -> None:
    charts = Charts()
    show_landscape(snap, charts)
    offer_exports(spec, "landscape", charts, snap, setting=f"{snap.config.data.kind}-{spec.dirs}-{spec.view}",
                  weights=snap.visuals.state if snap.visuals is not None else None,
                  animation=(lambda: playground_replay(snap)) if snap.visuals is not None else None)


def show_landscape(snap: Snapshot, charts: Charts) -> None:
    status_bar(snap, {"Train loss": f"{snap.latest('train_loss'):.4f}", "Test loss": f"{snap.latest('test_loss'):.4f}"})
    if snap.visuals is None:
        return
    request, picture, spectrum = prepare(snap, interactive=False)
    left, right = st.columns([1.45, 1], gap="medium")
    with right:
        curvature(snap, spectrum, charts)
    if picture is None or isinstance(picture, str):  # cancelled (said above), or a reason to train first
        if picture:
            left.info(picture, icon=":material/model_training:")
        return
    result, step, _ = picture
    view, which, log_scale = spec.view, spec.data, spec.log
    one_d = request.one_dimensional
    name = f"landscape-{snap.config.data.kind}-{spec.dirs}-{view}-{which}-step{step}"
    where = f"step {step:,}" + (f" · {request.resolution}×{request.resolution} while training"
                                if request.resolution < spec.res else "")
    with left:
        title = f"{DIRECTIONS[spec.dirs]} · {where}" if one_d else f"{which.capitalize()} loss · {where}"
        # Held between recomputations: built once per picture, not at every refresh.
        figure = remembered("ls_surface", (result, view, which, log_scale, title),
                            lambda: figures.landscape_figure(result, view, which, log_scale, title))
        charts.show(figure, name, key="ls_surface", main_below=MAIN_BELOW)
        points = result.losses[request.which[0]].size
        st.caption(f"{points:,} points in {result.seconds * 1000:,.0f} ms on {snap.device}.")
    if result.path is not None and not one_d:
        path = result.path
        figure = remembered("ls_path", (path, which, log_scale), lambda: figures.path_loss_comparison(
            path.steps, path.true_loss[which], path.plane_loss[which], path.off_plane, log_scale))
        charts.show(figure, f"{name}-path", key="ls_path")
        gap = np.abs(path.true_loss[which] - path.plane_loss[which])
        st.caption(f"The plane holds {result.explained.sum():.1%} of the path's squared distance from the current "
                   f"weights. Where the path leaves it (up to {path.off_plane.max():.3g} away), the surface shows "
                   f"another network's loss: up to {gap.max():.3g} off the true loss.")


def curvature(snap: Snapshot, computed, charts: Charts) -> None:
    if isinstance(computed, str):
        st.warning(f"No curvature: {computed}.")
        return
    spectrum, step, _ = computed
    lam, lr = float(spectrum.eigenvalues[0]), snap.latest("lr")
    bound, rule, verdict = step_size_verdict(lam, snap.config.optimizer, snap.hyperparameters.get("momentum", 0.0), lr)
    figure = remembered("ls_hessian", (spectrum, lr, bound, rule),
                        lambda: figures.hessian_spectrum(spectrum.eigenvalues, lr, bound, rule))
    charts.show(figure, f"hessian-{snap.config.data.kind}-{spec.method}-step{step}", key="ls_hessian")
    when = "" if step == snap.step else f" (at step {step:,})"
    st.caption(f"λmax = {lam:.4g}{when}, {rule} = {bound:.4g}. {verdict} {spectrum.products} Hessian-vector "
               f"products ({spectrum.method}), {spectrum.seconds * 1000:,.0f} ms. The optimizer page shows why "
               "2/λ is the edge of stability.")


snapshot = job.snapshot()
if not snapshot.busy and snapshot.visuals is not None:
    prepare(snapshot, interactive=True)  # the fine picture, cancellable; the live area then finds it cached
live_area(job, draw)
