"""The controls and the live area that every training page shares."""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import streamlit as st

from engine.common.device import limit_threads
from engine.runtime import Job, JobLimitReached, JobStatus, Snapshot
from ui.delivery import fragment
from ui.exports import draw_panels, offers_kept
from ui.jobs import CATCH_UP_KEY, catch_up, show_where
from ui.rooms import report_run
from ui.sharing import presenting

T = TypeVar("T")

# How often a page's live area reads a snapshot (1 Hz): smooth enough to watch, light enough
# for 30 browsers on one server, and for the browser itself: at 2 Hz Chromium on a 2-core machine
# could not draw the Playground's four charts before the next refresh, and they blanked out a
# third to a half of the time while training (none at 1 Hz). Benchmarks read at the same rate.
UI_REFRESH_S = 1.0

# All live areas of the server together may take this share of one core (Python runs one
# thread at a time, and the trainers and the clicks need the rest), split evenly between the
# sessions watching: with more students each one's live area refreshes less often, and a page
# that costs more to draw (a loss surface, every attention head) less often than a light one.
# The share counts the script's CPU only; each element a refresh sends also costs the web server's
# one event loop a message (a class of 40: thousands a second), and that loop's lag is the clicks' tail:
# 0.25 -> 0.15 took the classroom bench's median click from 1.35 / 0.94 s to 0.71 / 0.72 s (p95 4.80 / 2.77
# -> 2.35 / 2.74 s, two interleaved pairs); a class's refreshes come every 2-4 s instead of 1.25-2.5 s.
LIVE_SHARE = 0.15
MAX_REFRESH_S = 10.0
_ACTIVE_S = 10.0  # a live area that has not refreshed for this long (or 3 periods) no longer counts


@dataclass
class _Watcher:
    last: float  # when its live area last refreshed
    cost: float  # moving average of one refresh's CPU seconds
    period: float


class LiveAreas:
    """Process-wide: which sessions' live areas are refreshing, and what one refresh of each costs (CPU s)."""

    def __init__(self, share: float = LIVE_SHARE, fastest: float = UI_REFRESH_S, slowest: float = MAX_REFRESH_S):
        self.share, self.fastest, self.slowest = share, fastest, slowest
        self._lock = threading.Lock()
        self._watchers: dict[str, _Watcher] = {}

    def refreshed(self, session: str, cpu_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            watcher = self._watchers.get(session)
            if watcher is None:
                self._watchers[session] = _Watcher(now, cpu_s, self.fastest)
            else:
                watcher.last, watcher.cost = now, 0.8 * watcher.cost + 0.2 * cpu_s

    def period(self, session: str, now: float | None = None) -> float:
        """Seconds between `session`'s refreshes, so that each of the n sessions watching takes 1/n of
        `share` of a core; in steps of 0.25 s, so a small change in the estimate does not reset the
        browser's timer."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._watchers = {name: w for name, w in self._watchers.items()
                              if now - w.last < max(_ACTIVE_S, 3 * w.period)}
            watcher = self._watchers.get(session)
            if watcher is None:
                return self.fastest
            wanted = len(self._watchers) * watcher.cost / self.share
            watcher.period = min(self.slowest, max(self.fastest, round(wanted * 4) / 4))
            return watcher.period

    def due(self, since: float, cpu_s: float, now: float | None = None) -> bool:
        """Whether work costing `cpu_s` that one live area last did at `since` may be done again: costly
        parts of a page (a loss surface, a Hessian) are redrawn within the same share as the refreshes."""
        now = time.monotonic() if now is None else now
        with self._lock:
            watching = max(1, len(self._watchers))
        return now - since >= watching * cpu_s / self.share


LIVE_AREAS = LiveAreas()

_STATUS_TEXT = {
    JobStatus.READY: "ready", JobStatus.RUNNING: "training", JobStatus.PAUSED: "paused",
    JobStatus.DONE: "done", JobStatus.DIVERGED: "diverged", JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "stopped",
}


def _command(job: Job, action: str, changes: dict[str, Any] | None = None) -> None:
    """Button callback: send the command and wait until the trainer applied it (for Step
    and Epoch: finished it; for Train: took its first steps), so the rerun that follows
    already shows its effect. `changes`: live settings sent first (a step of one part of a model)."""
    before = None
    try:
        before = job.snapshot().step
        if changes:
            job.set_hyperparameters(**changes)
        ticket = {"play": job.play, "pause": job.pause, "step": job.step, "epoch": job.step_epoch,
                  "reset": job.reset}[action]()
        if action in ("step", "epoch"):
            job.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=2.0, visuals=False)
        elif action == "play":  # until its first steps are out, so the page shows the counter moving
            job.wait_for(lambda s: s.commands_applied >= ticket and (s.step > before or not s.busy), timeout=2.0,
                         visuals=False)
        else:
            job.wait_applied(ticket, timeout=2.0)
    except JobLimitReached as error:
        st.session_state["_job_limit_message"] = str(error)
    except TimeoutError:  # the trainer is busy: the live area catches up
        catch_up(job, before)


_CONTROLS_SHOWN = "_controls_shown"  # id(job) -> the snapshot this run's job_controls drew its buttons from


def job_controls(job: Job, key: str, part_steps: Sequence[tuple[str, dict[str, Any], str]] = ()) -> None:
    """Train/Pause, Step (one minibatch), Epoch (one epoch), Reset. A model of several parts (a GAN) passes
    `part_steps` instead of Epoch: (label, the live settings that make the next step update only that part,
    help) for each, e.g. ("Step D", {"one_part": "d"}, ...)."""
    snap = job.snapshot()
    # (the live area below compares the job with this, not with a later snapshot: a command applied in between
    # would otherwise leave Pause showing on a paused job, with no rerun to mend it)
    st.session_state.setdefault(_CONTROLS_SHOWN, {})[id(job)] = snap
    running = snap.status is JobStatus.RUNNING
    can_train = snap.status in (JobStatus.READY, JobStatus.PAUSED, JobStatus.DONE, JobStatus.RUNNING)
    middle = [("Step", "step", None, "Train on one minibatch, then pause", ":material/skip_next:")]
    if part_steps:
        middle += [(label, "step", changes, help, ":material/skip_next:") for label, changes, help in part_steps]
    else:
        middle.append(("Epoch", "epoch", None, "Train until the next whole epoch, then pause",
                       ":material/fast_forward:"))
    cols = st.columns([1.3, *([1] * (len(middle) + 1)), max(1, 4 - len(middle))])
    # Two keys, not one button relabelled: a click that reaches the server after the rerun that turned
    # Pause into Train would otherwise run Train's callback, and the job would start again. A browser keeps the
    # button of the other key under the new one until the run ends (an element of another key is another
    # element): for that second the row was two buttons tall and everything under it moved down and back up.
    # The later of the two is the old one: hidden.
    play, pause = f".st-key-{key}_play", f".st-key-{key}_pause"
    st.html(f"<style>{play} ~ {pause}, {pause} ~ {play} {{display: none}}</style>")
    cols[0].button("Pause" if running else "Train", key=f"{key}_pause" if running else f"{key}_play",
                   type="primary", width="stretch",
                   icon=":material/pause:" if running else ":material/play_arrow:",
                   disabled=not can_train, on_click=_command, args=(job, "pause" if running else "play"))
    for column, (label, action, changes, help, icon) in zip(cols[1:], middle):
        column.button(label, key=f"{key}_{label.lower().replace(' ', '_')}", width="stretch", disabled=not can_train,
                      icon=icon, on_click=_command, args=(job, action, changes), help=help)
    cols[len(middle) + 1].button("Reset", key=f"{key}_reset", width="stretch", on_click=_command,
                                 args=(job, "reset"), icon=":material/restart_alt:",
                                 help="Start again from freshly initialized weights (same seed)")
    show_where(job)
    message = st.session_state.pop("_job_limit_message", None)
    if message:
        st.warning(message, icon=":material/hourglass_top:")


def latest_text(snap: Snapshot, name: str, spec: str) -> str:
    """The latest value of metric `name` formatted with `spec` ("{:.3f}"), or "–" before it was first measured."""
    value = snap.latest(name)
    return spec.format(value) if math.isfinite(value) else "–"


def status_bar(snap: Snapshot, metrics: dict[str, str], epoch: bool = True) -> None:
    """Step counter, epoch (not for a model trained on fresh draws, which has none), status, speed, and the
    page's own headline numbers."""
    cells = {"Step": f"{snap.step:,}", **({"Epoch": f"{snap.epoch:,.1f}"} if epoch else {}), **metrics,
             "Steps/s": f"{snap.steps_per_second:,.0f}" if snap.busy else "–"}
    # One row container, not st.columns: a column is a block of its own, sent with every live refresh
    row = st.container(horizontal=True, gap="small")
    for label, value in cells.items():
        row.metric(label, value)
    st.caption(f"Status: **{_STATUS_TEXT[snap.status]}** · {snap.device} · seed {snap.seed}")
    if snap.status is JobStatus.DIVERGED:
        st.error(snap.message, icon=":material/error:")
    elif snap.status is JobStatus.FAILED:
        st.error(snap.message, icon=":material/warning:")
    elif snap.status is JobStatus.DONE:
        st.success(snap.message, icon=":material/flag:")
    elif snap.message:
        st.warning(snap.message)


def _session_id() -> str:
    """An id of this browser session, for LIVE_AREAS (Streamlit's own is not public)."""
    return st.session_state.setdefault("_live_session", uuid.uuid4().hex)


def live_area(job: Job, draw: Callable[[Snapshot], None],
              polls: Callable[[Snapshot], bool] = lambda snap: snap.busy) -> None:
    """Draw the job's latest snapshot, refreshing while it trains (or while `polls(snapshot)`: a page
    whose job keeps working after training stops, such as Diffusion's measuring, says so).

    Only this fragment reruns while training; the controls above it do not.
    When training ends (done, diverged, paused while the job still works), or
    a click the trainer applied late takes effect, the whole page reruns once
    so the controls show it. It refreshes as often as `LIVE_AREAS` allows for
    the number of students watching and the cost of this page's refresh
    (once a second for a few, every few seconds for a full class).
    """
    shown = st.session_state.get(_CONTROLS_SHOWN, {}).pop(id(job), None) or job.snapshot()  # the controls' job
    # A click the trainer has not applied yet (a busy server): refresh until it shows.
    catching_up = job.has_unapplied_commands(shown)
    click_step, hurry_until = st.session_state.get(CATCH_UP_KEY, {}).get(id(job), (None, 0.0))
    hurry = time.monotonic() < hurry_until  # not shown yet: at the fastest rate, for a while (ui.jobs)
    if not hurry:
        st.session_state.get(CATCH_UP_KEY, {}).pop(id(job), None)
    polling = polls(shown) or catching_up or hurry
    session = _session_id()
    every = UI_REFRESH_S if hurry else LIVE_AREAS.period(session) if polling else None
    runs: dict[str, Any] = {"count": 0}  # this whole-page run draws the fragment once; every later call reruns it

    @fragment(run_every=every)
    def _live() -> None:
        limit_threads()  # a fragment rerun is a fresh thread too
        started = time.thread_time()
        runs["count"] += 1
        snap = job.snapshot(fresh=not hurry)  # the visuals of the step the counter shows (see ui.jobs.CATCH_UP_S)
        with offers_kept() as runs["offers"]:  # the Export panel is drawn below, once, not by every refresh
            draw(snap)
        report_run(snap)  # a student's run, to its class room (ui.rooms)
        if hurry and (time.monotonic() >= hurry_until or not job.has_unapplied_commands(snap) and (
                not snap.busy or click_step is None or snap.step > click_step)):
            st.session_state.get(CATCH_UP_KEY, {}).pop(id(job), None)  # shown, or given up: back to the class's pace
            st.rerun(scope="app")
        # When the controls no longer match the job (training stopped, or a late click took effect),
        # rerun the whole page once so they show it.
        if polling and not job.has_unapplied_commands(snap) and (
                catching_up or not polls(snap) or snap.busy != shown.busy):
            st.rerun(scope="app")
        if polling and not hurry:
            LIVE_AREAS.refreshed(session, time.thread_time() - started)
            # Streamlit sets a fragment's interval only in a whole-page run (no public call changes it from the
            # fragment's own rerun), so when the class watching has grown or shrunk enough to change this
            # area's period by a third, the page reruns once with the new one.
            if runs["count"] > 1 and not every / 1.3 < LIVE_AREAS.period(session) < every * 1.3:
                st.rerun(scope="app")

    _live()
    draw_panels(runs["offers"])  # the offers of this whole-page run's draw only (never a page left before)


def remembered(name: str, sources: tuple, build: Callable[[], T], *, figure: bool = True) -> T:
    """What `build()` gave the last time this session drew `name` (page-prefixed: "df_samples") from the
    same `sources`, else a new one. The one memo of the pages, for figures and (`figure=False`) for what
    a page computes to draw them (a loss surface).

    Sources match by identity (a snapshot's arrays and measurements are replaced, never changed, when
    something new arrives) or, for plain numbers and strings, by value. So a live refresh, once a second,
    rebuilds only the charts whose data changed (the reverse-process animation takes ~0.2 s to build).
    """
    if figure:  # presentation mode sizes a figure's text: toggled, the figure is built again (not its data)
        sources = (*sources, presenting())
    cache = st.session_state.setdefault("_remembered", {})
    hit = cache.get(name)
    if hit is not None and len(hit[0]) == len(sources) and all(
            old is new or (isinstance(new, (int, float, str)) and old == new) for old, new in zip(hit[0], sources)):
        return hit[1]
    value = build()
    cache[name] = (sources, value)
    return value
