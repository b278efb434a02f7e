"""Loss Landscape: the loss around the network the Playground trains, computed live."""

import time

import numpy as np
import streamlit as st

from engine.common.device import pick_device
from engine.runtime import Snapshot
from engine.landscape import DIRECTIONS, LINE_KINDS, NORMALIZATIONS, PRESETS, LandscapeRequest, NeedsTraining, \
    PlaygroundLandscape, compute_view, step_size_verdict
from engine.playground import PlaygroundJob
from ui.exports import Charts, export_panel, offer_exports
from ui.jobs import force_cpu, job_for_page, page_has_job
from ui.live import LIVE_AREAS, job_controls, live_area, remembered, status_bar
from ui.sharing import later
from viz import landscape as figures
from viz.animation import playground_replay

URL = "query-params"
SPANS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0]
RESOLUTIONS = [11, 21, 31, 41, 51, 61, 81, 101, 151]
VIEWS = {"contour": "Contour", "surface": "3-D surface", "curve": "1-D curve"}
COARSE, LIVE_BUDGET_S, PROGRESS_AFTER_S = 21, 0.3, 0.5
MAIN_BELOW = 15.0  # rem above the surface in presentation mode: title, buttons, numbers
DIRECTIONS_HELP = (
    "**Random**: two Gaussian directions, each scaled to the weights it moves: filter by filter "
    "(*filter-normalized*, as in Li et al. 2018, *Visualizing the Loss Landscape of Neural Nets*), layer by layer, "
    "or not at all. **PCA**: the plane of the two main directions the training path took. **Line**: the straight "
    "line from the initial (or the pinned) weights to the current ones, a 1-D curve.")

st.title("Loss Landscape")
claimed = page_has_job("playground")  # the Playground page has set up its network
export_panel("ls_")
with st.sidebar:
    st.header("Network")
    preset = st.selectbox("Preset", list(PRESETS), format_func=lambda p: PRESETS[p][0], key="ls_preset", bind=URL,
                          disabled=claimed, help="Used until you build a network on the Network Playground page.")
    st.header("Directions")
    kind = st.selectbox("Directions", list(DIRECTIONS), format_func=DIRECTIONS.get, key="ls_dirs", bind=URL,
                        help=DIRECTIONS_HELP)
    seed = st.number_input("Direction seed", 0, 9999, 0, key="ls_seed", bind=URL, disabled=kind not in NORMALIZATIONS)
    st.header("View")
    view = st.radio("View", list(VIEWS), format_func=VIEWS.get, key="ls_view", bind=URL, horizontal=True,
                    disabled=kind in LINE_KINDS)
    which = st.radio("Loss on", ["train", "test"], key="ls_data", bind=URL, horizontal=True,
                     format_func=lambda w: f"{w} set")
    log_scale = st.toggle("Log scale", False, key="ls_log", bind=URL)
    span = st.select_slider("Grid range ±", SPANS, 1.0, key="ls_range", bind=URL,
                            help="Random directions: in units of each filter's norm. PCA: as a multiple of the "
                                 "path's extent. Lines: how far past both ends.")
    resolution = st.select_slider("Points per side", RESOLUTIONS, 51, key="ls_res", bind=URL,
                                  help=f"While the network trains, large grids are drawn at {COARSE}×{COARSE}.")
    st.header("Curvature")
    top_k = st.slider("Top Hessian eigenvalues", 1, 8, 3, key="ls_k", bind=URL)
    method = st.radio("Method", ["lanczos", "power"], key="ls_method", bind=URL, horizontal=True,
                      format_func={"lanczos": "Lanczos", "power": "Power iteration"}.get)

_, preset_config, preset_hp = PRESETS[preset]
job = job_for_page("playground", lambda: PlaygroundJob(preset_config, preset_hp, seed=0))
if claimed:
    st.caption("The network of the **Network Playground** page, live: train it there or here.")
elif job.snapshot().config != preset_config:
    job.set_hyperparameters(**preset_hp)
    job.wait_applied(job.reset(preset_config))


def _train(steps: int) -> None:
    try:  # wait until the trainer took it, so this rerun already polls the live area
        job.wait_applied(job.step(steps), timeout=2.0)
    except TimeoutError:
        pass


def _pin() -> None:
    snap = job.snapshot()
    if "state" in snap.visuals:
        land = PlaygroundLandscape.from_state(snap.config, snap.visuals["state"], snap.visuals["dataset"])
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


def _fingerprint(land: PlaygroundLandscape) -> int:
    return hash(land.weights.cpu().numpy().tobytes())


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


def _cached(name: str, key, compute):
    held = st.session_state.get(name)
    if held is not None and held[0] == key:
        return held[1]
    value = compute()
    st.session_state[name] = (key, value)
    return value


def prepare(snap: Snapshot, interactive: bool):
    """(request, (view, step, when), (spectrum, step, when)) for a snapshot, each computed once per weights
    and settings (while training, at most as often as `LIVE_AREAS.due` allows).

    Interactive (a whole-page run: paused, or settings changed) it shows a progress bar and a
    Cancel button; a click reruns the page, which stops the computation at the next chunk.
    Inside the live fragment (training) it draws coarse where fine would be slow."""
    land = PlaygroundLandscape.from_state(snap.config, snap.visuals["state"], snap.visuals["dataset"],
                                          pick_device(force_cpu()))
    one_d = kind in LINE_KINDS or view == "curve"
    cost = st.session_state.get("_ls_seconds_per_point", 0.0)
    slow = snap.busy and cost * (resolution if one_d else resolution**2) > LIVE_BUDGET_S
    request = LandscapeRequest(kind, int(seed), float(span), min(resolution, COARSE) if slow else resolution, one_d,
                               ("train", "test") if one_d else (which,))
    pinned = st.session_state.get("ls_pinned") if kind == "pinned" else None
    fingerprint = _fingerprint(land)
    pinned_key = None if pinned is None else hash(pinned.tobytes())
    key = (request, fingerprint, pinned_key)
    # While training, the Hessian and the surface are recomputed only as often as this session's share
    # of the live areas' budget allows (a full class watching: every few tens of seconds); each says its step.
    held = st.session_state.get("_ls_hessian")
    if snap.busy and held and held[0][1:] == (top_k, method) and not LIVE_AREAS.due(held[1][2], held[1][0].seconds):
        spectrum = held[1]
    else:
        try:
            spectrum = _cached("_ls_hessian", (fingerprint, top_k, method),
                               lambda: (land.hessian_eigenvalues(top_k, method), snap.step, time.monotonic()))
        except FloatingPointError as error:
            spectrum = str(error)
    held = st.session_state.get("_ls_view")
    if snap.busy and held and held[0][0] == request and held[0][2] == pinned_key and \
            not LIVE_AREAS.due(held[1][2], held[1][0].seconds):
        return request, held[1], spectrum
    if st.session_state.get("_ls_cancelled") == key:
        if interactive:
            st.info("Cancelled. Lower the resolution, or compute it anyway.", icon=":material/cancel:")
            st.button("Compute anyway", key="ls_resume", on_click=st.session_state.pop, args=("_ls_cancelled",))
        return request, None, spectrum
    slot = st.empty()
    try:
        result = _cached("_ls_view", key, lambda: (compute_view(
            land, request, snap.visuals["trajectory"], snap.step, pinned,
            progress=_progress(key, slot) if interactive else None), snap.step, time.monotonic()))
    except NeedsTraining as reason:
        return request, str(reason), spectrum
    slot.empty()
    computed = result[0]
    st.session_state["_ls_seconds_per_point"] = computed.seconds / max(1, computed.losses[request.which[0]].size)
    return request, result, spectrum


def draw(snap: Snapshot) -> None:
    charts = Charts()
    show_landscape(snap, charts)
    offer_exports("ls_", "landscape", charts, snap, setting=f"{snap.config.data.kind}-{kind}-{view}",
                  weights=snap.visuals.get("state"),
                  animation=(lambda: playground_replay(snap)) if "trajectory" in snap.visuals else None)


def show_landscape(snap: Snapshot, charts: Charts) -> None:
    status_bar(snap, {"Train loss": f"{snap.latest('train_loss'):.4f}", "Test loss": f"{snap.latest('test_loss'):.4f}"})
    if "state" not in snap.visuals:
        return
    request, result, spectrum = prepare(snap, interactive=False)
    left, right = st.columns([1.45, 1], gap="medium")
    with right:
        curvature(snap, spectrum, charts)
    if not isinstance(result, tuple):  # cancelled (said above), or a reason to train first
        if result:
            left.info(result, icon=":material/model_training:")
        return
    result, step, _ = result
    one_d = request.one_dimensional
    name = f"landscape-{snap.config.data.kind}-{kind}-{view}-{which}-step{step}"
    where = f"step {step:,}" + (f" · {request.resolution}×{request.resolution} while training"
                                if request.resolution < resolution else "")
    with left:
        title = f"{DIRECTIONS[kind]} · {where}" if one_d else f"{which.capitalize()} loss · {where}"
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
    charts.show(figure, f"hessian-{snap.config.data.kind}-{method}-step{step}", key="ls_hessian")
    when = "" if step == snap.step else f" (at step {step:,})"
    st.caption(f"λmax = {lam:.4g}{when}, {rule} = {bound:.4g}. {verdict} {spectrum.products} Hessian-vector "
               f"products ({spectrum.method}), {spectrum.seconds * 1000:,.0f} ms. The optimizer page shows why "
               "2/λ is the edge of stability.")


snapshot = job.snapshot()
if not snapshot.busy and "state" in snapshot.visuals:
    prepare(snapshot, interactive=True)  # the fine picture, cancellable; the live area then finds it cached
live_area(job, draw)
