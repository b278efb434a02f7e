"""The Export panel every page shows: its figures as PNG/SVG/PDF, an offline HTML report, the metric
history as CSV, the settings as importable JSON, the trained weights, and an animated GIF.

A page wires it with two calls (see docs/CONVENTIONS.md, "Exports"):

    export_panel(PlaygroundSpec)                                  # before the page's controls
    offer_exports(spec, "playground", charts, snap, setting=...)  # where the figures are drawn

`export_panel` makes the sidebar panel and applies an imported settings file: it must run before
the controls, the only moment Streamlit lets a setting change a widget. `offer_exports` hands over
what the page drew and fills the panel (from inside a live area too), so file names always say
what the page shows. Nothing is rendered until asked: each export has a Prepare button that makes
the file from what the page shows then, and a download of it (only the few-hundred-byte settings
file is made on every draw). A change of the page's settings drops the files prepared before it.

Inside a live area (ui.live) `offer_exports` only keeps the offer: the live area draws the panel once, after its
first draw in a whole-page run (`draw_panels`), and its refreshes leave the panel alone. Redrawn with every
refresh, the panel's eleven elements were a quarter of the messages a training page sent a second, and the
web server's event loop, which sends every session's messages, was the class's bottleneck.

A page whose experiment can be rerun outside Gradscape also offers it as a Python script (`script=`: a function
returning the script's text, called only when asked; the Playground's is engine.playground.script).

Settings: a page's settings are its spec (engine.common.spec), written as the values of its shown
controls by widget key, so a settings file and a shared link hold the same thing. An imported file
is read by the spec (`from_dict`), which checks every field against its control's options, range and
limit at once (the third layer's width too, before "3 layers" has drawn it): an import changes
everything or nothing, and a refusal names the setting and the limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image
from streamlit.errors import StreamlitInvalidLayoutContextError

from engine.common.export import MAX_CONFIG_BYTES, ConfigError, config_document, history_csv, \
    parse_config_document, shown, weights_bytes, zip_bytes
from engine.common.history import Series
from engine.common.spec import Spec
from engine.runtime import Snapshot
from ui.chart_component import plotly_chart
from ui.sharing import fit_to_screen, presenting
from viz.animation import gif_bytes
from viz.export import STATIC_FORMATS, StaticExportUnavailable, find_chromium, html_report, render_static
from viz.theme import (PLOTLY_DEFAULT_HEIGHT, chart_config, for_presentation, margins_for_one_draw, safe_filename,
                        with_plot_room)

_MAX_TABLE_TEXT = 160  # characters of one value in the report's tables


@dataclass
class ExportOffer:
    """What a page has on screen now, handed to the panel (nothing is rendered until asked)."""

    page: str
    setting: str  # short words for the experiment, in every file name ("xor", "rosenbrock-adam")
    step: int | None  # the training step shown, if the page trains
    figures: dict[str, go.Figure | Callable[[], go.Figure]]  # a function: a hidden tab's figure, not built yet
    controls: dict[str, Any]
    history: Mapping[str, Series]
    report: dict[str, dict[str, Any]]  # the HTML report's tables: heading -> rows
    weights: Mapping[str, torch.Tensor] | None = None
    animation: Callable[[], list[Image.Image]] | None = None
    script: Callable[[], str] | None = None  # the experiment as a self-contained Python script, made when asked

    def built_figures(self) -> dict[str, go.Figure]:
        return {name: figure() if callable(figure) else figure for name, figure in self.figures.items()}

    def file_name(self, what: str, extension: str, with_step: bool = True) -> str:
        """E.g. playground-xor-4x2-tanh-adam-step1200-figures-png.zip."""
        step = f"step{self.step}" if with_step and self.step is not None else ""
        words = "-".join(part for part in (self.page, self.setting, step, what) if part)
        return f"{safe_filename(words)}.{extension}"


@dataclass
class _Slot:
    """A page's export state in this session. Download buttons that generate on click read `offer`
    then (on another thread), so they always export what the page shows at that moment."""

    offer: ExportOffer | None = None
    imported: Spec | None = None  # a settings file read, to be set before the next whole-page run's controls
    message: tuple[str, str] | None = None  # ("error" | "success", text) of the last import
    body: Any = None  # the panel's container, made by export_panel in this run
    prepared: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # kind -> (file name, data, label)
    prepared_for: dict[str, Any] = field(default_factory=dict)  # the settings the prepared files were made with


def _slot(prefix: str) -> _Slot:
    return st.session_state.setdefault(f"_exports_{prefix}", _Slot())


# The offers made while a live area draws, or None outside one (each script run is a thread of its own)
_KEPT: contextvars.ContextVar[list[tuple[_Slot, str]] | None] = contextvars.ContextVar("kept_offers", default=None)


@contextlib.contextmanager
def offers_kept() -> Iterator[list[tuple[_Slot, str]]]:
    """While a live area draws: `offer_exports` keeps its offer in the list yielded, and draws no panel."""
    kept: list[tuple[_Slot, str]] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


def draw_panels(kept: list[tuple[_Slot, str]]) -> None:
    """Draw the panels of the offers a live area kept in this whole-page run, outside the live area, so its
    refreshes (which keep the offer up to date) do not send them again."""
    for slot, prefix in kept:
        _draw_panel(slot, prefix)


# --------------------------------------------------------------------------- a page's settings
def settings(spec: Spec) -> dict[str, Any]:
    """The page's settings: the spec's fields whose controls are shown, by widget key, as JSON values (a
    control that is not shown, e.g. layer 3's width with 2 layers, is no setting of the experiment)."""
    values = spec.to_dict()
    return {spec.PREFIX + control.field: values[control.field] for control in spec.shown_fields()}


def _refuse(slot: _Slot, name: str, reason: str) -> None:
    slot.message = ("error", f"**{shown(name, 60)} was not imported**: {reason}. Nothing was changed.")


def _on_import(spec_type: type[Spec], uploader_key: str) -> None:
    """The uploader's callback: reads the file into a spec, whole or not at all; `export_panel` sets it at the
    top of the next whole-page run. (Not here: while a live area refreshes, the callback can run in a
    fragment's rerun, after which the sidebar's widgets would overwrite it.)"""
    file = st.session_state.get(uploader_key)
    slot = _slot(spec_type.PREFIX)
    slot.message = None
    if file is None:
        return
    slot.imported = None
    if file.size > MAX_CONFIG_BYTES:
        _refuse(slot, file.name, f"it is {file.size:,} bytes; a settings file is at most {MAX_CONFIG_BYTES:,}")
        return
    try:
        controls = parse_config_document(file.getvalue(), spec_type.PREFIX)
        # Files exported before the specs also hold view state (an open tab): not part of the experiment.
        controls = {key: value for key, value in controls.items() if key not in spec_type.VIEW_KEYS}
        slot.imported = spec_type.from_dict({key.removeprefix(spec_type.PREFIX): value
                                             for key, value in controls.items()})
    except ConfigError as error:
        _refuse(slot, file.name, str(error))
        return
    slot.message = ("success", f"Imported {len(controls)} settings from {shown(file.name, 60)}.")


def _apply_import(slot: _Slot) -> None:
    """Before the controls are drawn: set every control to the imported spec's value."""
    spec, slot.imported = slot.imported, None
    if spec is None:
        return
    for name, value in spec.to_dict().items():
        st.session_state[spec.PREFIX + name] = value


# --------------------------------------------------------------------------- what a page hands over
class Charts(dict):
    """The figures a page draws, by file name. `charts.show(fig, name, key=...)` draws one whose own
    download button saves `name`.png at 2x, and keeps it for the Export panel. With `visible=False`
    (a tab that is not open) it is only kept: sending a big figure to the browser on every live
    refresh costs the server more than drawing it."""

    def show(self, figure: go.Figure | Callable[[], go.Figure], name: str, *, key: str, where: Any = None,
             image_format: str = "png", visible: bool = True, main_below: float | None = None,
             legend_aside: bool = False, wide: bool = False,
             on_select: str | Callable[[], None] | None = None) -> Any:
        """`figure` may be a function that builds it: a hidden one is then built only if an export asks.
        In presentation mode text is sized for a projector, the page's main chart (`main_below`: the
        rem of page above it) fills the rest of the screen's height (ui.sharing.fit_to_screen), and with
        `legend_aside` its legend stands beside the plot instead of below it (for a plot with equal scales
        that the screen's width leaves room beside, its height none). `wide`: drawn across the main area, not in
        a column (a legend below is then given the room of fewer rows). `on_select` ("rerun" or a callback): a
        click on a point reruns the page, and `ui.chart_component.clicked_points` of the result gives the points in
        that run."""
        if not visible:
            self[name] = figure
            return None
        figure = figure() if callable(figure) else figure
        if presenting():
            for_presentation(figure, legend_aside)
        self[name] = figure = margins_for_one_draw(figure, wide)  # (for the text's size it is drawn at)
        if presenting() and main_below is None:  # (the main chart's height is the screen's)
            with_plot_room(figure)
        # The camera button's file name leaves the step out (the Export panel's files keep it): plotly.js
        # draws a chart anew, not in place, whenever its config changes, which was every live refresh.
        config = chart_config(re.sub(r"-step\d+", "", name), image_format)
        if not presenting() or main_below is None:
            return plotly_chart(figure, key=key, config=config, where=where, on_select=on_select)
        with where if where is not None else contextlib.nullcontext():  # in the column asked for
            with fit_to_screen(f"{key}_screen", main_below, int(figure.layout.height or PLOTLY_DEFAULT_HEIGHT)):
                return plotly_chart(figure, key=key, config=config, on_select=on_select, stretch=True)


def _table_text(value: Any) -> Any:
    if isinstance(value, float):
        return value
    text = str(value)
    return text if len(text) <= _MAX_TABLE_TEXT else text[:_MAX_TABLE_TEXT] + "…"


def _experiment_rows(snapshot: Snapshot) -> dict[str, Any]:
    config = snapshot.config
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {"config": config}
    return {"step": snapshot.step, "epoch": round(snapshot.epoch, 3), "status": snapshot.status.value,
            "seed": snapshot.seed, "device": snapshot.device,
            **{f"config.{k}": _table_text(v) for k, v in fields.items()},
            **{f"hyperparameter.{k}": _table_text(v) for k, v in snapshot.hyperparameters.items()}}


def offer_exports(spec: Spec, page: str, figures: Mapping[str, go.Figure], snapshot: Snapshot | None = None, *,
                  setting: str = "", history: Mapping[str, Series] | None = None,
                  weights: Mapping[str, torch.Tensor] | None = None,
                  animation: Callable[[], list[Image.Image]] | None = None,
                  details: Mapping[str, Any] | None = None, script: Callable[[], str] | None = None) -> None:
    """Hand the panel what the page shows: the `spec` of the experiment (its settings), `figures` by file
    name (the names the charts' own buttons use), the job's `snapshot` (history, step, config), and
    optionally the trained `weights`, an `animation` (a function returning GIF frames, called only when
    asked), extra `details` rows and a `script` (a function returning the experiment as a Python script, called
    only when asked). Call it after the controls, where the figures are drawn (in a live
    area: inside draw)."""
    prefix = spec.PREFIX
    slot = _slot(prefix)
    if slot.imported is not None:
        # A file read during a live refresh (a whole-page run sets it before it gets here): the controls are
        # set at the top of a whole-page run.
        st.rerun(scope="app")
    history = history if history is not None else (snapshot.history if snapshot is not None else {})
    latest = {name: series.last for name, series in history.items() if len(series)}
    report = {"Latest metrics": {k: v if math.isfinite(v) else str(v) for k, v in latest.items()}}
    if snapshot is not None:
        report["Experiment"] = _experiment_rows(snapshot)
    if details:
        report["Details"] = {k: _table_text(v) for k, v in details.items()}
    report["Settings (importable)"] = dict(sorted(settings(spec).items()))
    slot.offer = ExportOffer(page, setting, None if snapshot is None else snapshot.step, dict(figures),
                             report["Settings (importable)"], history, report, weights, animation, script)
    if slot.prepared_for != slot.offer.controls:
        # Files made before the settings changed show another experiment than the page and the panel now name.
        slot.prepared.clear()
        slot.prepared_for = slot.offer.controls
    kept = _KEPT.get()
    if kept is not None:
        kept.append((slot, prefix))
    else:
        _draw_panel(slot, prefix)


# --------------------------------------------------------------------------- the panel
def _html(offer: ExportOffer) -> bytes:
    title = " · ".join(part for part in ("Gradscape", offer.page, offer.setting) if part)
    return html_report(title, offer.built_figures(), offer.report).encode()


def _csv(offer: ExportOffer) -> bytes:
    return history_csv(offer.history).encode()


def _settings(offer: ExportOffer, prefix: str) -> bytes:
    return config_document(offer.page, prefix, offer.controls).encode()


def _weights(offer: ExportOffer) -> bytes:
    return weights_bytes(offer.weights)


def _prepare(offer: ExportOffer, kind: str, formats: list[str]) -> tuple[str, bytes, str]:
    """(file name, content, what it holds) of one slow export, made now."""
    if kind == "figures":
        files = render_static(offer.built_figures(), formats)
        return (offer.file_name(f"figures-{'-'.join(formats)}", "zip"), zip_bytes(files),
                f"{len(offer.figures)} figures × {', '.join(f.upper() for f in formats)}")
    if kind == "animation":
        frames = offer.animation()
        return offer.file_name("replay", "gif"), gif_bytes(frames), f"{len(frames)} frames"
    if kind == "report":
        return offer.file_name("report", "html"), _html(offer), f"{len(offer.figures)} interactive figures"
    if kind == "weights":
        return (offer.file_name("weights", "pt"), _weights(offer),
                "torch.save of the state_dict; read it with torch.load(path, weights_only=True)")
    if kind == "script":
        # No step in its name: the script trains from step 0 (as many steps as the page had when it was made).
        name, text = offer.file_name("script", "py", with_step=False), offer.script()
        return name, text.encode(), f"{text.count(chr(10)):,} lines; needs only torch and numpy: python {name}"
    return offer.file_name("history", "csv"), _csv(offer), f"{len(offer.history)} metrics"


_SLOW = {  # kind -> (label, icon, MIME type)
    "figures": ("figures", ":material/image:", "application/zip"),
    "animation": ("animated GIF", ":material/animation:", "image/gif"),
    "report": ("HTML report", ":material/description:", "text/html"),
    "history": ("metric history (CSV)", ":material/table:", "text/csv"),
    "weights": ("trained weights", ":material/memory:", "application/octet-stream"),
    "script": ("Python script", ":material/code:", "text/x-python"),
}


def _slow_export(slot: _Slot, prefix: str, kind: str, unavailable: str | None = None) -> None:
    """A Prepare button (makes the file now, with a spinner, from what the page shows), then the download of
    what it made. Two steps rather than a download that generates on click: a figures zip takes seconds (Chromium
    draws them) and the spinner says so, and a prepared file survives the page's reruns."""
    label, icon, mime = _SLOW[kind]
    if unavailable:
        st.caption(unavailable)
        return
    formats = []
    if kind == "figures":
        formats = st.pills("Figure formats", STATIC_FORMATS, default=["png"], selection_mode="multi",
                           format_func=str.upper, key=f"export_{prefix}formats",
                           help="PNG at twice the size on screen; SVG and PDF are vector graphics. Each format "
                                "takes a few seconds per figure: Chromium draws them.")
    if st.button(f"Prepare {label}", key=f"export_{prefix}prepare_{kind}", icon=icon, width="stretch",
                 disabled=kind == "figures" and not formats):
        with st.spinner(f"Making the {label}…"):
            try:
                slot.prepared[kind] = _prepare(slot.offer, kind, formats)
            except StaticExportUnavailable as error:
                st.warning(str(error), icon=":material/install_desktop:")
            except ConfigError as error:  # an experiment the export cannot write; the message says why
                st.warning(str(error), icon=":material/front_hand:")
    if kind in slot.prepared:
        name, data, what = slot.prepared[kind]
        st.download_button(f"Download {label}", data, file_name=name, mime=mime, key=f"export_{prefix}get_{kind}",
                           on_click="ignore", icon=":material/download:", width="stretch", help=f"{name}: {what}")


def panel_key(prefix: str) -> str:
    """The Export panel's key: True in Session State while it is open."""
    return f"export_{prefix}panel"


def export_panel(spec_type: type[Spec]) -> None:
    """The sidebar's Export panel for the page whose experiment is a `spec_type`.

    Call it before the page's controls: an imported settings file is applied here, the only moment
    Streamlit lets it set them. `offer_exports` fills the panel later in the same run (from inside a
    live area too: a fragment may write to a container made outside it), so the files it offers are
    always named after what the page shows at that moment."""
    prefix = spec_type.PREFIX
    slot = _slot(prefix)
    _apply_import(slot)
    # Its content is drawn only while it is open (opening it reruns the page): folded, a page's first chart comes
    # 0.08-0.10 s sooner (Playground, Optimizers) without its ~10 elements, and the code of the file uploader and
    # the download button, in a new browser's way (docs/INTERACTION-MEASUREMENTS.md). An import's result is said
    # in it, open then: the uploader is in it.
    panel = st.sidebar.expander("Export", icon=":material/download:", key=panel_key(prefix), on_change="rerun")
    if not panel.open:
        slot.body = None
        return
    with panel:
        if slot.message:
            kind, text = slot.message
            (st.error if kind == "error" else st.success)(text)
        # A container, not an st.empty: until the page has drawn (its end of the run) the panel keeps showing the
        # last run's exports. An empty slot blanked them for the run, and with the panel open every control change
        # pulled the page's controls under it ~500 px up and back down.
        slot.body = st.container()
        uploader = f"export_{prefix}import"
        st.file_uploader("Import settings (JSON)", type=["json"], key=uploader, on_change=_on_import,
                         args=(spec_type, uploader), help="A settings file exported from this page: every control "
                                                       "takes its value from it. A file that does not fit changes "
                                                       "nothing.")


def _draw_panel(slot: _Slot, prefix: str) -> None:
    if slot.body is None:
        return
    try:
        panel = slot.body.container()
    except StreamlitInvalidLayoutContextError:
        return  # a whole run cut short by a click: the next whole run draws the panel
    with panel:
        _draw_exports(slot, prefix)


def _draw_exports(slot: _Slot, prefix: str) -> None:
    offer = slot.offer
    # (no step here: the panel is not redrawn while the model trains; each file's name says its step)
    st.caption(f"Exports **{offer.setting or offer.page}**. Prepare makes a file from what the page "
               "shows at that moment.")
    chromium = None if find_chromium() else "PNG, SVG and PDF need Chromium: `apt-get install chromium`."
    _slow_export(slot, prefix, "figures", chromium if offer.figures else "No figures on the page yet.")
    if offer.animation is not None:
        _slow_export(slot, prefix, "animation")
    _slow_export(slot, prefix, "report")
    if offer.history:
        _slow_export(slot, prefix, "history")
    if offer.weights is not None:
        _slow_export(slot, prefix, "weights")
    if offer.script is not None:
        _slow_export(slot, prefix, "script")
    # A few hundred bytes, made on every draw, so one click downloads them.
    # No step in its name: a name that changed with every live redraw would change the file's address
    # under the click.
    st.download_button("Download settings (JSON)", _settings(offer, prefix), file_name=offer.file_name(
        "settings", "json", with_step=False), mime="application/json", icon=":material/tune:", on_click="ignore",
        key=f"export_{prefix}json", width="stretch", help="Every control of this page; import it again below.")
