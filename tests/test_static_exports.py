"""Slides: every figure a page offers for PNG/SVG/PDF, rendered by Kaleido and read back as SVG. An
animation is exported as the frame its slider stands at, without its Play/Pause buttons and slider,
which do nothing on a slide; the animated figures' axes carry titles."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, plotted
from ui.catalog import PAGES
from viz import diffusion as diffusion_figures
from viz.export import find_chromium, render_static, static_figure

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (apt-get install chromium); CI "
                                                                "has it")
CONTROLS = ("updatemenu", "slider")  # the class names Plotly gives the groups it draws buttons and sliders in


def svg_groups(svg: bytes) -> list[str]:
    """The class of every <g> element Plotly drew."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return [g.get("class") or "" for g in root.iter("{http://www.w3.org/2000/svg}g")]


def axis_titles(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    classes = (el.get("class") or "" for el in root.iter())
    return [c for c in classes if c.startswith(("g-xtitle", "g-ytitle", "xtitle", "ytitle"))]


def offered_figures(info) -> dict[str, go.Figure]:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(info.file).run()
    assert not at.exception, at.exception
    return at.session_state[f"_exports_{info.key_prefix}"].offer.built_figures()


@pytest.mark.parametrize("info", [p for p in PAGES if p.url_path != "lessons"], ids=lambda p: p.url_path)
def test_every_static_export_of_a_page_is_drawn_without_animation_controls(info):
    figures = offered_figures(info)
    assert figures
    files = render_static(figures, ["svg"])
    for name, svg in files.items():
        drawn = [c for c in svg_groups(svg) if any(c.startswith(kind) for kind in CONTROLS)]
        assert not drawn, f"{name}: {drawn}"
    animated = [name for name, fig in figures.items() if fig.frames]
    for name in animated:
        svg = files[f"{name}.svg"]
        assert len({t.split()[0] for t in axis_titles(svg)}) >= 2, f"{name}: axes without titles"
    if info.url_path == "optimizers":
        assert animated  # the trajectories race is the page's animation


def reverse_figure() -> go.Figure:
    rng = np.random.default_rng(0)
    frame_t = [20, 10, 5, 0]
    ddpm, ddim = rng.normal(size=(4, 30, 2)), rng.normal(size=(4, 30, 2))
    xs = ys = np.linspace(-3, 3, 5)
    return diffusion_figures.reverse_animation(frame_t, ddpm, ddim, 4, xs, ys, rng.normal(size=(4, 5, 5, 2)),
                                               data=rng.normal(size=(50, 2)), paths=3)


def test_a_static_animation_shows_the_frame_its_slider_stands_at():
    fig = reverse_figure()
    fig.layout.sliders[0].active = 1  # t = 10
    still = static_figure(fig)
    frame = fig.frames[1]
    for position, trace in zip(frame.traces, frame.data):  # (a frame holds typed arrays)
        assert np.array_equal(plotted(still.data[position].x), plotted(trace.x), equal_nan=True)
        assert np.array_equal(plotted(still.data[position].y), plotted(trace.y), equal_nan=True)
    assert not still.frames and not still.layout.updatemenus and not still.layout.sliders
    assert fig.frames and fig.layout.sliders  # the page's own figure keeps its animation
    svg = render_static({"reverse": still}, ["svg"])["reverse.svg"]
    assert not [c for c in svg_groups(svg) if c.startswith(CONTROLS)]
