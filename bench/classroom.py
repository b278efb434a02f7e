"""A classroom on one server: N students train at once (issue 9, "Load"). With `--room`, one class room
(issue 22): a teacher leads 30 students (bench/classroom_room.py).

Starts the app with `streamlit run app.py` on a free port and opens N
concurrent sessions (N = 20; `--sessions N` or GRADSCAPE_CLASSROOM_SESSIONS),
its jobs training where `--jobs threads|processes` says (engine.runtime.hosts).
Each opens the Network Playground with its own seed (?pg_seed=100+i), presses
Train, then opens every other page of ui.catalog.PAGES in turn (pressing Train
there and Pause before leaving, where the page has its own job), and comes back
to the Playground, whose job has trained on in the background all along.

Clients: a hybrid. The N load sessions are light clients
(scripts/streamlit_client.py) that speak Streamlit's own websocket protocol:
the same rerun requests, button triggers and fragment auto-reruns as the
frontend, all from one asyncio thread. N headless Chromium tabs would each run
a renderer drawing Plotly once a second, and on a two-core machine they would
take the cores from the server under test, so the bench would measure the
browsers. One real Chromium (scripts/browser.py) is used where the rendering
is the point: the live-UI cost of one session alone.

The tour is bounded: no student opens a new page after TOUR_S (120 s), then
each ends on the Playground, so an overloaded server gives failed loads and
slow clicks, not a bench that never ends. Whole run: about 5 minutes.

Measured (last line, one JSON object):
- errors: exception elements any session received (stException), tracebacks in
  the servers' logs, failed page loads, clicks whose update did not come within
  30 s, starts beyond the cap that did not get the JobLimitReached message;
- isolation_ok: every status line a session saw names its own seed (or the
  page's default 0, never another student's), the Playground's losses at step 0
  equal what the engine computes here for that seed, and no step counter ever
  went back;
- p95_click_to_update_s: from sending Train until the Step counter shown is
  higher than at the click, and from sending Pause until the page shows it
  paused (when the message arrives; a browser paints it within a frame). A
  click that got no update counts at its timeout;
- jobs_running_peak: the most jobs the sessions saw training at one moment (per
  session, the jobs it pressed Train for whose status line says training), to
  compare with the cap (GRADSCAPE_MAX_RUNNING_JOBS, 80 a process). A second phase restarts
  the server with the cap at 3: the starts beyond it must get the clear message
  (not a hang), and a Pause must free a slot;
- page_load_p95_s: from asking for a page until its first chart arrives (the
  run's end is printed too);
- processes_baseline / processes_after_close, worker_threads_baseline /
  worker_threads_after_close: with `--jobs processes` (`--workers 2`), the
  server's worker processes and all their threads after the warm-up and after
  every tab closed (a closed tab's jobs end in their worker);
- threads_baseline: the server's OS threads after one warm-up session came and
  went (before any client it has fewer: the first connection starts 3 pool
  threads and the first training job 1, which it keeps for good; printed too);
  threads_after_close: after all N closed and server.disconnectedSessionTTL;
- rss_peak_mb: the server's VmHWM; steps_per_s_min_session: the slowest
  session's Playground job, from its first step seen to its last (it trains on
  while the student visits the other pages);
- live_ui_ratio: one session alone, steps/s of the Playground's default job with
  the page open and live-updating in Chromium, over the same job trained by the
  engine in this process with no page open (same torch thread settings),
  interleaved, medians. The same page in the light client is printed too: that
  is the server's share of the cost, without a renderer on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.playground.config import PlaygroundConfig  # noqa: E402
from engine.playground.trainer import PlaygroundJob  # noqa: E402
from engine.runtime.cap import DEFAULT_LIMIT  # noqa: E402
from engine.runtime.processes import workers_of  # noqa: E402
from scripts.browser import ROOT, chromium, free_port, running_app, step_counter, wait_until_rendered  # noqa: E402
from scripts.streamlit_client import StreamlitSession  # noqa: E402
from ui.catalog import PAGES  # noqa: E402

PLAYGROUND = "playground"
SEED_BASE = 100  # session i trains seed 100 + i; 0 is every page's default
ARRIVAL_GAP_S = 0.3  # students do not all press Enter in the same millisecond
DWELL_S = 4.0  # time spent watching a page after its first live update
TOUR_S = 120.0  # no student opens a new page after this; the tour then ends with the Playground
FINAL_VISIT_S = 45.0  # the time the last Playground visit may take beyond TOUR_S
UPDATE_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 60.0
CAP_PHASE_LIMIT = 3
LIVE_WINDOW_S = 6.0
LIVE_ROUNDS = 3
CLOSE_GRACE_S = 60.0  # after the TTL, how long the server may take to end the closed sessions' threads


def _ttl_s() -> float:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return float(config.get("server", {}).get("disconnectedSessionTTL", 120))


def _cap() -> int:
    try:
        return max(1, int(os.environ.get("GRADSCAPE_MAX_RUNNING_JOBS", str(DEFAULT_LIMIT))))
    except ValueError:
        return DEFAULT_LIMIT


def _int(text: str | None) -> int | None:
    try:
        return int(text.replace(",", "")) if text is not None else None
    except ValueError:
        return None


# ------------------------------------------------------------------ server side
def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def worker_threads(pid: int) -> int:
    """Threads in all the server's workers: every job trains in one of its worker's threads."""
    total = 0
    for worker in workers_of(pid):
        try:
            total += threads(worker)
        except OSError:  # ended meanwhile
            pass
    return total


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def settled_threads(pid: int, timeout_s: float, quiet_s: float = 10.0) -> int:
    """The server's thread count once it has not changed for `quiet_s` seconds."""
    deadline, last, since = time.monotonic() + timeout_s, threads(pid), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = threads(pid)
        if now != last:
            last, since = now, time.monotonic()
    return last


def tracebacks(port: int) -> list[str]:
    log = ROOT / "artifacts" / f"streamlit-{port}.log"
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            tail = next((lines[j] for j in range(i + 1, min(i + 80, len(lines)))
                         if lines[j] and not lines[j].startswith(" ")), "?")
            found.append(tail)
    return found


# ------------------------------------------------------------------- recording
@dataclasses.dataclass
class Classroom:
    seeds: dict[str, int]  # session name -> its seed
    expected_losses: dict[int, tuple[str, str]]  # seed -> (train, test) loss at step 0, as the page prints them
    clicks: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)  # (session, what, seconds)
    loads: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)
    first_charts: list[float] = dataclasses.field(default_factory=list)  # navigation -> the page's first chart
    problems: list[str] = dataclasses.field(default_factory=list)  # each one counts as an error
    isolation: list[str] = dataclasses.field(default_factory=list)  # each one breaks isolation
    running: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # session -> pages training
    running_peak: int = 0
    playground_steps: dict[str, list[tuple[float, int]]] = dataclasses.field(default_factory=dict)
    last_step: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    pressed: set[tuple[str, str]] = dataclasses.field(default_factory=set)  # (session, page) where Train was pressed
    sessions: list[StreamlitSession] = dataclasses.field(default_factory=list)
    deadline: float = math.inf  # no new page is opened after this (monotonic time)
    skipped: int = 0  # page visits left out because the tour ran out of time
    server_pid: int = 0
    stacks_dumped: bool = False  # the server's threads, printed at the first click that never showed

    def mark_running(self, session: str, page: str, training: bool) -> None:
        pages = self.running.setdefault(session, set())
        (pages.add if training else pages.discard)(page)
        self.running_peak = max(self.running_peak, sum(len(p) for p in self.running.values()))

    def watch(self, session: StreamlitSession, path: tuple, element, at: float) -> None:
        """Every element a session receives: seeds and step counters must be its own."""
        kind = element.WhichOneof("type")
        page = session.shown_page
        if kind == "markdown" and "Status: **" in element.markdown.body:
            line = session.status_line()
            own = self.seeds[session.name]
            if line is not None and line.seed not in (own, 0, None):
                self.isolation.append(f"{session.name} (seed {own}) saw seed {line.seed} on {page}")
            if line is not None and (session.name, page) in self.pressed:
                self.mark_running(session.name, page, line.status == "training")
        elif kind == "metric" and element.metric.label == "Step":
            step = _int(element.metric.body)
            if step is None:
                return
            key = (session.name, page)
            if step < self.last_step.get(key, 0):
                self.isolation.append(f"{session.name}: step went back {self.last_step[key]} -> {step} on {page}")
            self.last_step[key] = step
            if page == PLAYGROUND:
                self.playground_steps.setdefault(session.name, []).append((at, step))


def expected_losses(seeds: list[int]) -> dict[int, tuple[str, str]]:
    """The Playground's train and test loss at step 0 for each seed, computed by the engine here."""
    base = PlaygroundConfig()
    found = {}
    for seed in seeds:
        config = dataclasses.replace(base, data=dataclasses.replace(base.data, seed=seed))
        job = PlaygroundJob(config, seed=seed)
        try:
            snap = job.snapshot()
            found[seed] = (f"{snap.latest('train_loss'):.4f}", f"{snap.latest('test_loss'):.4f}")
        finally:
            job.stop()
    return found


# -------------------------------------------------------------------- students
def _left(room: Classroom, cap_s: float) -> float:
    """A wait's timeout: at most `cap_s`, and never far past the end of the tour."""
    return max(5.0, min(cap_s, room.deadline + FINAL_VISIT_S - time.monotonic()))


async def _click_until(session: StreamlitSession, room: Classroom, label: str, what: str, done) -> bool:
    if label == "Train":
        room.pressed.add((session.name, session.shown_page))
    timeout = _left(room, UPDATE_TIMEOUT_S)
    try:
        sent = await session.click(label)
        seen = await session.until(done, timeout)
    except LookupError as error:
        room.problems.append(f"{session.name}: {what} on {session.page}: {error}")
        return False
    except TimeoutError:
        shown = ", ".join(b.label for b in session.of_type("button") if b.label in ("Train", "Pause"))
        room.problems.append(f"{session.name}: {what} on {session.page}: no update within {timeout:.0f} s "
                             f"(showing: status {_status(session) or '?'}, step {_step(session)}, "
                             f"button {shown or '?'})")
        room.clicks.append((session.name, f"{what}@{session.page}", timeout))  # censored: at least this long
        print(f"{session.name}: {what} on {session.page} timed out; its last messages:", *session.recent,
              sep="\n  ", file=sys.stderr)
        if not room.stacks_dumped:
            room.stacks_dumped = True
            await asyncio.to_thread(dump_stacks, room.server_pid)
        return False
    room.clicks.append((session.name, f"{what}@{session.page}", seen - sent))
    return True


def dump_stacks(pid: int) -> None:
    """What every thread of the server and its workers is doing (py-spy, where installed), to stderr."""
    if shutil.which("py-spy") is None:
        return
    for process in (pid, *workers_of(pid)):
        dump = subprocess.run(["py-spy", "dump", "--pid", str(process)], capture_output=True, text=True,  # noqa: S603,S607
                              timeout=60, check=False)
        print(f"py-spy dump of {process}:", dump.stdout, dump.stderr, sep="\n", file=sys.stderr)


async def _open(session: StreamlitSession, room: Classroom, page: str, query: str = "") -> bool:
    load = await session.open(page, query, timeout=_left(room, LOAD_TIMEOUT_S))
    room.loads.append((session.name, page, load.seconds))
    if load.first_chart_s is not None:
        room.first_charts.append(load.first_chart_s)
    if not load.ok:
        room.problems.append(f"{session.name}: {page} did not load: {load.problem}")
    return load.ok


def _status(session: StreamlitSession) -> str:
    line = session.status_line()
    return line.status if line is not None else ""


def _training(session: StreamlitSession) -> bool:
    return _status(session) == "training"


def _step(session: StreamlitSession) -> int:
    return _int(session.metric("Step")) or 0


async def _step_moves(session: StreamlitSession, room: Classroom) -> bool:
    before = _step(session)
    try:
        await session.until(lambda s: _step(s) > before, _left(room, UPDATE_TIMEOUT_S))
    except TimeoutError:
        return False
    return True


async def _train_here(session: StreamlitSession, room: Classroom) -> None:
    """Press Train, wait for the step counter to move; watch; press Pause, wait for it to show."""
    before = _step(session)
    if not await _click_until(session, room, "Train", "train", lambda s: _step(s) > before and _training(s)):
        room.problems.extend(f"{session.name}: {a}" for a in session.alerts() if "limit" in a)
    await asyncio.sleep(DWELL_S)
    if _training(session):
        await _click_until(session, room, "Pause", "pause",
                           lambda s: s.button("Train") is not None and _status(s) == "paused")


async def student(index: int, url: str, room: Classroom, pages: list[str]) -> StreamlitSession:
    """Playground with its own seed, Train; every other page in turn; back to the Playground."""
    name = f"s{index:02d}"
    seed = room.seeds[name]
    await asyncio.sleep(index * ARRIVAL_GAP_S)
    session = StreamlitSession(url, name, on_element=room.watch)
    room.sessions.append(session)
    await session.connect()
    if not await _open(session, room, PLAYGROUND, f"pg_seed={seed}"):
        return session
    shown = (session.metric("Train loss"), session.metric("Test loss"))
    if session.metric("Step") == "0" and shown != room.expected_losses[seed]:
        room.isolation.append(f"{name}: step-0 losses {shown}, the engine gives {room.expected_losses[seed]} "
                              f"for seed {seed}")
    await _click_until(session, room, "Train", "train", lambda s: _step(s) > 0 and _training(s))
    await asyncio.sleep(DWELL_S)
    for page in pages:
        if time.monotonic() > room.deadline:
            room.skipped += 1
            continue
        if not await _open(session, room, page):
            continue
        await asyncio.sleep(0.5)  # a shared job may show its first live refresh
        if session.button("Train") is not None:
            await _train_here(session, room)
        elif session.metric("Step") is not None:  # another page's job, shown live here: it must move
            if not await _step_moves(session, room):
                room.problems.append(f"{name}: the step counter on {page} did not move")
            await asyncio.sleep(DWELL_S)
        else:
            await asyncio.sleep(DWELL_S)
    if await _open(session, room, PLAYGROUND) and not await _step_moves(session, room):
        room.problems.append(f"{name}: back on the Playground, its step counter did not move")
    return session


async def _student_safely(index: int, url: str, room: Classroom, pages: list[str]) -> None:
    try:
        await student(index, url, room, pages)
    except Exception as error:  # a dropped connection, a protocol surprise: count it, keep the others going
        room.problems.append(f"s{index:02d}: {type(error).__name__}: {error}")


async def run_classroom(url: str, room: Classroom, n: int, pages: list[str], pid: int) -> dict[str, float]:
    """All students through their tour; returns the server's memory just before they all close."""
    await asyncio.gather(*(_student_safely(i, url, room, pages) for i in range(n)))
    for session in room.sessions:
        room.problems.extend(f"{session.name}: exception on {page}: {text[:160]}" for page, text in session.exceptions)
        room.problems.extend(f"{session.name}: page not found: {page}" for page in session.page_not_found)
    memory = memory_mb(pid)
    await close_all(room.sessions)
    return memory


async def close_all(sessions: list[StreamlitSession]) -> None:
    await asyncio.gather(*(session.close() for session in sessions))


async def warm_up(url: str) -> None:
    """One session opens the Playground, trains a moment and leaves: the server starts the thread pools
    it keeps for its whole life (measured: 3 with the first connection, 1 with the first training job)."""
    session = StreamlitSession(url, "warm-up")
    await session.connect()
    try:
        if (await session.open(PLAYGROUND, timeout=LOAD_TIMEOUT_S)).ok:
            await session.click("Train")
            await session.until(lambda s: _step(s) > 0, UPDATE_TIMEOUT_S)
    finally:
        await session.close()


def steps_per_second(samples: list[tuple[float, int]]) -> float:
    """Over everything a session saw of its Playground job, from the first step to the last."""
    moving = [(t, s) for t, s in samples if s > 0]
    if len(moving) < 2 or moving[-1][0] <= moving[0][0]:
        return 0.0
    return (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0])


# -------------------------------------------------------------- live UI cost
def _rate(samples: list[tuple[float, int]]) -> float:
    """Steps/s between the first and the last change of a step counter."""
    changes = samples[:1] + [b for a, b in zip(samples, samples[1:]) if b[1] != a[1]]
    if len(changes) < 2 or changes[-1][0] <= changes[0][0]:
        return 0.0
    return (changes[-1][1] - changes[0][1]) / (changes[-1][0] - changes[0][0])


def _sample(read, seconds: float) -> float:
    samples, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        step = read()
        if step is not None:
            samples.append((time.monotonic(), step))
        time.sleep(0.05)
    return _rate(samples)


def engine_only_rate(seconds: float) -> float:
    job = PlaygroundJob(PlaygroundConfig(), seed=0)  # what the page builds with no query parameters
    try:
        job.wait_applied(job.play())
        time.sleep(1.0)  # the same warm-up the page rounds get
        return _sample(lambda: job.snapshot().step, seconds)
    finally:
        job.stop()


def _rerendered(page) -> None:
    time.sleep(0.5)
    wait_until_rendered(page)


def browser_rate(page, seconds: float) -> float:
    page.get_by_role("button", name="Reset").first.click()  # every round starts from step 0
    _rerendered(page)
    page.get_by_role("button", name="Train").first.click()
    deadline = time.monotonic() + UPDATE_TIMEOUT_S
    while (step_counter(page) or 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    rate = _sample(lambda: step_counter(page), seconds)
    page.get_by_role("button", name="Pause").first.click()
    _rerendered(page)
    return rate


async def light_rate(session: StreamlitSession, seconds: float) -> float:
    """The same round through the light client: the server's side of the live UI, without a renderer."""
    await session.click("Reset")
    await session.until(lambda s: s.button("Train") is not None and _step(s) == 0, UPDATE_TIMEOUT_S)
    await session.click("Train")
    await session.until(lambda s: _step(s) > 0, UPDATE_TIMEOUT_S)
    await asyncio.sleep(1.0)
    samples: list[tuple[float, int]] = []
    session.on_element = lambda s, path, element, at: samples.append((at, _step(s))) \
        if element.WhichOneof("type") == "metric" and element.metric.label == "Step" else None
    await asyncio.sleep(seconds)
    session.on_element = None
    await session.click("Pause")
    await session.until(lambda s: s.button("Train") is not None, UPDATE_TIMEOUT_S)
    return _rate(samples)


async def _light_rounds(url: str, seconds: float) -> list[float]:
    session = StreamlitSession(url, "live-ui")
    await session.connect()
    try:
        await session.open(PLAYGROUND, timeout=LOAD_TIMEOUT_S)
        return [await light_rate(session, seconds) for _ in range(LIVE_ROUNDS)]
    finally:
        await session.close()


def live_ui(url: str) -> dict[str, list[float] | int]:
    """Rounds of engine only / Chromium / light client, interleaved so background load hits all alike."""
    engine, browser = [], []
    with chromium() as context:
        page = context.new_page()
        page.goto(f"{url}/{PLAYGROUND}", timeout=LOAD_TIMEOUT_S * 1000)
        wait_until_rendered(page, LOAD_TIMEOUT_S)
        for _ in range(LIVE_ROUNDS):
            engine.append(engine_only_rate(LIVE_WINDOW_S))
            browser.append(browser_rate(page, LIVE_WINDOW_S))
        exceptions = page.locator("[data-testid=stException]").count()
        page.close()
    light = asyncio.run(_light_rounds(url, LIVE_WINDOW_S))
    engine.append(engine_only_rate(LIVE_WINDOW_S))
    return {"engine": engine, "browser": browser, "light": light, "exceptions": exceptions}


# ------------------------------------------------------------------ the cap
async def cap_phase(url: str, limit: int) -> tuple[list[str], dict]:
    """limit + 2 sessions press Train: the extra ones get the message, not a hang; a Pause frees a slot."""
    problems: list[str] = []
    sessions = [StreamlitSession(url, f"c{i}") for i in range(limit + 2)]
    refused_after: list[float] = []
    try:
        await asyncio.gather(*(session.connect() for session in sessions))
        loads = await asyncio.gather(*(session.open(PLAYGROUND, f"pg_seed={SEED_BASE + i}", timeout=LOAD_TIMEOUT_S)
                                       for i, session in enumerate(sessions)))
        for session, load in zip(sessions, loads):
            if not load.ok:
                problems.append(f"cap phase: {session.name} did not load: {load.problem}")
        if problems:
            return problems, {}
        for i, session in enumerate(sessions):
            sent = await session.click("Train")
            if i < limit:
                await session.until(_training, UPDATE_TIMEOUT_S)
                continue
            seen = await session.until(lambda s: any("limit" in a for a in s.alerts()), UPDATE_TIMEOUT_S)
            refused_after.append(seen - sent)
            # The message comes above the live area; the status line is read once that run has drawn it too.
            await session.until(lambda s: s.status_line() is not None, UPDATE_TIMEOUT_S)
            if _status(session) != "ready":
                problems.append(f"cap phase: {session.name} trains beyond the cap of {limit}")
        message = next(a for a in sessions[limit].alerts() if "limit" in a)
        await sessions[0].click("Pause")
        await sessions[0].until(lambda s: _status(s) == "paused", UPDATE_TIMEOUT_S)
        await sessions[limit].click("Train")
        await sessions[limit].until(_training, UPDATE_TIMEOUT_S)
    except (TimeoutError, LookupError, StopIteration) as error:
        problems.append(f"cap phase: {type(error).__name__}: {error}")
        return problems, {}
    finally:
        for session in sessions:
            problems.extend(f"cap phase: {session.name}: exception: {text[:160]}" for _, text in session.exceptions)
        await close_all(sessions)
    return problems, {"cap": limit, "refused": len(refused_after), "message_after_s": round(max(refused_after), 2),
                      "message": message, "slot_freed_by_pause": True}


# ------------------------------------------------------------------------ main
def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=None,
                        help="students (default 20, or GRADSCAPE_CLASSROOM_SESSIONS; 30 with --room)")
    parser.add_argument("--room", action="store_true",
                        help="a class room instead: a teacher in Chromium and the students in one room "
                             "(bench/classroom_room.py)")
    parser.add_argument("--jobs", choices=("threads", "processes"), default="threads",
                        help="where the server trains its jobs (engine.runtime.hosts)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, with --jobs processes")
    args = parser.parse_args()
    if args.room:
        import classroom_room  # this folder is on the path: the bench runs as a script

        classroom_room.main(args.sessions or 30, args.workers)
        return
    n = args.sessions or int(os.environ.get("GRADSCAPE_CLASSROOM_SESSIONS", "20"))
    host = {"GRADSCAPE_JOBS": args.jobs, "GRADSCAPE_WORKERS": str(args.workers)}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    started = time.monotonic()
    pages = [info.url_path for info in PAGES if info.url_path != PLAYGROUND]
    seeds = {f"s{i:02d}": SEED_BASE + i for i in range(n)}
    room = Classroom(seeds, expected_losses(list(seeds.values())))
    cap, ttl = _cap(), _ttl_s()

    port = free_port()
    with running_app(port, env={"GRADSCAPE_MAX_RUNNING_JOBS": str(cap), **host}) as (url, process):
        pid = room.server_pid = process.pid
        cold = settled_threads(pid, timeout_s=20, quiet_s=3)
        asyncio.run(warm_up(url))
        time.sleep(ttl + 1)
        baseline = settled_threads(pid, timeout_s=60, quiet_s=5)
        processes_baseline, worker_threads_baseline = len(workers_of(pid)), worker_threads(pid)
        tour_started, cpu_before, load_before = time.monotonic(), cpu_seconds(pid), os.getloadavg()[0]
        room.deadline = tour_started + TOUR_S
        memory = asyncio.run(run_classroom(url, room, n, pages, pid))
        tour_s = time.monotonic() - tour_started
        server_cores = (cpu_seconds(pid) - cpu_before) / tour_s
        closed_at = time.monotonic()
        time.sleep(ttl + 1)  # the sessions are released (and their jobs stopped) once this has passed
        while (threads(pid) > baseline or worker_threads(pid) > worker_threads_baseline) \
                and time.monotonic() < closed_at + ttl + CLOSE_GRACE_S:
            time.sleep(0.5)
        back_after = time.monotonic() - closed_at
        after_close = settled_threads(pid, timeout_s=30, quiet_s=5)
        processes_after_close, worker_threads_after_close = len(workers_of(pid)), worker_threads(pid)
        print(f"classroom: {n} sessions, tour {tour_s:.0f} s, {room.skipped} page visits left out for time; "
              f"server used {server_cores:.2f} cores (machine load average {load_before:.1f} -> "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"server threads: {cold} before any client, {baseline} after one warm-up session (the pools it "
              f"keeps), {after_close} after all {n} closed (TTL {ttl:.0f} s; waited {back_after:.0f} s for it); "
              f"RSS {memory.get('VmRSS', 0):.0f} MB, peak {memory.get('VmHWM', 0):.0f} MB")
        print(f"jobs train in {args.jobs}: worker processes {processes_baseline} after the warm-up, "
              f"{processes_after_close} after all closed; their threads {worker_threads_baseline} -> "
              f"{worker_threads_after_close}")
        try:
            live = live_ui(url)
        except Exception as error:  # the page did not load or answer in time: a failed load
            room.problems.append(f"live UI: {type(error).__name__}: {str(error).splitlines()[0]}")
            live = {"engine": [0.0], "browser": [0.0], "light": [0.0], "exceptions": 0}
        if live["exceptions"]:
            room.problems.append(f"live UI: {live['exceptions']} stException in Chromium")
    room.problems.extend(f"server traceback: {line}" for line in tracebacks(port))

    cap_port = free_port()
    # One worker with processes: the cap is per worker, and this phase asks what a start beyond it gets.
    cap_env = {"GRADSCAPE_MAX_RUNNING_JOBS": str(CAP_PHASE_LIMIT), **host, "GRADSCAPE_WORKERS": "1"}
    with running_app(cap_port, env=cap_env) as (cap_url, _):
        cap_problems, cap_result = asyncio.run(cap_phase(cap_url, CAP_PHASE_LIMIT))
    room.problems.extend(cap_problems)
    room.problems.extend(f"server traceback (cap phase): {line}" for line in tracebacks(cap_port))

    click_s = [seconds for _, _, seconds in room.clicks]
    load_s = [seconds for _, _, seconds in room.loads]
    rates = {name: steps_per_second(room.playground_steps.get(name, [])) for name in seeds}
    by_kind: dict[str, list[float]] = {}
    for _, what, seconds in room.clicks:
        by_kind.setdefault(what, []).append(seconds)
    print(f"clicks: {len(click_s)} (timed-out ones counted at their timeout), median "
          f"{_seconds(statistics.median(click_s) if click_s else None)}, p95 {_seconds(percentile(click_s, 0.95))}; "
          + "; ".join(f"{what} n={len(v)} p95 {_seconds(percentile(v, 0.95))}" for what, v in sorted(by_kind.items())))
    print(f"page loads: {len(load_s)}, median {_seconds(statistics.median(load_s) if load_s else None)}, "
          f"p95 {_seconds(percentile(load_s, 0.95))} to the end of the run; to the first chart: median "
          f"{_seconds(statistics.median(room.first_charts) if room.first_charts else None)}, "
          f"p95 {_seconds(percentile(room.first_charts, 0.95))}")
    print(f"Playground steps/s per session: min {min(rates.values()):.0f}, median "
          f"{statistics.median(rates.values()):.0f}, max {max(rates.values()):.0f}")
    print(f"jobs running peak {room.running_peak} (cap {cap}); cap phase: {json.dumps(cap_result)}")
    engine_s, browser_s, light_s = (statistics.median(live[k]) for k in ("engine", "browser", "light"))
    print(f"live UI, steps/s: engine only {[round(r) for r in live['engine']]}, page live in Chromium "
          f"{[round(r) for r in live['browser']]}, page live in the light client {[round(r) for r in live['light']]}"
          f" (light/engine {light_s / engine_s if engine_s else 0:.2f})")
    (ROOT / "artifacts" / "classroom-problems.txt").write_text("\n".join(room.problems + room.isolation) + "\n")
    for line in room.problems[:12] + room.isolation[:12]:
        print("  !", line)
    if len(room.problems) > 12:
        print(f"  ! ... {len(room.problems) - 12} more (all in artifacts/classroom-problems.txt)")
    print(f"total {time.monotonic() - started:.0f} s")
    p95, load_p95 = percentile(click_s, 0.95), percentile(room.first_charts, 0.95)
    print(json.dumps({
        "sessions": n,
        "jobs": args.jobs,
        "errors": len(room.problems),
        "isolation_ok": not room.isolation,
        "p95_click_to_update_s": None if p95 is None else round(p95, 3),
        "jobs_running_peak": room.running_peak,
        "threads_after_close": after_close,
        "threads_baseline": baseline,
        "processes_after_close": processes_after_close,
        "processes_baseline": processes_baseline,
        "worker_threads_after_close": worker_threads_after_close,
        "worker_threads_baseline": worker_threads_baseline,
        "page_load_p95_s": None if load_p95 is None else round(load_p95, 3),
        "rss_peak_mb": round(memory.get("VmHWM", 0.0), 1),
        "steps_per_s_min_session": round(min(rates.values()), 1),
        "live_ui_ratio": round(browser_s / engine_s, 3) if engine_s else 0.0,
    }))


if __name__ == "__main__":
    main()
