"""How long a user waits (issue 15): control changes and first charts, in a real browser.

Starts the app with `streamlit run app.py` and drives it in headless Chromium (Playwright on Debian's
Chromium), one user:
- per page, the first chart in a new browser context (no cache), the server warmed by one earlier session
  that opened only the home page: from navigation to the page's main chart holding data;
- per page, at least 20 control changes cycling through three values of three controls (one of them rebuilds
  the experiment: a new data set, function, task or architecture). Each is timed from the Playwright action that
  commits the value (the option click, Enter in a number box, the slider's key press) until the app's script
  state is back to notRunning AND the page's main chart holds other data than before the change;
- the same changes on the Playground while its job trains: a change must also have reset the step counter
  (the new setting is shown, not just the next tick).

Last line: one JSON object with `<page>_interaction_p95_s`, `<page>_first_chart_s`, `worst_interaction_p95_s`,
`worst_first_chart_s`, `training_interaction_p95_s` (targets: 0.5 s, 2.0 s, and 0.75 s while training),
`timeouts` (changes whose result never showed within 30 s; each counts as 30 s), `layout_loops` (charts plotly.js
redrew in a loop looking for their margins, which froze the tab for seconds; target 0), `charts_drawn_twice`
(charts, after a change, whose margins did not hold their labels, colour bar or legend: plotly.js drew them a
second time; target 0, each named), and `floor_first_chart_s`: the
first chart of an app of one small chart (bench/one_chart_app.py), measured the same way, what Streamlit's
frontend and plotly.js cost a new browser context before any page of ours runs; `floor_interaction_p95_s`: that
app's control changes (a select, a number box), timed the same way: what a change costs when the script does
nearly nothing; `cold_first_chart_s`: the Playground's first chart in the first session of a server of its own,
opened as soon as the server answers (what the first user after a server start waits).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from urllib.parse import quote

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.browser import (charts_drawn_twice, chromium, running_app, step_counter,  # noqa: E402
                             wait_until_rendered)

XOR_BY_HAND = "1, 1, 1, 1, 0, -1, 10, -20, -5"  # engine/backprop/presets.py's XOR, as its link writes it
# Texts typed on the words page's Tokens tab: each learns its own merges
WORDS_TYPED = ("the cat sat on the mat; the cats sat on the mats, and the hat sat on the cat.",
               "Lowering the lower towers: the lowest tower is lower than the newer, newest towers.",
               "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer.")
CHANGES_PER_PAGE = 21  # seven rounds of three controls
TIMEOUT_S = 30.0
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
TRAIN_TAKES_S = 12.0  # how long Train may take to turn into Pause before the bench says so and presses it again
DRAWN_TWICE: set[str] = set()  # "page: chart: r 30->131": charts plotly.js drew twice after a change (see main)

# What shows a change, hashed in the page: for each element the selector finds, a chart's data (the traces'
# coordinates and names: Plotly keeps them on its .js-plotly-plot element, and the pictures behind its axes:
# point clouds drawn on the server, viz.raster) or any other element's text (samples drawn as HTML); null while
# nothing matches, a chart has no data yet or is hidden (st.plotly_chart drew a changed chart first hidden, until
# it had measured its width: that draw showed the user nothing).
_SIGNATURE_JS = """selector => {
    const boxes = [...document.querySelectorAll(selector)];
    if (!boxes.length) return null;
    const parts = [];
    for (const box of boxes) {
        if (!box.classList.contains('js-plotly-plot')) { parts.push(box.innerText); continue; }
        if (!box.data || !box.data.length || getComputedStyle(box).visibility === 'hidden') return null;
        parts.push(box.data.map(t => [t.name, t.x, t.y, t.z, t.text]),
                   (box.layout.images || []).map(image => image.source));
    }
    const text = JSON.stringify(parts);
    let hash = 0;
    for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
    return text.length + ':' + hash;
}"""
# Idle, what shows the change changed, and (while training: stepBefore is a number) the Step metric went back
# below it, all in one check: a live refresh that lands first must not make the rebuilt chart the new "before".
_CHANGED_JS = """([selector, before, stepBefore]) => {
    if (!document.querySelector('""" + IDLE + """')) return false;
    const now = (""" + _SIGNATURE_JS + """)(selector);
    if (now === null || now === before) return false;
    if (stepBefore === null) return true;
    const metric = [...document.querySelectorAll('[data-testid=stMetric]')]
        .find(m => m.querySelector('[data-testid=stMetricLabel]')?.textContent.trim() === 'Step');
    const value = metric?.querySelector('[data-testid=stMetricValue]').textContent.replace(/,/g, '');
    const step = value === undefined ? NaN : parseInt(value);
    return step < stepBefore;
}"""

# What a page shows when a change never showed: the script's state, its metrics, its status line, its buttons.
_SHOWING_JS = """() => [document.querySelector('[data-testid=stApp]')?.dataset.testScriptState,
    ...[...document.querySelectorAll('[data-testid=stMetric]')].map(m => m.innerText.replace(/\\s+/g, ' ')),
    ...[...document.querySelectorAll('[data-testid=stCaptionContainer]')].map(c => c.innerText)
        .filter(text => text.startsWith('Status')),
    'buttons: ' + [...new Set([...document.querySelectorAll('[data-testid=stMain] button[data-testid^=stBaseButton]')]
        .map(b => b.querySelector('[data-testid=stMarkdownContainer]')?.innerText).filter(Boolean))].join(', ')]
    .join(' | ')"""


def chart(key: str) -> str:
    """The selector of the chart whose Streamlit key is `key`."""
    return f".st-key-{key} .js-plotly-plot"


@dataclass(frozen=True)
class Change:
    """A control and the values a user cycles through (as the widget shows them)."""

    key: str
    # "select"; "number" (a number or text box: typed, then Enter); "text_area" (typed, then Ctrl+Enter); "slider"
    # (arrow keys; "+" or "-": up, up, down, down visits three values); "button" (clicked; its values say nothing)
    kind: str
    values: tuple[str, ...]  # each differs from the one before it, also from the last to the first
    shows: str = ""  # a selector of what shows the result where the script's chart does not (its text compared)


@dataclass(frozen=True)
class PageScript:
    path: str  # and query: the tab that shows the result
    chart: str  # the key of the chart that shows a change's result
    changes: tuple[Change, ...]
    name: str = ""  # in the result's keys (default: the page's path); two scripts of one page need their own

    @property
    def label(self) -> str:
        return self.name or self.path.partition("?")[0]


PAGES = (
    PageScript("playground", "pg_boundary", (
        Change("pg_data", "select", ("XOR", "Two Gaussians", "Circle")),
        Change("pg_act", "select", ("ReLU", "Sigmoid", "Tanh")),
        Change("pg_layers", "slider", ("+", "+", "-", "-")))),
    PageScript("optimizers", "opt_contour", (
        Change("opt_fn", "select", ("Rosenbrock", "Himmelblau", "Quadratic")),
        Change("opt_steps", "slider", ("+", "+", "-", "-")),
        Change("opt_gd_lr", "number", ("0.5", "1", "1.5")))),
    PageScript("landscape", "ls_surface", (
        Change("ls_dirs", "select", ("Random, layer-normalized", "Random, not normalized",
                                     "Random, filter-normalized")),
        Change("ls_range", "slider", ("-", "-", "+", "+")),
        Change("ls_seed", "number", ("1", "2", "3")))),
    PageScript("gradients", "gf_activations", (
        Change("gf_act", "select", ("Tanh", "Sigmoid", "ReLU")),
        Change("gf_depth", "slider", ("-", "-", "+", "+")),
        Change("gf_seed", "number", ("1", "2", "3")))),
    PageScript("attention", "at_model_view", (
        # (An untrained model attends alike whatever the task: the architecture is what changes the picture.)
        Change("at_family", "select", ("RNN + additive attention (Bahdanau)", "RNN + multiplicative attention (Luong)",
                                       "Transformer")),
        Change("at_len", "slider", ("-", "-", "+", "+")),
        Change("at_seed", "number", ("1", "2", "3")))),
    # Before training, the forward process is what shows the data (samples come once the network learns).
    PageScript("diffusion?df_tab=Forward+process+and+schedule", "df_forward", (
        Change("df_data", "select", ("Swiss roll", "Concentric circles", "Two moons")),
        # (T stays above the timestep shown: lowering it below in the browser still fails, see the issue note)
        Change("df_T", "number", ("500", "2000", "1000")),
        Change("df_points", "slider", ("-", "-", "+", "+")))),
    PageScript("cnn?cnn_view=Filters+and+feature+maps", "cnn_fig_maps", (
        Change("cnn_data", "select", ("Shapes (16×16, anywhere)", "Shapes (16×16, centred)",
                                      "Digits (8×8, scikit-learn)")),
        Change("cnn_layers", "slider", ("+", "-", "-", "+")),
        Change("cnn_seed", "number", ("1", "2", "3")))),
    PageScript("cnn?cnn_tab=Arithmetic", "cnn_fig_stack", (
        Change("cnn_n", "slider", ("-", "-", "+", "+")),
        Change("cnn_k1", "slider", ("+", "+", "-", "-")),
        Change("cnn_p1", "slider", ("-", "+", "+", "-"))), name="cnn_arithmetic"),
    PageScript("generative", "gen_fig_latent", (
        Change("gen_vae_data", "select", ("Two moons", "Ring of 8 Gaussians", "Handwritten digits (8×8)")),
        Change("gen_latent", "slider", ("+", "+", "-", "-")),
        Change("gen_seed", "number", ("1", "2", "3"))), name="generative_vae"),
    PageScript("generative?gen_model=GAN", "gen_fig_field", (
        Change("gen_gan_data", "select", ("5×5 grid of Gaussians", "Two moons", "Ring of 8 Gaussians")),
        Change("gen_loss", "select", ("Minimax (saturating)", "Least squares", "Non-saturating")),
        Change("gen_seed", "number", ("1", "2", "3"))), name="generative_gan"),
    PageScript("generalization", "gl_fig_fan", (
        Change("gl_degree", "slider", ("+", "+", "-", "-")),
        Change("gl_function", "select", ("A step", "|x|", "sin(πx)")),
        Change("gl_seed", "number", ("1", "2", "3"))), name="generalization_decomposition"),
    PageScript("generalization?gl_view=Complexity+sweep&gl_family=Random+ReLU+features", "gl_fig_sweep", (
        Change("gl_n", "slider", ("-", "-", "+", "+")),
        Change("gl_function", "select", ("A step", "|x|", "sin(πx)")),
        Change("gl_seed", "number", ("1", "2", "3"))), name="generalization_sweep"),
    PageScript("backprop?bp_weights=" + quote(XOR_BY_HAND), "bp_fig_surface", (
        # a typed weight: the second hidden unit's bias moves, and with it the boundary
        Change("bp_weights", "number", tuple(XOR_BY_HAND.replace(", 0, -1,", f", 0, {bias},")
                                             for bias in ("-0.5", "-1.5", "-1"))),)),
    # Tokens: tiny Shakespeare's merges (learned in the page run, cached per merge count), one step at a time
    PageScript("words", "wd_fig_granularity", (
        # (in this order the step is never at the end of the slider when it moves up)
        Change("wd_merges", "slider", ("-", "-", "+", "+")),  # 500 -> 200 -> 100 -> 200 -> 500 merges learned
        Change("wd_back", "button", ("◀",)),
        Change("wd_step", "slider", ("-", "-", "+", "+")),
        Change("wd_next", "button", ("▶",))), name="words_tokens"),
    # ... and merges learned from the typed text, which the chart then shows
    PageScript("words?wd_bpe_from=The+text+below", "wd_fig_granularity", (
        Change("wd_bpe_text", "text_area", WORDS_TYPED),
        Change("wd_step", "slider", ("-", "-", "+", "+"))), name="words_typed"),
    # Word vectors, untrained (the queries change the visuals a paused job observes; a seed is a new corpus)
    PageScript("words?wd_part=Word+vectors", "wd_fig_map", (
        Change("wd_relation", "select", ("country – capital", "animal – sound", "every planted word")),
        Change("wd_seed", "number", ("1", "2", "3"))), name="words_map"),
    PageScript("words?wd_part=Word+vectors&wd_view=Neighbours+and+analogies", "wd_fig_neighbours", (
        Change("wd_word", "number", ("rome", "dog", "paris")),), name="words_neighbours"),
    PageScript("words?wd_part=Word+vectors&wd_view=Neighbours+and+analogies", "wd_fig_analogy", (
        Change("wd_a", "number", ("paris", "barks", "king")),
        Change("wd_b", "number", ("france", "dog", "man")),
        Change("wd_c", "number", ("italy", "cat", "woman"))), name="words_analogy"),
    # The character model: the next character after a typed prefix; the temperature shows in the samples (HTML)
    PageScript("words?wd_part=Character+model", "wd_fig_next", (
        Change("wd_prefix", "number", ("JULIET:", "KING HENRY", "ROMEO:")),
        Change("wd_temperature", "slider", ("+", "+", "-", "-"), shows="[data-testid=stMain] [data-testid=stHtml]"),
        Change("wd_hidden", "slider", ("-", "-", "+", "+"))), name="words_characters"),
)


def signature(page, selector: str) -> str | None:
    return page.evaluate(_SIGNATURE_JS, selector)


def commit(page, change: Change, value: str) -> float:
    """Set the control to `value` the way a user does; returns the moment the value was committed."""
    box = page.locator(f".st-key-{change.key}")
    if change.kind == "select":
        combobox, listbox = box.get_by_role("combobox"), page.get_by_role("listbox")
        option = listbox.get_by_role("option", name=value, exact=True)
        for attempt in range(6):  # a click opens the list; a box just closed or redrawn may need another try
            combobox.click() if attempt % 2 == 0 else combobox.press("ArrowDown")
            try:
                option.wait_for(timeout=1000)
                break
            except PlaywrightTimeout:
                page.keyboard.press("Escape")
        else:  # said, and counted as a change that never showed (the caller catches the timeout)
            print(f"  ! {change.key}: its list of options did not open", flush=True)
            raise PlaywrightTimeout(f"{change.key}: the list of options did not open")
        started = time.perf_counter()
        try:  # (Playwright's own 30 s wait hid why a change never showed: a list redrawn under the click)
            option.click(timeout=5000)
        except PlaywrightTimeout as error:
            why = [line.strip() for line in str(error).splitlines()[1:] if line.strip()][-3:]  # Playwright's log
            print(f"  ! {change.key}: the option {value!r} could not be clicked: {' / '.join(why)}", flush=True)
            raise
        try:  # a click now and then does not take (the list redrawn under it): say so, not "no new chart"
            page.wait_for_function("([box, value]) => document.querySelector(`.st-key-${box} input[role=combobox]`)"
                                   "?.value === value", arg=[change.key, value], timeout=2000)
        except PlaywrightTimeout:
            print(f"  ! {change.key}: the click on {value!r} did not take", flush=True)
            raise
    elif change.kind == "slider":
        thumb = box.get_by_role("slider").first
        thumb.focus()
        started = time.perf_counter()
        thumb.press("ArrowRight" if value == "+" else "ArrowLeft")
    elif change.kind == "button":
        started = time.perf_counter()
        box.get_by_role("button").click()
    else:  # a number or text box, or a text area (where Enter is a new line)
        field = box.locator("textarea" if change.kind == "text_area" else "input")
        field.fill(value)
        started = time.perf_counter()
        field.press("Control+Enter" if change.kind == "text_area" else "Enter")
    return started


def timed_change(page, script: PageScript, change: Change, value: str, training: bool = False) -> float:
    """Seconds from committing the value until the page is idle and its chart shows other data (and, while
    training, the step counter went back: the rebuilt experiment is what is drawn)."""
    shown = change.shows or chart(script.chart)
    before, step_before = signature(page, shown), step_counter(page) if training else None
    started = commit(page, change, value)
    page.wait_for_function(_CHANGED_JS, arg=[shown, before, step_before], timeout=TIMEOUT_S * 1000,
                           polling="raf")
    return time.perf_counter() - started


def first_chart(warm, url: str, script: PageScript) -> float:
    """Seconds from navigation to the page's main chart holding data, in a new browser context (no cache)."""
    context = warm.browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{url}/{script.path}")
        page.wait_for_function(f"() => ({_SIGNATURE_JS})('{chart(script.chart)}') !== null", timeout=60_000,
                               polling="raf")
        return time.perf_counter() - started
    finally:
        context.close()


def cold_first_chart(warm, script: PageScript) -> float:
    """The first chart of `script`'s page in the first session of a server just started (answering its health
    check): that session's run imports and warms what every page uses (ui.preload), which later sessions find
    done."""
    with running_app() as (url, _process):
        return first_chart(warm, url, script)


FLOOR = PageScript("", "floor", (Change("floor_shape", "select", ("fall", "peak", "rise")),
                                  Change("floor_scale", "number", ("2", "3", "1"))), name="floor")


def floors(browser) -> tuple[float, list[float]]:
    """For an app of one small chart and two controls (bench/one_chart_app.py), its server warmed the same way:
    the first-chart time (median of three) and the changes' times, measured as the pages' are: what Streamlit
    and plotly.js cost before any code of ours runs."""
    with running_app(script="bench/one_chart_app.py") as (url, _process):
        warm = browser.new_page()
        warm.goto(url)
        warm.wait_for_function(f"() => ({_SIGNATURE_JS})('{chart('floor')}') !== null", timeout=60_000)
        first = [first_chart(browser, url, FLOOR) for _ in range(3)]
        changes = timed_changes(warm, FLOOR)
        warm.close()
    # (its chart is not drawn through Charts.show, which gives a chart's margins room for its labels)
    DRAWN_TWICE.difference_update([drawn for drawn in DRAWN_TWICE if drawn.startswith(f"{FLOOR.label}: ")])
    return float(np.median(first)), changes


def train_for_a_while(page, seconds: float = 1.5) -> None:
    """Press Train (unless training) and let the network train for a moment: at least `seconds`, and until the
    page shows a step past 0 (a change is then seen by its step counter going back; on a busy server the live
    area may first show a step only seconds after Train)."""
    train = page.get_by_role("button", name="Train", exact=True)
    if train.count():
        train.click()
        page.wait_for_selector(IDLE)
        try:  # Train turns into Pause once the job trains (on a busy server up to ui.jobs.CATCH_UP_S later)
            train.wait_for(state="detached", timeout=TRAIN_TAKES_S * 1000)
        except PlaywrightTimeout:  # said, and pressed again as a user would: the next change is not timed against a
            # job that never trained (a step counter that cannot go back from 0: the 30 s changes of the room bench)
            print(f"  ! Train did not take within {TRAIN_TAKES_S:g} s (showing: {page.evaluate(_SHOWING_JS)}); "
                  "pressed again", flush=True)
            train.click()
            page.wait_for_selector(IDLE)
    time.sleep(seconds)
    deadline = time.monotonic() + TIMEOUT_S
    while not step_counter(page) and time.monotonic() < deadline:
        time.sleep(0.2)


def interactions(context, url: str, script: PageScript, training: bool = False) -> list[float]:
    page = context.new_page()
    page.goto(f"{url}/{script.path}")
    wait_until_rendered(page)
    times = timed_changes(page, script, training)
    page.close()
    return times


def timed_changes(page, script: PageScript, training: bool = False, reload: bool = True,
                  on_timeout: Callable[[], None] | None = None) -> list[float]:
    """CHANGES_PER_PAGE changes of the script's controls on `page` (open on the script's page), each timed.
    A change that never shows (or, while training, whose Train never took) is counted at the timeout, and the
    page reloaded (unless `reload` is False: a reload is a new session, which would lose what the session holds,
    such as a class room). `on_timeout` is called at the first such change (the room bench dumps the server's
    stacks there)."""
    times = []
    for round_ in range(CHANGES_PER_PAGE // len(script.changes)):
        for change in script.changes:
            value = change.values[round_ % len(change.values)]
            try:
                if training:  # a change rebuilds the network, which then waits: train it again first
                    train_for_a_while(page)
                times.append(timed_change(page, script, change, value, training))
                DRAWN_TWICE.update(f"{script.label}: {chart}" for chart in charts_drawn_twice(page))
            except PlaywrightTimeout:  # counted at the timeout, and said: a change that never showed
                if on_timeout is not None and TIMEOUT_S not in times:
                    on_timeout()
                times.append(TIMEOUT_S)
                print(f"  ! {script.path}: {change.key} = {value}: no new chart within {TIMEOUT_S:g} s "
                      f"(showing: {page.evaluate(_SHOWING_JS)})", flush=True)
                if reload:
                    page.reload()
                    wait_until_rendered(page)
    return times


def p95(values: list[float]) -> float:
    return round(float(np.percentile(values, 95)), 3)


def main() -> None:
    # `python bench/interaction.py optimizers diffusion` measures those pages only (and no training run).
    chosen = sys.argv[1:]
    scripts = [s for s in PAGES if not chosen or s.path.partition("?")[0] in chosen]
    result, timeouts = {}, 0
    with running_app() as (url, _process), chromium(allow_layout_loops=True) as warm:
        if not chosen:  # (a server of its own: the one measured below is warmed by the home page alone)
            result["cold_first_chart_s"] = round(cold_first_chart(warm, PAGES[0]), 3)
            print(f"a server's first session: the Playground's first chart {result['cold_first_chart_s']} s",
                  flush=True)
        home = warm.new_page()
        home.goto(url)
        wait_until_rendered(home)
        for script in scripts:
            name = script.label
            result[f"{name}_first_chart_s"] = round(first_chart(warm, url, script), 3)
            times = interactions(warm, url, script)
            timeouts += sum(t >= TIMEOUT_S for t in times)
            result[f"{name}_interaction_p95_s"] = p95(times)
            print(f"{name}: first chart {result[f'{name}_first_chart_s']} s; {len(times)} changes, "
                  f"median {np.median(times):.3f} s, p95 {p95(times)} s, max {max(times):.3f} s", flush=True)
        first, changes = floors(warm)
        result["floor_first_chart_s"], result["floor_interaction_p95_s"] = round(first, 3), p95(changes)
        print(f"floor (bench/one_chart_app.py): first chart {first:.3f} s; {len(changes)} changes, median "
              f"{np.median(changes):.3f} s, p95 {p95(changes)} s", flush=True)
        if not chosen or "training" in chosen:
            training = interactions(warm, url, PAGES[0], training=True)
            timeouts += sum(t >= TIMEOUT_S for t in training)
            result["training_interaction_p95_s"] = p95(training)
            print(f"playground while training: median {np.median(training):.3f} s, p95 {p95(training)} s",
                  flush=True)
    result["worst_interaction_p95_s"] = max((v for k, v in result.items() if k.endswith("_interaction_p95_s")
                                             and not k.startswith(("training", "floor"))), default=None)
    result["worst_first_chart_s"] = max((v for k, v in result.items() if k.endswith("_first_chart_s")
                                         and not k.startswith(("floor", "cold"))), default=None)
    result["timeouts"] = timeouts
    result["layout_loops"] = len(warm.layout_loops)
    result["charts_drawn_twice"] = len(DRAWN_TWICE)
    for chart in sorted(DRAWN_TWICE):
        print(f"  ! drawn twice (its margins too short): {chart}", flush=True)
    for address in sorted(set(map(str, warm.layout_loops))):
        print(f"  ! plotly.js redrew a chart in a loop on {address}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
