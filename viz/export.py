"""Figures as files: PNG, SVG and PDF through Kaleido (the system's Chromium draws them), and a
standalone HTML report with interactive figures that opens offline.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import plotly.graph_objects as go
import plotly.io as pio

from viz.theme import FONT_FAMILY, safe_filename

STATIC_FORMATS = ("png", "svg", "pdf")
IMAGE_SCALE = 2  # PNGs at twice the figure's size, sharp on slides and projectors
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1100, 520  # figures on a page take the column's width; a file needs one
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = ("Exporting PNG, SVG and PDF needs Chromium, which draws the figures. Install it with "
                "`apt-get install chromium` (Debian/Ubuntu), or point the `BROWSER_PATH` environment variable at a "
                "Chrome or Chromium executable, then reload the page. The HTML report needs no browser.")


class StaticExportUnavailable(RuntimeError):
    """PNG/SVG/PDF cannot be made here (no Chromium, or no Kaleido); the message says what to install."""


def find_chromium() -> str | None:
    """The browser Kaleido drives: $BROWSER_PATH, else Debian's /usr/bin/chromium, else one on the PATH.
    Never a downloaded one: Kaleido only downloads a browser when asked to, and we never ask."""
    # The PATH is searched only when the usual places have none: the export panel asks on every live refresh.
    for candidate in itertools.chain((os.environ.get("BROWSER_PATH"), "/usr/bin/chromium"),
                                     (shutil.which(name) for name in _CHROMIUM_NAMES)):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _size(fig: go.Figure) -> tuple[int, int]:
    """The figure's own size, else a slide-friendly one; a plot with equal axis scales (a square
    input plane) gets a width to match its height rather than empty margins either side."""
    height = int(fig.layout.height or DEFAULT_HEIGHT)
    square = fig.layout.yaxis.scaleanchor is not None
    return int(fig.layout.width or (round(1.1 * height) if square else DEFAULT_WIDTH)), height


def static_figure(fig: go.Figure) -> go.Figure:
    """The figure as a slide shows it: an animation becomes the frame its slider stands at (the last one,
    as the page opens it), without the Play and Pause buttons and the slider, which do nothing on paper.
    A figure without animation is returned as it is."""
    layout = fig.layout
    if not (fig.frames or layout.updatemenus or layout.sliders):
        return fig
    still = go.Figure(data=fig.data, layout=layout)  # a copy, without the frames
    if fig.frames:
        active = layout.sliders[0].active if layout.sliders else None
        frame = fig.frames[-1 if active is None else active]
        for position, trace in zip(frame.traces or range(len(frame.data)), frame.data):
            still.data[position].update(trace.to_plotly_json())
    still.layout.updatemenus, still.layout.sliders = None, None
    still.layout.margin.b = None  # the room the controls had below the plot
    return still


async def _render_all(figures: Mapping[str, go.Figure], formats: Sequence[str], browser: str) -> dict[str, bytes]:
    import kaleido

    files = {}
    # One browser for the whole batch: starting Chromium costs seconds, one figure a fraction of one.
    async with kaleido.Kaleido(n=1, path=browser, mathjax=False, timeout=60) as renderer:
        for name, fig in figures.items():
            fig = static_figure(fig)
            width, height = _size(fig)
            for fmt in formats:
                opts = {"format": fmt, "width": width, "height": height, "scale": IMAGE_SCALE if fmt == "png" else 1}
                files[f"{safe_filename(name)}.{fmt}"] = await renderer.calc_fig(fig, opts=opts)
    return files


def render_static(figures: Mapping[str, go.Figure], formats: Sequence[str] = STATIC_FORMATS) -> dict[str, bytes]:
    """Every figure in every format: {"name.png": bytes, ...}. Raises StaticExportUnavailable with
    what to install when there is no Chromium or no Kaleido."""
    unknown = set(formats) - set(STATIC_FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}")
    browser = find_chromium()
    if browser is None:
        raise StaticExportUnavailable(INSTALL_HINT)
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise StaticExportUnavailable("Exporting PNG, SVG and PDF needs Kaleido: `pip install -r "
                                      "requirements.txt` installs the version this app was tested with.") from None
    # Kaleido is asyncio; run it on a thread of its own so it never meets a caller's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _render_all(figures, formats, browser)).result()


# --------------------------------------------------------------------------- the HTML report
_STYLE = f"""
body {{font-family: {FONT_FAMILY}; color: #1f2430; max-width: 1200px; margin: 2rem auto; padding: 0 1rem}}
h1 {{font-size: 1.8rem}} h2 {{font-size: 1.3rem; margin-top: 2rem}}
table {{border-collapse: collapse; font-size: 0.95rem}}
td, th {{border-bottom: 1px solid #e6e8ec; padding: 0.25rem 0.8rem; text-align: left; vertical-align: top}}
th {{color: #555}} code {{font-size: 0.9rem}} .figure {{margin: 1rem 0 2rem}}
"""


def _table(rows: Mapping[str, Any]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(_text(v))}</code></td></tr>"
                    for k, v in rows.items())
    return f"<table>{cells}</table>"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def html_report(title: str, figures: Mapping[str, go.Figure], sections: Mapping[str, Mapping[str, Any]]) -> str:
    """One self-contained HTML file: every figure, interactive, with plotly.js embedded once so it opens
    without a network; then `sections` as tables (metrics, settings, ...)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for index, (name, fig) in enumerate(figures.items()):
        width, height = _size(fig)
        div = pio.to_html(fig, include_plotlyjs=index == 0, full_html=False, default_width="100%",
                          default_height=f"{height}px", div_id=f"figure-{index}",
                          config={"displaylogo": False, "toImageButtonOptions": {
                              "format": "png", "filename": safe_filename(name), "scale": IMAGE_SCALE,
                              "width": width, "height": height}})
        parts.append(f"<div class='figure'>{div}</div>")
    for heading, rows in sections.items():
        if rows:
            parts.append(f"<h2>{html.escape(heading)}</h2>{_table(rows)}")
    parts.append("</body></html>")
    return "\n".join(parts)
