"""A class room under load (issue 22): `python bench/classroom.py --room` runs this.

Starts the app with `streamlit run app.py`, jobs on the `processes` host (2 workers). The teacher is a real
Chromium page: it starts a class on the Network Playground and pushes it. 30 students (`--sessions N`) are light
clients (scripts/streamlit_client.py, Streamlit's own websocket protocol; 30 Chromium tabs would take the two
cores from the server under test) that open the join link, land on the pushed page, press Train and watch it
train, their live areas reporting to the room as a browser's do.

Measured (last line, one JSON object):
- teacher_interaction_p95_s: the teacher's control changes on the Playground while its own job trains and the
  class trains, timed as bench/interaction.py times them (from the committed value until the page is idle and
  its chart shows other data and a reset step counter); target 0.75 s;
- room_view_p95_s: for each step a student's page showed (its live area reports what it drew), the time until
  the teacher's class view, open in Chromium, shows that student's run at that step or later; steps shown in
  the last 2 s of the watch are left out (no time to show them); one never shown counts as the time left
  to the end of the watch; target 2 s;
- errors: exceptions any session received, tracebacks in the server's log, students who never landed on the
  pushed page or whose training never showed, changes that never showed, room errors shown to anyone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import threading
import time

import interaction
from classroom import dump_stacks, percentile, tracebacks
from scripts.browser import ROOT, chromium, free_port, running_app, start_class, wait_until_rendered
from scripts.streamlit_client import StreamlitSession

CLIENT_NICE = 15  # below the workers' (engine.runtime.processes.WORKER_NICE)
JOIN_GAP_S = 0.3  # students do not all press Enter in the same millisecond
LAND_TIMEOUT_S = 90.0
WATCH_S = 30.0  # how long the class view is watched
WATCH_MARGIN_S = 2.0
PLAYGROUND = next(script for script in interaction.PAGES if script.path == "playground")
# The class view's loss curves: each trace is a student's run; its hover text says "Name · step N · status".
VIEW_STEPS_JS = """() => {
    const plot = document.querySelector('.st-key-class_curves .js-plotly-plot');
    if (!plot || !plot.data) return {};
    const steps = {};
    for (const trace of plot.data) {
        const match = /·\\s*step\\s*([\\d,]+)/.exec((trace.text || [''])[0] || '');
        if (match) steps[trace.name] = parseInt(match[1].replace(/,/g, ''));
    }
    return steps;
}"""
_NAME = re.compile(r"In class \*\*\w+\*\* as \*\*([^*]+)\*\*")


class Class:
    """The students: light clients in an asyncio loop of their own thread (the teacher's Playwright is sync)."""

    def __init__(self, url: str, code: str, n: int):
        self.url, self.code, self.n = url, code, n
        self.shown: dict[str, list[tuple[float, int]]] = {}  # session -> (when, step) each time its Step changed
        self.names: dict[str, str] = {}  # session -> the student's name in the class
        self.problems: list[str] = []
        self.training = threading.Event()  # every student has landed and pressed Train (or failed to)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="students", daemon=True)

    def _seen(self, session: StreamlitSession, _path: tuple, element, now: float) -> None:
        if element.WhichOneof("type") == "metric" and element.metric.label == "Step":
            step = int(element.metric.body.replace(",", "") or 0)
            shown = self.shown.setdefault(session.name, [])
            if not shown or shown[-1][1] != step:
                shown.append((now, step))

    async def _student(self, i: int, ready: list) -> None:
        await asyncio.sleep(i * JOIN_GAP_S)
        session = StreamlitSession(self.url, name=f"student{i:02d}", on_element=self._seen)
        try:
            await session.connect()
            session.page, session.query_string = "home", f"room={self.code}"
            await session.rerun(page="home")
            # Landed: the pushed Playground's run finished (its Train button is there). Not `shown_page`: after a
            # switch_page from the server the client's page map may name the page by its title.
            await session.until(lambda s: s.button("Train") is not None and s.metric("Step") is not None
                                and s._finished_full_run == s._last_full_run, LAND_TIMEOUT_S)
            names = [m.group(1) for m in (_NAME.search(md.body) for md in session.of_type("markdown")) if m]
            self.names[session.name] = names[0] if names else "?"
            await session.click("Train")
            await session.until(lambda s: len(self.shown.get(s.name, ())) > 1, LAND_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - a student who never trained is a finding, not a crash
            self.problems.append(f"{session.name}: {type(error).__name__}: {error}")
        finally:
            ready.append(session)
            if len(ready) == self.n:
                self.training.set()
        while not self.stop.is_set():
            await asyncio.sleep(0.25)
        self.problems += [f"{session.name} on {page}: {message}" for page, message in session.exceptions]
        self.problems += [f"{session.name}: {alert}" for alert in session.alerts() if "class" in alert.lower()]
        await session.close()

    async def _run(self) -> None:
        ready: list = []
        await asyncio.gather(*(self._student(i, ready) for i in range(self.n)))


def view_latencies(shown: dict[str, list[tuple[float, int]]], names: dict[str, str],
                   views: list[tuple[float, dict[str, int]]], watch: tuple[float, float]) -> list[float]:
    """For each step a student saw during the watch, seconds until the class view showed it (or later)."""
    start, end = watch
    latencies = []
    for session, steps in shown.items():
        name = names.get(session)
        for at, step in steps:
            if not start <= at <= end - WATCH_MARGIN_S:
                continue
            seen = next((when for when, view in views if when >= at and view.get(name, -1) >= step), None)
            latencies.append((seen if seen is not None else end) - at)
    return latencies


@contextlib.contextmanager
def _clients_below_workers():
    """The clients (the students and the teacher's Chromium) share the server's two cores here; in a class they
    run on the students' own machines. From here on this thread, and what it starts (Chromium, the students'
    thread), runs below the workers' priority, so the clients take what the server and its workers leave; the
    server, started before, keeps its own (Linux keeps a nice value per thread)."""
    os.nice(CLIENT_NICE)
    yield


def run_room(n: int, workers: int) -> dict:
    port = free_port()
    problems: list[str] = []
    env = {"GRADSCAPE_JOBS": "processes", "GRADSCAPE_WORKERS": str(workers)}
    with running_app(port, env=env) as (url, process), _clients_below_workers(), chromium(1400, 1000) as browser:
        teacher = browser.new_page()
        # What the teacher's browser said (a page whose every later change never showed looked alive)
        said: list[str] = []
        teacher.on("console", lambda message: said.append(f"console {message.type}: {message.text[:300]}")
                   if message.type in ("error", "warning") else None)
        teacher.on("pageerror", lambda error: said.append(f"page error: {str(error)[:300]}"))
        teacher.on("websocket", lambda socket: socket.on("close", lambda _: said.append(
            f"websocket closed at {time.monotonic():.1f}: {socket.url}")))
        # ... and its last websocket frames: whether its clicks went out, and whether anything came back
        frames: collections.deque = collections.deque(maxlen=40)
        cdp = teacher.context.new_cdp_session(teacher)
        cdp.send("Network.enable")
        for event, arrow in (("Network.webSocketFrameSent", ">"), ("Network.webSocketFrameReceived", "<")):
            cdp.on(event, lambda e, arrow=arrow: frames.append(
                f"{e['timestamp']:.1f} {arrow} {len(e['response']['payloadData'])} B"))
        teacher.goto(f"{url}/playground")
        wait_until_rendered(teacher)
        side = teacher.locator("[data-testid=stSidebar]")
        _link, code = start_class(teacher)
        students = Class(url, code, n)
        students.thread.start()
        if not students.training.wait(n * JOIN_GAP_S + 2 * LAND_TIMEOUT_S):
            problems.append("the students did not all land and train in time")
        print(f"room {code}: {len(students.names)} of {n} students landed on the pushed page and train", flush=True)

        def stuck() -> None:  # the first change that never showed: what the page and the server were doing
            teacher.screenshot(path=str(ROOT / "artifacts" / "classroom-room-teacher-stuck.png"), full_page=True)
            print(f"the teacher's browser said ({time.monotonic():.1f}):", *said[-20:], sep="\n  ", flush=True)
            print("its last websocket frames (CDP's clock; > sent, < received):", *frames, sep="\n  ", flush=True)
            dump_stacks(process.pid)

        changes = interaction.timed_changes(teacher, PLAYGROUND, training=True, reload=False, on_timeout=stuck)
        problems += [f"a teacher's change never showed ({interaction.TIMEOUT_S:g} s)" for t in changes
                     if t >= interaction.TIMEOUT_S]
        print(f"teacher's changes while the class trains: {[round(t, 2) for t in changes]}", flush=True)

        views, started = [], time.monotonic()
        try:
            side.get_by_text("Class view").click()
            teacher.wait_for_url(re.compile(r"/class"), timeout=30_000)
            teacher.wait_for_function(f"() => Object.keys(({VIEW_STEPS_JS})()).length > 0", timeout=60_000)
            started = time.monotonic()
            while time.monotonic() < started + WATCH_S:
                views.append((time.monotonic(), teacher.evaluate(VIEW_STEPS_JS)))
                time.sleep(0.1)
        except Exception as error:  # noqa: BLE001 - a class view that never showed is the finding
            problems.append(f"class view: {type(error).__name__}: {str(error).splitlines()[0]}")
            teacher.screenshot(path=str(ROOT / "artifacts" / "classroom-room-view.png"))
        watch = (started, time.monotonic())
        students.stop.set()
        students.thread.join(60)
        in_view = len(views[-1][1]) if views else 0
        print(f"class view: {in_view} runs shown at the end of the watch", flush=True)
    problems += students.problems
    problems += [f"server traceback: {line}" for line in tracebacks(port)]
    latencies = view_latencies(students.shown, students.names, views, watch)
    for line in problems[:12]:
        print("  !", line)
    view_p95, change_p95 = percentile(latencies, 0.95), percentile(changes, 0.95)
    print(f"class view: {len(latencies)} student steps timed, median "
          f"{sorted(latencies)[len(latencies) // 2] if latencies else float('nan'):.2f} s, p95 "
          f"{view_p95 if view_p95 is not None else float('nan'):.2f} s; teacher's changes p95 "
          f"{change_p95 if change_p95 is not None else float('nan'):.2f} s")
    return {"students": n, "students_landed": len(students.names), "runs_in_view": in_view,
            "errors": len(problems), "room_view_p95_s": None if view_p95 is None else round(view_p95, 3),
            "teacher_interaction_p95_s": None if change_p95 is None else round(change_p95, 3)}


def main(n: int, workers: int) -> None:
    print(json.dumps(run_room(n, workers)))
