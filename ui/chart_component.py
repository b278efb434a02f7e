"""The pages' Plotly charts, drawn in place: a Streamlit custom component (v2) that keeps one plot per chart and
redraws it with `Plotly.react` when its figure changes (ui/chart_component.js).

Why not `st.plotly_chart`: Streamlit 1.67 gives a chart a new identity whenever its figure changes, so at every
control change and every live refresh the browser threw the old plot away and built a new one, hidden until its
width was measured and then drawn a second time: the chart went blank for 0.1-0.2 s each time (measured in Chromium
on the Optimizers page: no visible chart from 168 to 348 ms after a change's run began), and the browser drew each
changed chart twice. In place, the old picture stays until the new one replaces it, drawn once.

plotly.js: the version the plotly package writes its figures for, with only the trace types the pages draw, in two
bundles (`PLOTLY_BUNDLES`) that scripts/build_plotly_js.sh builds into the app's `static/` folder (in the repository),
served by Streamlit's static file serving (`server.enableStaticServing`). A new browser runs the 2-D one in ~0.3 s and
the 3-D one in ~0.5 s before a page's first chart; the plotly package's whole plotly.js took ~1.1 s
(docs/INTERACTION-MEASUREMENTS.md). A figure with another trace type is refused here, not drawn blank.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.offline import get_plotlyjs_version

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"  # Streamlit serves the main script's static/ folder at app/static/
# The trace types of each plotly.js bundle (scripts/build_plotly_js.sh builds them from these lists): the 2-D one for
# charts without 3-D traces, the 3-D one for any chart (a page that has it draws its other charts with it too).
FLAT_TRACES = ("scatter", "bar", "box", "contour", "heatmap", "histogram")
PLOTLY_BUNDLES = {"2d": FLAT_TRACES, "3d": (*FLAT_TRACES, "scatter3d", "surface")}


def plotly_js(bundle: str) -> str:
    """A bundle's file name (a new plotly version is a new address: no stale cache)."""
    return f"plotly-gradscape-{bundle}-{get_plotlyjs_version()}.min.js"


COMPONENT_NAME = "gradscape_chart"
_COMPONENT = st.components.v2.component(
    COMPONENT_NAME, js=(Path(__file__).with_name("chart_component.js")).read_text(),
    css=".gs-chart { width: 100%; } .gs-stretch { height: 100%; } .gs-chart:fullscreen { background: #ffffff; } "
        ".gs-chart:focus { outline: none; } .gs-chart:focus-visible { outline: 2px solid #0072B2; }",
    isolate_styles=False)


def missing_plotly_js() -> str | None:
    """What to tell the user when the charts' plotly.js is not there (it is built for one plotly version, the pinned
    one; each chart would otherwise only say that its script did not load), else None."""
    missing = [plotly_js(bundle) for bundle in PLOTLY_BUNDLES if not (STATIC / plotly_js(bundle)).is_file()]
    if not missing:
        return None
    return (f"The charts cannot be drawn: static/{missing[0]} is missing (this plotly is {get_plotlyjs_version()}). "
            "Install the plotly that requirements.txt pins, or build plotly.js for this one with "
            "`bash scripts/build_plotly_js.sh`, and restart the server.")


def _plotly_addresses() -> dict[str, str]:
    base = st.get_option("server.baseUrlPath").strip("/")
    folder = f"/{base}/app/static" if base else "/app/static"
    return {bundle: f"{folder}/{plotly_js(bundle)}" for bundle in PLOTLY_BUNDLES}


def plotly_chart(figure: go.Figure, *, key: str, config: dict, where: Any = None,
                 on_select: str | Callable[[], None] | None = None, stretch: bool = False) -> Any:
    """Draw `figure` in place; `config` is plotly.js's. With `on_select` ("rerun" or a callback), a click on a
    point reruns the page (calling the callback first), and during that run `clicked_points` of the result (or of
    Session State under `key`) gives the clicked points, with what st.plotly_chart's events gave (x, y,
    customdata, curve_number, point_number, point_index); later runs give none (a page that keeps a click keeps it
    in its own state). `stretch`: as tall as its container."""
    types = {trace.type for trace in figure.data}
    if unbundled := types - set(PLOTLY_BUNDLES["3d"]):
        raise ValueError(f"trace types {sorted(unbundled)} are not in the charts' plotly.js: add them to "
                         "PLOTLY_BUNDLES and run scripts/build_plotly_js.sh")
    # (the figure's JSON as st.plotly_chart wrote it, spliced in as it is, not parsed and written again)
    payload = (f'{{"figure": {pio.to_json(figure, validate=False)}, "config": {json.dumps(config)}, '
               f'"plotly": {json.dumps(_plotly_addresses())}, "three_d": {json.dumps(bool(types - set(FLAT_TRACES)))}, '
               f'"stretch": {json.dumps(stretch)}, '
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
