"""The live areas' shared refresh period: all of them together take about a fixed share of a core."""

import pytest

from ui.live import LiveAreas


def test_one_watcher_refreshes_at_the_fastest_rate():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=4.0)
    areas.refreshed("a", 0.02, now=0.0)
    assert areas.period(now=0.1) == 0.5


@pytest.mark.parametrize("watchers, cost", [(10, 0.04), (20, 0.03), (25, 0.02)])
def test_the_period_grows_with_the_watchers_so_their_cpu_stays_within_the_share(watchers, cost):
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=4.0)
    for i in range(watchers):
        areas.refreshed(f"s{i}", cost, now=0.0)
    period = areas.period(now=0.1)
    # n refreshes of `cost` CPU seconds each per period: the share of a core they take, within 0.125 s rounding.
    assert watchers * cost / (period + 0.125) <= 0.25 <= watchers * cost / max(period - 0.125, 1e-9)
    assert period * 4 == int(period * 4)  # quarter seconds, so browsers' timers are not reset for noise


def test_the_period_is_capped_and_sessions_that_left_stop_counting():
    areas = LiveAreas(share=0.25, fastest=0.5, slowest=4.0)
    for i in range(100):
        areas.refreshed(f"s{i}", 0.05, now=0.0)
    assert areas.period(now=1.0) == 4.0  # 20 s wanted: still a visible update every 4 s
    areas.refreshed("s0", 0.05, now=20.0)  # only one session still watching
    assert areas.period(now=20.5) == 0.5
