"""The pages' Plotly charts, drawn in place: a Streamlit custom component (v2) that keeps one plot per chart and
redraws it with `Plotly.react` when its figure changes (ui/chart_component.js).

Why not `st.plotly_chart`: Streamlit 1.67 gives a chart a new identity whenever its figure changes, so at every
control change and every live refresh the browser threw the old plot away and built a new one, hidden until its
width was measured and then drawn a second time: the chart went blank for 0.1-0.2 s each time (measured in Chromium
on the Optimizers page: no visible chart from 168 to 348 ms after a change's run began), and the browser drew each
changed chart twice. In place, the old picture stays until the new one replaces it, drawn once.

plotly.js is the plotly package's own (the version its figures are written for), served by Streamlit's static
file serving (`server.enableStaticServing`) from the app's `static/` folder, where `serve_plotly_js` copies it
when the server starts.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.offline import get_plotlyjs, get_plotlyjs_version

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"  # Streamlit serves the main script's static/ folder at app/static/
PLOTLY_JS = f"plotly-{get_plotlyjs_version()}.min.js"  # a new version is a new address: no stale cache

COMPONENT_NAME = "gradscape_chart"
_COMPONENT = st.components.v2.component(
    COMPONENT_NAME, js=(Path(__file__).with_name("chart_component.js")).read_text(),
    css=".gs-chart { width: 100%; } .gs-stretch { height: 100%; } .gs-chart:fullscreen { background: #ffffff; } "
        ".gs-chart:focus { outline: none; } .gs-chart:focus-visible { outline: 2px solid #0072B2; }",
    isolate_styles=False)


def serve_plotly_js(static: Path = STATIC) -> None:
    """Copy the plotly package's plotly.js where the static file serving finds it (once per version): the
    `static` folder beside the script `streamlit run` started (the app's, or a benchmark's own app)."""
    target = static / PLOTLY_JS
    if target.is_file():
        return
    static.mkdir(exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_text(get_plotlyjs(), encoding="utf-8")
    partial.replace(target)  # (atomic: a browser never reads half a file)


def _plotly_address() -> str:
    base = st.get_option("server.baseUrlPath").strip("/")
    return f"/{base}/app/static/{PLOTLY_JS}" if base else f"/app/static/{PLOTLY_JS}"


def plotly_chart(figure: go.Figure, *, key: str, config: dict, where: Any = None,
                 on_select: str | Callable[[], None] | None = None, stretch: bool = False) -> Any:
    """Draw `figure` in place; `config` is plotly.js's. With `on_select` ("rerun" or a callback), a click on a
    point reruns the page (calling the callback first), and during that run `clicked_points` of the result (or of
    Session State under `key`) gives the clicked points, with what st.plotly_chart's events gave (x, y,
    customdata, curve_number, point_number, point_index); later runs give none (a page that keeps a click keeps it
    in its own state). `stretch`: as tall as its container."""
    # (the figure's JSON as st.plotly_chart wrote it, spliced in as it is, not parsed and written again)
    payload = (f'{{"figure": {pio.to_json(figure, validate=False)}, "config": {json.dumps(config)}, '
               f'"plotly": {json.dumps(_plotly_address())}, "stretch": {json.dumps(stretch)}, '
               f'"clicks": {json.dumps(on_select is not None)}}}')
    callbacks = {}
    if on_select is not None:
        callbacks["on_selection_change"] = on_select if callable(on_select) else _rerun_only
    with where if where is not None else contextlib.nullcontext():
        return _COMPONENT(data=payload.encode(), key=key, height="stretch" if stretch else "content", **callbacks)


def clicked_points(result: Any) -> list[dict]:
    """The points a click on a chart chose, in the run the click started, from what `plotly_chart` returned or
    Session State holds under its key (none in any other run, and none for a chart drawn without `on_select`)."""
    selection = result.get("selection") if isinstance(result, Mapping) else None
    points = selection.get("points") if isinstance(selection, Mapping) else None
    return list(points) if isinstance(points, list) else []


def _rerun_only() -> None:
    """A click reruns the page, which reads the selection (a callback is what makes a component rerun)."""
