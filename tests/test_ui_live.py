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
