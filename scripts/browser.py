"""Start the app headless and drive it in Debian's Chromium (shared by the browser tests
and the screenshots command)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GRADSCAPE_CHROMIUM", "/usr/bin/chromium")
# As root in a container Chromium needs --no-sandbox; the network flags stop it from
# calling home, which a closed network answers with floods of refused connections.
PLOTLY_LAYOUT_LOOP = "Too many auto-margin redraws"  # plotly.js's console warning when it gives up on margins
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(port: int | None = None, env: dict[str, str] | None = None,
                script: str = "app.py") -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` (or another `script`) on a free local port; yields (base URL, process) and stops
    it afterwards."""
    port = port or free_port()
    log = open(ROOT / "artifacts" / f"streamlit-{port}.log", "w") if (ROOT / "artifacts").is_dir() else \
        subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - a fixed command line: this Python running streamlit on app.py
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start; see artifacts/streamlit-*.log")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not subprocess.DEVNULL:
            log.close()


@contextlib.contextmanager
def chromium(width: int = 1500, height: int = 1000, allow_layout_loops: bool = False):
    """A Playwright browser context on Debian's Chromium (Playwright's own download is not used).

    A chart that plotly.js redraws again and again looking for margins that fit (it then logs "Too many
    auto-margin redraws": seconds of a frozen tab) fails the block that showed it, unless `allow_layout_loops`
    (a benchmark counts them instead: the context's `layout_loops` lists the pages' addresses)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.layout_loops = []
            context.on("console", lambda message: context.layout_loops.append(message.page and message.page.url)
                       if PLOTLY_LAYOUT_LOOP in message.text else None)
            yield context
            if context.layout_loops and not allow_layout_loops:
                raise AssertionError(f"plotly.js redrew a chart in a loop ({PLOTLY_LAYOUT_LOOP!r}) on "
                                     f"{sorted(set(map(str, context.layout_loops)))}")
        finally:
            browser.close()


# Every chart drawn with its newest figure (ui/chart_component.js marks one still drawing, and plotly.js marks a
# drawn one js-plotly-plot; a chart component whose script has not run yet has no chart at all).
_CHARTS_DRAWN_JS = """[...document.querySelectorAll('[data-testid=stBidiComponentRegular]')]
    .every(c => c.querySelector(':scope > .gs-chart.js-plotly-plot:not([data-drawing])'))"""


def wait_until_rendered(page, timeout_s: float = 60) -> None:
    """Until Streamlit has finished its script run (no 'running' indicator) and drawn the app, its charts too."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_s * 1000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stMain] [data-testid=stElementContainer]').length > 2 && "
        f"!document.querySelector('[data-testid=stSkeleton]') && {_CHARTS_DRAWN_JS}", timeout=timeout_s * 1000)


def chart_text(page, key: str) -> str:
    """The title and annotations of the chart whose Streamlit key is `key`, as the browser drew them."""
    return " ".join(page.locator(f".st-key-{key} .gtitle, .st-key-{key} .annotation-text").all_text_contents())


def step_counter(page) -> int | None:
    """The value of the 'Step' metric of a training page, or None where the page has none."""
    metric = page.locator("[data-testid=stMetric]").filter(has=page.get_by_text("Step", exact=True)).first
    if metric.count() == 0:
        return None
    text = metric.locator("[data-testid=stMetricValue]").inner_text()
    return int(text.replace(",", ""))


# The charts shown whose margins plotly.js drew other than their layout's: what stands in a margin (labels, a
# colour bar, a legend) needed more room than viz.theme.margins_for_one_draw gave it, and plotly.js drew the
# chart a second time, at every change (20-70 ms each). "key: r 30->131" per chart.
_DRAWN_TWICE_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(d => d.offsetParent && d._fullLayout).map(d => {
        const set = d._fullLayout.margin, drawn = d._fullLayout._size;
        const moved = ['l', 'r', 't', 'b'].filter(side => Math.abs(set[side] - drawn[side]) > 0.5)
            .map(side => `${side} ${set[side]}->${Math.round(drawn[side])}`);
        const key = d.closest('[class*=st-key-]')?.className.match(/st-key-(\\S+)/)?.[1];
        return moved.length ? `${key}: ${moved.join(' ')}` : null;
    }).filter(Boolean)"""


def charts_drawn_twice(page) -> list[str]:
    """The charts on the page that plotly.js drew with other margins than their layout's (a second draw)."""
    return page.evaluate(_DRAWN_TWICE_JS)


# An animation's controls (viz.theme.frame_player) drawn over each other or over an x axis' tick labels and title:
# "key: what over what" per overlap (a pixel of slack for anti-aliasing; the slider's step labels, hidden where
# they are transparent, are left out).
_CONTROLS_OVER_JS = """() => {
    const found = [], hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    for (const d of document.querySelectorAll('.js-plotly-plot')) {
        if (!d.offsetParent) continue;
        const key = d.closest('[class*=st-key-]')?.className.match(/st-key-(\\S+)/)?.[1];
        const boxes = (what, selector) => [...d.querySelectorAll(selector)]
            .filter(e => (e.textContent || e.tagName === 'rect'))
            .map(e => [what, e.getBoundingClientRect()]).filter(([, r]) => r.width > 0 && r.height > 0);
        const buttons = boxes('a button', '.updatemenu-button');
        const slider = [...boxes("the slider's value", '.slider-group > text.slider-label'),
                        ...boxes('the slider', '.slider-rail-rect')];
        const axis = [...boxes('an x tick label', '.xtick > text'),
                      ...boxes('an x axis title', 'text[class^=x][class$=title]')];
        for (const [what, a] of [...buttons, ...slider])
            for (const [other, b] of [...(slider.some(s => s[1] === a) ? [] : slider), ...axis])
                if (hit(a, b)) found.push(`${key}: ${what} over ${other}`);
    }
    return [...new Set(found)];
}"""


def controls_over_axes(page) -> list[str]:
    """The charts whose animation buttons or slider are drawn over each other or over their x axis' labels."""
    return page.evaluate(_CONTROLS_OVER_JS)


# Every keyed element (its Streamlit key, "st-key-...") inside `scope`: the distances from the top of `scope` it
# stood at, over `seconds` of frames; collected in window.positionsAt once they are over.
_RECORD_POSITIONS_JS = """([scope, seconds]) => { const seen = {}, started = performance.now();
    window.positionsAt = null;
    const frame = () => { const box = document.querySelector(scope);
      if (box) for (const e of box.querySelectorAll('[class*="st-key-"]')) {
        const key = [...e.classList].find(c => c.startsWith('st-key-')).slice(7), rect = e.getBoundingClientRect();
        if (rect.height > 0) (seen[key] ??= new Set()).add(Math.round(rect.y - box.getBoundingClientRect().y)); }
      if (performance.now() - started < seconds * 1000) requestAnimationFrame(frame);
      else window.positionsAt = Object.fromEntries(Object.entries(seen).map(([key, ys]) => [key, [...ys]])); };
    requestAnimationFrame(frame); }"""


def record_positions(page, scope: str, seconds: float) -> None:
    """Start recording where every keyed element inside `scope` (a selector: "[data-testid=stMain]") stands at
    every frame for `seconds`; `recorded_positions` gives them. What a run or a refresh moves under the pointer
    shows as a key with more than one position (docs/CONVENTIONS.md: nothing moves under the pointer)."""
    page.evaluate(_RECORD_POSITIONS_JS, [scope, seconds])


def recorded_positions(page) -> dict[str, list[int]]:
    """Once the recording is over: each key's distinct distances from the top of the scope, in px."""
    return page.wait_for_function("() => window.positionsAt", timeout=60_000).json_value()


def train_one_epoch(page, key: str, steps: int, timeout_s: float = 60) -> int:
    """Press the page's Epoch button (`key`: its job-controls prefix, "at") and wait until the step counter
    reaches `steps`, the epoch's length; returns the step shown."""
    page.locator(f".st-key-{key}_epoch button").first.click()
    deadline = time.monotonic() + timeout_s
    while (step_counter(page) or 0) < steps and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    return step_counter(page) or 0


# Each Plotly chart on the page: its box (ui/chart_component.js's), the size Plotly drew its SVG at, and the box's
# place on the first screen (Streamlit scrolls inside its main block).
_CHART_BOXES_JS = """() => [...document.querySelectorAll('.gs-chart')].map(box => {
    const rect = box.getBoundingClientRect();
    const svg = box.querySelector('.main-svg');
    const drawn = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const keyed = box.closest('[class*=st-key-]');
    const key = keyed ? [...keyed.classList].find(c => c.startsWith('st-key-')).slice(7) : '';
    return {key, left: rect.left, top: rect.top, width: rect.width, height: rect.height,
            drawn_width: drawn.width, drawn_height: drawn.height,
            screen_width: window.innerWidth, screen_height: window.innerHeight};
})"""


def chart_boxes(page) -> list[dict]:
    """Every Plotly chart's box and drawn size (CSS pixels), for checks that a chart fits its box and the screen."""
    return page.evaluate(_CHART_BOXES_JS)


def clipped(box: dict, slack: float = 1.5) -> bool:
    """Whether Plotly drew the chart larger than the box that shows it (the box then cuts it off)."""
    return box["drawn_width"] > box["width"] + slack or box["drawn_height"] > box["height"] + slack


def on_first_screen(box: dict) -> bool:
    """Whether the whole chart is visible without scrolling."""
    return (box["width"] > 0 and box["left"] >= 0 and box["top"] >= 0
            and box["left"] + box["width"] <= box["screen_width"] + 0.5
            and box["top"] + box["height"] <= box["screen_height"] + 0.5)


def start_class(page) -> tuple[str, str]:
    """On `page` (a session on an experiment's page): start a class in the sidebar's Class panel and push the page
    to it; (the join link, the code)."""
    side = page.locator("[data-testid=stSidebar]")
    side.get_by_text("Class", exact=True).click()
    side.get_by_role("button", name="Start a class").click()
    push = side.get_by_role("button", name="Push this page to the class")
    push.wait_for(timeout=30_000)
    link = side.locator("[data-testid=stCode] code").filter(has_text="room=").first.inner_text().strip()
    code = link.rsplit("=", 1)[1]
    push.click()
    side.get_by_text(f"to class {code} (push 1)").wait_for(timeout=30_000)
    return link, code
