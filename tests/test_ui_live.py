"""The live areas' refresh periods: all of them together take about a fixed share of a core, split evenly."""

import pytest

from ui.live import LiveAreas


def test_one_watcher_refreshes_at_the_fastest_rate():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=10.0)
    areas.refreshed("a", 0.02, now=0.0)
    assert areas.period("a", now=0.1) == 0.5


@pytest.mark.parametrize("watchers, cost", [(10, 0.04), (20, 0.03), (25, 0.02)])
def test_the_period_grows_with_the_watchers_so_their_cpu_stays_within_the_share(watchers, cost):
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=10.0)
    for i in range(watchers):
        areas.refreshed(f"s{i}", cost, now=0.0)
    period = areas.period("s0", now=0.1)
    # n refreshes of `cost` CPU seconds each per period: the share of a core they take, within 0.125 s rounding.
    assert watchers * cost / (period + 0.125) <= 0.25 <= watchers * cost / max(period - 0.125, 1e-9)
    assert period * 4 == int(period * 4)  # quarter seconds, so browsers' timers are not reset for noise


def test_a_page_that_costs_more_refreshes_less_often_and_the_total_stays_within_the_share():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=10.0)
    costs = {f"light{i}": 0.01 for i in range(10)} | {f"heavy{i}": 0.1 for i in range(10)}
    for session, cost in costs.items():
        areas.refreshed(session, cost, now=0.0)
    periods = {session: areas.period(session, now=0.1) for session in costs}
    assert periods["light0"] == 0.75 and periods["heavy0"] == 8.0  # 20 x 0.01 / 0.25 and 20 x 0.1 / 0.25
    assert sum(cost / periods[session] for session, cost in costs.items()) <= 0.25 * 1.05


def test_the_cost_is_a_moving_average_of_each_sessions_own_refreshes():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=10.0)
    areas.refreshed("a", 0.1, now=0.0)
    areas.refreshed("b", 0.1, now=0.0)
    assert areas.period("a", now=0.1) == 0.75  # 2 x 0.1 / 0.25 = 0.8, in quarter seconds
    for t in range(1, 30):
        areas.refreshed("a", 0.01, now=t * 0.1)  # its page got lighter (a tab closed)
    areas.refreshed("b", 0.1, now=3.0)
    assert areas.period("a", now=3.0) == 0.5
    assert areas.period("b", now=3.0) == 0.75


def test_the_period_is_capped_and_sessions_that_left_stop_counting():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=10.0)
    for i in range(100):
        areas.refreshed(f"s{i}", 0.05, now=0.0)
    assert areas.period("s0", now=1.0) == 10.0  # 20 s wanted: still a visible update every 10 s
    areas.refreshed("s0", 0.05, now=40.0)  # only one session still watching
    assert areas.period("s0", now=40.5) == 0.5
    assert areas.period("unknown", now=40.5) == 0.5


def _live_page(busy_then: list[bool], unapplied_then: list[bool], works_on: bool = False, controls: bool = False):
    """A page with a live area (and, with `controls`, the job's buttons above it, as every page has), over a
    stub job whose snapshots and pending commands follow the lists (the last value repeats), polling while busy
    (or always, `works_on`, as Diffusion does while it measures); returns the AppTest and how many whole-page
    runs it made."""
    from streamlit.testing.v1 import AppTest

    def page():
        import itertools

        import streamlit as st

        from engine.runtime import JobStatus, Snapshot
        from ui.live import job_controls, live_area

        class StubJob:
            where = "the web server's process"

            def __init__(self, busy, unapplied):
                self._busy = itertools.chain(busy, itertools.repeat(busy[-1]))
                self._unapplied = itertools.chain(unapplied, itertools.repeat(unapplied[-1]))

            def snapshot(self, fresh=False):
                busy = next(self._busy)
                return Snapshot(0, 0, 0.0, JobStatus.RUNNING if busy else JobStatus.PAUSED, "", {}, {}, {}, None,
                                0, 0.0, "CPU", busy=busy)

            def has_unapplied_commands(self, snap=None):
                return next(self._unapplied)

        if "job" not in st.session_state:
            st.session_state.job = StubJob(st.session_state.busy_then, st.session_state.unapplied_then)
        st.session_state.runs = st.session_state.get("runs", 0) + 1
        if st.session_state.controls:
            job_controls(st.session_state.job, key="stub")
        live_area(st.session_state.job, lambda snap: st.write("training" if snap.busy else "paused"),
                  polls=(lambda snap: True) if st.session_state.works_on else (lambda snap: snap.busy))

    at = AppTest.from_function(page)
    at.session_state.busy_then, at.session_state.unapplied_then = busy_then, unapplied_then
    at.session_state.works_on, at.session_state.controls = works_on, controls
    at.run()
    return at, at.session_state.runs


def test_a_click_the_trainer_applies_late_reruns_the_page_once_it_shows():
    # Train was sent but not yet applied when the page was drawn (paused): the live area waits for it,
    # then reruns the whole page, whose controls now show the job training.
    at, runs = _live_page(busy_then=[False, True], unapplied_then=[True, False])
    assert runs == 2 and not at.exception
    assert at.markdown[-1].value == "training"


def test_when_training_stops_while_the_job_still_works_the_page_reruns():
    # Paused while the page polls on (Diffusion measures the last step): the Pause button must turn to Train.
    at, runs = _live_page(busy_then=[True, False], unapplied_then=[False], works_on=True)
    assert runs == 2 and not at.exception


def test_a_pause_applied_between_the_buttons_and_the_live_area_reruns_the_page():
    # The buttons were drawn while the job trained (Pause); the trainer applied the pause before the live area
    # read the job (a busy class's server: seen as a Pause button under "paused" for 30 s). The page must run
    # again so the button says Train.
    at, runs = _live_page(busy_then=[True, False], unapplied_then=[False], controls=True)
    assert runs == 2 and not at.exception
    assert [b.label for b in at.button][0] == "Train"


def test_a_page_in_step_with_its_job_runs_once():
    at, runs = _live_page(busy_then=[True], unapplied_then=[False])
    assert runs == 1 and not at.exception


def test_a_train_whose_first_step_comes_after_the_click_s_wait_is_caught_up_with_plain_reads():
    # A busy class: Train's first step had not come when the callback stopped waiting. Until it shows, the live
    # area refreshes at the fastest rate (not the class's period of up to 10 s) with reads that ask the job for
    # no visuals; once the step counter passed the click's, the page runs once more and reads fresh again.
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from engine.runtime import JobStatus, Snapshot
        from ui.live import job_controls, live_area

        class StubJob:
            where = "the web server's process"

            def snapshot(self, fresh=False):
                st.session_state.reads.append(fresh)
                running = st.session_state.running
                return Snapshot(0, st.session_state.step_now, 0.0, JobStatus.RUNNING if running else JobStatus.PAUSED,
                                "", {}, {}, {}, None, 0, 0.0, "CPU", busy=running)

            def has_unapplied_commands(self, snap=None):
                return False

            def play(self):
                st.session_state.running = True
                return 1

            pause = step = step_epoch = reset = play  # (the callback looks them all up)

            def wait_for(self, predicate, timeout, visuals=True):
                raise TimeoutError  # the first step did not come within the wait

        if "job" not in st.session_state:
            st.session_state.job = StubJob()
        st.session_state.runs = st.session_state.get("runs", 0) + 1
        job_controls(st.session_state.job, key="stub")
        live_area(st.session_state.job, lambda snap: st.write(f"step {snap.step}"))

    at = AppTest.from_function(page)
    at.session_state.reads, at.session_state.running, at.session_state.step_now = [], False, 0
    at.run()
    at.button(key="stub_play").click().run()
    assert not at.exception and at.session_state.runs == 2
    assert at.session_state.reads[-1] is False  # the live area's read during the catch-up: no visuals asked
    assert at.markdown[-1].value == "step 0" and "_live_catch_up" in at.session_state
    at.session_state.step_now = 3  # the first steps came
    at.session_state.reads = []
    at.run()
    assert not at.exception and at.session_state.runs == 4  # caught up: the page ran once more, at its own pace
    assert at.session_state.reads[-1] is True and not at.session_state["_live_catch_up"]
    assert at.markdown[-1].value == "step 3"


def test_a_change_the_trainer_applies_after_the_run_s_wait_is_caught_up_at_the_fastest_rate():
    # A busy class: a new data set rebuilds the experiment, and the trainer had not applied it within the page
    # run's wait (ui.jobs.APPLY_WAIT_S). Until it is applied, the live area refreshes at the fastest rate (not the
    # class's period of up to 10 s: the class room bench's teacher waited 5-20 s for such a change), then the
    # page runs once more and draws the rebuilt experiment.
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st
        import torch

        from engine.runtime import JobStatus, Snapshot
        from ui.jobs import session_job
        from ui.live import live_area

        class StubJob:
            where = "worker 1 of 2 (CPU)"
            config, seed, hp, device = "moons", 0, {}, torch.device("cpu")

            def snapshot(self, fresh=False):
                st.session_state.reads.append(fresh)
                return Snapshot(0, 5, 0.0, JobStatus.RUNNING, "", {}, {}, {}, None, 0, 0.0, "CPU", busy=True)

            def reset(self, config, seed, force_cpu=False):
                st.session_state.unapplied = True
                return 1

            def wait_applied(self, ticket, timeout):
                raise TimeoutError  # the rebuild did not come within the run's wait

            def has_unapplied_commands(self, snap=None):
                return st.session_state.unapplied

        st.session_state.runs = st.session_state.get("runs", 0) + 1
        job = session_job("stub", StubJob, config=st.session_state.data, seed=0, hyperparameters={})
        live_area(job, lambda snap: st.write(f"step {snap.step}"))

    at = AppTest.from_function(page)
    at.session_state.reads, at.session_state.unapplied, at.session_state.data = [], False, "moons"
    at.run()
    at.session_state.data = "circle"  # the control's change
    at.run()
    [(step_at_click, _until)] = at.session_state["_live_catch_up"].values()
    assert not at.exception and step_at_click is None  # applying the change is what must show, not a step
    assert at.session_state.reads[-1] is False  # plain reads while catching up
    at.session_state.unapplied = False  # the trainer applied it
    runs = at.session_state.runs
    at.run()
    assert not at.exception and not at.session_state["_live_catch_up"]
    assert at.session_state.runs == runs + 2  # this run, and the whole-page run once the change showed


def test_latest_text_formats_the_latest_value_or_says_not_yet():
    class Measured:  # the one method latest_text reads
        def latest(self, name: str) -> float:
            return {"loss": 0.12345, "top1": 0.5}.get(name, float("nan"))

    from ui.live import latest_text

    assert latest_text(Measured(), "loss", "{:.3f}") == "0.123"
    assert latest_text(Measured(), "top1", "{:.0%}") == "50%"
    assert latest_text(Measured(), "held_out_bpc", "{:.3f}") == "–"  # not measured yet
