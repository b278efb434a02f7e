"""ui.delivery: a script run ends only once its messages left the session's queue, so a page keeps arriving
while the server's event loop lags (a class's load), where a plain `st.fragment` lost most of its runs; and a
timed refresh starts after the server's whole-page runs (someone's click), not beside them."""

from __future__ import annotations

import ast
import asyncio
import threading
import time

import pytest

from scripts.browser import running_app
from scripts.streamlit_client import StreamlitSession
from tests.conftest import ROOT
from tests.test_no_streamlit_internals import APP_MODULES
from ui.delivery import Foreground

WATCH_S = 10.0
LOOP_TURN_S = "0.2"  # a turn of the loop: enough that a plain fragment loses most of its runs


def refreshes_shown(fragment: str, loop_turn_s: str = LOOP_TURN_S, moved: bool = False,
                    warnings: list[int] | None = None) -> list[tuple[float, int]]:
    """(seconds since the page loaded, refresh count) of each new count a client saw over WATCH_S on
    tests/apps/lagging_loop.py (`moved`: as if Streamlit had moved its private parts; `warnings` gets the
    page's last count of ui.delivery's log lines about them)."""
    async def watch(url: str) -> list[tuple[float, int]]:
        session = StreamlitSession(url, fragment)
        await session.connect()
        try:
            assert (await session.open("")).ok
            seen: list[tuple[float, int]] = []
            start = time.monotonic()
            while time.monotonic() < start + WATCH_S:
                value = session.metric("Refreshes")
                if value is not None and (not seen or int(value) != seen[-1][1]):
                    seen.append((round(time.monotonic() - start, 2), int(value)))
                await asyncio.sleep(0.05)
            assert not session.exceptions
            if warnings is not None:
                warnings.append(int(session.metric("Warnings")))
            return seen
        finally:
            await session.close()

    env = {"LOOP_TURN_S": loop_turn_s, "FRAGMENT": fragment, "MOVED": "1" if moved else "0", "PYTHONPATH": str(ROOT)}
    with running_app(env=env, script="tests/apps/lagging_loop.py") as (url, _):
        return asyncio.run(watch(url))


@pytest.mark.alone  # counts refreshes against a timed event loop
def test_every_refresh_arrives_while_the_loop_lags_where_a_plain_fragment_lost_most():
    """The page counts its script runs: each one the client sees is one more than the last it saw (no run was
    thrown away), and they keep coming. The same page with `st.fragment` shows runs lost (a gap in the counts)
    or none after the first: the oracle that this loop's lag is the one that lost them."""
    plain, delivered = refreshes_shown("plain"), refreshes_shown("delivery")
    counts = [count for _, count in delivered]
    assert len(counts) >= 4 and counts == list(range(1, len(counts) + 1)), delivered
    assert delivered[-1][0] > WATCH_S / 2, delivered  # still arriving in the second half of the watch
    plain_counts = [count for _, count in plain]
    assert len(plain_counts) <= 1 or any(b - a > 1 for a, b in zip(plain_counts, plain_counts[1:])), plain


def test_if_streamlit_moved_its_private_parts_pages_still_run_and_the_log_says_so_once():
    """An upgrade that moves what ui.delivery reads must not stop a page: runs end as Streamlit's own do (no
    waiting, no exception on the page), timed refreshes no longer wait for clicks, and the server's log says why,
    once, not at every run."""
    warnings: list[int] = []
    counts = [count for _, count in refreshes_shown("delivery", loop_turn_s="0.004", moved=True, warnings=warnings)]
    assert len(counts) >= 8 and counts == list(range(1, len(counts) + 1)), counts  # every 0.5 s, none lost
    assert warnings == [1]


def test_every_fragment_of_the_app_is_made_by_ui_delivery():
    made_here = []
    for path in APP_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "fragment" and isinstance(node.value, ast.Name) \
                    and node.value.id == "st":
                made_here.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [where.split(":")[0] for where in made_here] == ["ui/delivery.py"], made_here


def test_a_refresh_waits_until_no_whole_page_run_is_left_and_no_longer_than_it_may():
    foreground, returned = Foreground(), []

    def refresh(timeout_s: float) -> None:
        started = time.monotonic()
        returned.append((foreground.wait_idle(timeout_s), time.monotonic() - started))

    assert foreground.wait_idle(0.0)  # nothing runs: at once
    with foreground.run():
        with foreground.run():  # two sessions' clicks
            waiter = threading.Thread(target=refresh, args=(5.0,))
            waiter.start()
            time.sleep(0.2)
        time.sleep(0.2)
        assert not returned  # one click still runs
    waiter.join()
    assert returned[0][0] and 0.35 < returned[0][1] < 1.0, returned
    with pytest.raises(RuntimeError), foreground.run():  # a run that ends by raising (st.rerun, st.stop)
        raise RuntimeError
    assert foreground.wait_idle(0.0)
    with foreground.run():
        refresh(0.3)  # the bound
        assert returned[1][0] is False and 0.25 < returned[1][1] < 0.6, returned

        def newer_request() -> None:
            raise KeyError("a rerun of the waiting session")  # what its script run's check raises

        with pytest.raises(KeyError):  # the waiting session's own click ends the wait
            foreground.wait_idle(5.0, between=newer_request)


def clicks_first(fragment: str, watcher_clicks: bool = False) -> dict[str, list[float]]:
    """On tests/apps/clicks_first.py: a session whose live area refreshes every 0.1 s while another session
    clicks four times, each click's whole-page run taking 0.6 s (`watcher_clicks`: once, and 0.25 s into it the
    watching session clicks too). When each event happened: "refresh", "click-start", "click-end", "mine"."""
    async def drive(url: str) -> None:
        watcher, clicker = StreamlitSession(url, "watcher"), StreamlitSession(url, "clicker")
        await watcher.connect()
        await clicker.connect()
        try:
            assert (await watcher.open("", "role=watch")).ok
            await asyncio.sleep(0.5)
            for _ in range(1 if watcher_clicks else 4):
                click = asyncio.create_task(clicker.open("", "role=slow"))
                if watcher_clicks:
                    await asyncio.sleep(0.25)  # the watcher's refresh waits for the click's run by now
                    await watcher.click("Mine")
                assert (await click).ok
                await asyncio.sleep(0.3)
            assert not watcher.exceptions and not clicker.exceptions
        finally:
            await watcher.close()
            await clicker.close()

    log = ROOT / "artifacts" / f"clicks_first_{fragment}.log"
    log.parent.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    with running_app(env={"FRAGMENT": fragment, "LOG": str(log), "PYTHONPATH": str(ROOT)},
                     script="tests/apps/clicks_first.py") as (url, _):
        asyncio.run(drive(url))
    events: dict[str, list[float]] = {"refresh": [], "click-start": [], "click-end": [], "mine": []}
    for event, at in (line.split() for line in log.read_text().splitlines()):
        events[event].append(float(at))
    return events


@pytest.mark.alone  # times two sessions' runs against each other
def test_timed_refreshes_start_after_a_click_s_run_where_plain_fragments_start_during_it():
    """The oracle: with `st.fragment` the watcher's refreshes keep starting while the clicks run (Streamlit
    runs every session's script in a thread of its own); with ui.delivery's they wait for the click's run to end
    (and still refresh between the clicks)."""
    def during(refreshes: list[float], clicks: list[tuple[float, float]]) -> int:
        # (a refresh let through just before a click began may write its line a little after it)
        return sum(start + 0.15 < at < end - 0.05 for at in refreshes for start, end in clicks)

    plain, delivered = clicks_first("plain"), clicks_first("delivery")
    plain_refreshes, plain_clicks = plain["refresh"], list(zip(plain["click-start"], plain["click-end"]))
    refreshes, clicks = delivered["refresh"], list(zip(delivered["click-start"], delivered["click-end"]))
    assert len(plain_clicks) == len(clicks) == 4
    assert during(plain_refreshes, plain_clicks) >= 8, (plain_refreshes, plain_clicks)
    assert during(refreshes, clicks) == 0, (refreshes, clicks)
    between = [at for at in refreshes if clicks[0][1] < at < clicks[-1][0]]
    assert len(between) >= 3, (refreshes, clicks)  # refreshing between the clicks


@pytest.mark.alone  # times two sessions' runs against each other
def test_a_session_s_own_click_is_not_held_by_its_refresh_s_wait():
    """The watcher clicks while its refresh waits for the other session's 0.6 s click: its run takes the click
    before that one ends (the wait checks its session's requests), not after it."""
    events = clicks_first("delivery", watcher_clicks=True)
    (start,), (end,) = events["click-start"], events["click-end"]
    assert len(events["mine"]) == 1 and start < events["mine"][0] < end - 0.1, events
