"""The Export panel every page shows: its figures as PNG/SVG/PDF, an offline HTML report, the metric
history as CSV, the settings as importable JSON, the trained weights, and an animated GIF.

A page wires it with two calls (see docs/CONVENTIONS.md, "Exports"):

    export_panel("pg_")                                             # before the page's controls
    offer_exports("pg_", "playground", charts, snap, setting=...)   # where the figures are drawn

`export_panel` makes the sidebar panel and applies an imported settings file: it must run before
the controls, the only moment Streamlit lets a setting change a widget. `offer_exports` hands over
what the page drew and fills the panel (from inside a live area too), so file names always say
what the page shows. Nothing is rendered until asked: each export has a Prepare button that makes
the file from what the page shows then, and a download of it (only the few-hundred-byte settings
file is made on every draw).

Settings: a page's settings are the values of its URL-bound controls (keys with its prefix), so
a settings file and a shared link hold the same thing. An imported file is checked in full before
anything changes, with each control's own rules (range, options, type) as Streamlit applies them
to a link. A control that only appears once another setting is applied (the third layer's width
after "3 layers") is checked on the next run, and if it is refused the settings already applied
are put back: an import changes everything or nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping

import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image
from streamlit.errors import StreamlitInvalidLayoutContextError
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
from streamlit.runtime.state.session_state_proxy import get_session_state

from engine.common.export import MAX_CONFIG_BYTES, MAX_REPORTED, ConfigError, config_document, history_csv, \
    parse_config_document, plain_value, shown, weights_bytes, zip_bytes
from engine.common.history import Series
from engine.runtime import Snapshot
from ui.sharing import fit_to_screen, presenting
from viz.animation import gif_bytes
from viz.export import STATIC_FORMATS, StaticExportUnavailable, find_chromium, html_report, render_static
from viz.theme import chart_config, for_presentation, safe_filename

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

    def built_figures(self) -> dict[str, go.Figure]:
        return {name: figure() if callable(figure) else figure for name, figure in self.figures.items()}

    def file_name(self, what: str, extension: str, with_step: bool = True) -> str:
        """E.g. playground-xor-4x2-tanh-adam-step1200-figures-png.zip."""
        step = f"step{self.step}" if with_step and self.step is not None else ""
        words = "-".join(part for part in (self.page, self.setting, step, what) if part)
        return f"{safe_filename(words)}.{extension}"


@dataclass
class _Import:
    """A settings file being applied: `ready` is set before the next run's controls, `pending` waits
    for its controls to appear, `backup` restores the page if a later stage is refused."""

    name: str
    pending: dict[str, Any]
    backup: dict[str, Any]
    ready: dict[str, Any] = field(default_factory=dict)
    applied: int = 0


@dataclass
class _Slot:
    """A page's export state in this session. Download buttons that generate on click read `offer`
    then (on another thread), so they always export what the page shows at that moment."""

    offer: ExportOffer | None = None
    controls: dict[str, Any] = field(default_factory=dict)  # the settings drawn in the last whole-page run
    importing: _Import | None = None
    message: tuple[str, str] | None = None  # ("error" | "success", text) of the last import
    body: Any = None  # the panel's container, made by export_panel in this run
    prepared: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # kind -> (file name, data, label)


def _slot(prefix: str) -> _Slot:
    return st.session_state.setdefault(f"_exports_{prefix}", _Slot())


# --------------------------------------------------------------------------- a page's settings
# Streamlit keeps no public record of a widget's rules or of which widgets a run drew, so these two
# read its private state (streamlit 1.67, pinned in requirements.txt). tests/test_exports.py drives
# the Playground's settings through them, so an upgrade that moves them fails loudly, not silently.
def _widget_id(key: str) -> str:
    safe = get_session_state()
    with safe._lock:
        return safe._state._get_widget_id(key)


def _widget_metadata(key: str):
    """The widget with this key as last drawn: its serializer, options, URL binding."""
    safe = get_session_state()
    with safe._lock:
        return safe._state.get_widget_metadata(safe._state._get_widget_id(key))


def _whole_page_run() -> bool:
    """False in a fragment's own rerun (a live area refreshing), where the sidebar was not redrawn."""
    return not get_script_run_ctx().fragment_ids_this_run


def drawn_controls(prefix: str) -> dict[str, Any]:
    """The page's settings: every URL-bound widget with the prefix that this run drew, as JSON values.
    (Streamlit keeps the values of bound widgets that are not drawn, e.g. layer 3's width after
    going back to 2 layers; they are not settings of the experiment shown.)"""
    drawn = get_script_run_ctx().shared.widget_ids_this_run
    controls = {}
    for key in list(st.session_state):
        if not (isinstance(key, str) and key.startswith(prefix)) or _widget_id(key) not in drawn:
            continue
        metadata = _widget_metadata(key)
        if metadata is None or metadata.bind != "query-params":
            continue
        try:
            controls[key] = plain_value(st.session_state[key])
        except TypeError:
            continue  # e.g. a date: not a setting a file can carry
    return controls


def _family(value: Any) -> str:
    if value is None or isinstance(value, (bool, str, list)):
        return type(value).__name__
    return "number" if isinstance(value, (int, float)) else "other"


def _check_control(key: str, value: Any) -> tuple[Any, str | None]:
    """(the value as the widget holds it, None) if the control accepts `value`, else (None, why not).

    The same test Streamlit applies to a value from a link: serialize it as the widget would and read
    it back; a value out of range, not among the options, or of another type does not survive that."""
    metadata = _widget_metadata(key)
    try:
        wire = metadata.serializer(value)
        back = metadata.deserializer(wire)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError):
        return None, "is not a value this control takes"
    if isinstance(back, tuple):
        back = list(back)
    if _family(back) != _family(value) or back != value:
        return None, "is out of range, not one of the options, or of the wrong type"
    options = metadata.formatted_options
    items = wire if isinstance(wire, list) else [wire]
    if options is not None and any(str(item) not in options for item in items):
        return None, "is not one of the options"
    limit = getattr(metadata, "max_array_length", None)
    if limit is not None and isinstance(value, list) and len(value) > limit:
        return None, f"has more than {limit} items"
    current = st.session_state.get(key)
    # Free-form controls (text, numbers, toggles) keep their type; option widgets may mix types.
    if options is None and metadata.value_type != "string_array_value" and current is not None \
            and _family(value) != _family(current):
        return None, f"should be a {_family(current)}, not a {_family(value)}"
    return back, None


def _split(controls: Mapping[str, Any], on_page: Collection[str]) -> tuple[dict[str, Any], dict[str, Any],
                                                                             list[str]]:
    """(accepted values, values for controls not on the page now, problems)."""
    accepted, absent, problems = {}, {}, []
    for key, value in controls.items():
        if key not in on_page:
            absent[key] = value
            continue
        canonical, problem = _check_control(key, value)
        if problem:
            problems.append(f"{shown(key)} = {shown(value)} {problem}")
        else:
            accepted[key] = canonical
    return accepted, absent, problems


def _refuse(slot: _Slot, name: str, reason: str) -> None:
    slot.message = ("error", f"**{shown(name, 60)} was not imported**: {reason}. Nothing was changed.")


def _problems_text(problems: list[str]) -> str:
    more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    return "; ".join(problems[:MAX_REPORTED]) + more


def _on_import(prefix: str, uploader_key: str) -> None:
    """The uploader's callback: checks the file against the controls the page drew last; what passes is
    set by `export_panel` at the top of the next whole-page run. (Not here: while a live area refreshes,
    the callback can run in a fragment's rerun, after which the sidebar's widgets would overwrite it.)"""
    file = st.session_state.get(uploader_key)
    slot = _slot(prefix)
    slot.message = None
    if file is None:
        return
    slot.importing = None
    if file.size > MAX_CONFIG_BYTES:
        _refuse(slot, file.name, f"it is {file.size:,} bytes; a settings file is at most {MAX_CONFIG_BYTES:,}")
        return
    try:
        controls = parse_config_document(file.getvalue(), prefix)
    except ConfigError as error:
        _refuse(slot, file.name, str(error))
        return
    accepted, absent, problems = _split(controls, slot.controls)
    if problems:
        _refuse(slot, file.name, _problems_text(problems))
        return
    backup = {key: st.session_state[key] for key in accepted if key in st.session_state}
    slot.importing = _Import(file.name, absent, backup, ready=accepted)


def _finish(slot: _Slot) -> None:
    done = slot.importing
    slot.importing = None
    slot.message = ("success", f"Imported {done.applied} settings from {shown(done.name, 60)}.")


def _rollback(slot: _Slot, reason: str) -> None:
    done = slot.importing
    slot.importing = _Import(done.name, {}, {}, ready=done.backup)
    _refuse(slot, done.name, reason)


def _continue_import(slot: _Slot) -> None:
    """After the controls were drawn: check the settings whose controls have appeared since."""
    done = slot.importing
    if done is None or not done.pending or done.ready:
        return
    appeared = {key: value for key, value in done.pending.items() if key in slot.controls}
    if not appeared:
        unknown = [shown(key) for key in done.pending]
        _rollback(slot, f"{', '.join(unknown[:MAX_REPORTED])}: not a control on this page")
    else:
        accepted, _, problems = _split(appeared, slot.controls)
        if problems:
            _rollback(slot, _problems_text(problems))
        else:
            done.ready = accepted
            done.pending = {key: value for key, value in done.pending.items() if key not in accepted}
            done.backup.update({key: st.session_state[key] for key in accepted if key in st.session_state})
    st.rerun(scope="app")


def _apply_ready(slot: _Slot) -> None:
    """Before the controls are drawn: set what the last stage checked (or the backup, on a refusal)."""
    done = slot.importing
    if done is None or not done.ready:
        return
    for key, value in done.ready.items():
        st.session_state[key] = value
    if slot.message and slot.message[0] == "error":  # a rollback, now complete
        slot.importing = None
        return
    done.applied += len(done.ready)
    done.ready = {}
    if not done.pending:
        _finish(slot)


# --------------------------------------------------------------------------- what a page hands over
class Charts(dict):
    """The figures a page draws, by file name. `charts.show(fig, name, key=...)` draws one whose own
    download button saves `name`.png at 2x, and keeps it for the Export panel. With `visible=False`
    (a tab that is not open) it is only kept: sending a big figure to the browser on every live
    refresh costs the server more than drawing it."""

    def show(self, figure: go.Figure | Callable[[], go.Figure], name: str, *, key: str, where: Any = None,
             image_format: str = "png", visible: bool = True, main_below: float | None = None,
             **kwargs: Any) -> Any:
        """`figure` may be a function that builds it: a hidden one is then built only if an export asks.
        In presentation mode text is sized for a projector, and the page's main chart (`main_below`: the
        rem of page above it) fills the rest of the screen's height (ui.sharing.fit_to_screen)."""
        if not visible:
            self[name] = figure
            return None
        self[name] = figure = figure() if callable(figure) else figure
        config = chart_config(name, image_format)
        if not presenting():
            return (where or st).plotly_chart(figure, key=key, config=config, **kwargs)
        for_presentation(figure)
        if main_below is None:
            return (where or st).plotly_chart(figure, key=key, config=config, **kwargs)
        with where if where is not None else contextlib.nullcontext():  # in the column asked for
            with fit_to_screen(f"{key}_screen", main_below, int(figure.layout.height or 450)):
                return st.plotly_chart(figure, key=key, config=config, height="stretch", **kwargs)


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


def offer_exports(prefix: str, page: str, figures: Mapping[str, go.Figure], snapshot: Snapshot | None = None, *,
                  setting: str = "", history: Mapping[str, Series] | None = None,
                  weights: Mapping[str, torch.Tensor] | None = None,
                  animation: Callable[[], list[Image.Image]] | None = None,
                  details: Mapping[str, Any] | None = None) -> None:
    """Hand the panel what the page shows: `figures` by file name (the names the charts' own buttons
    use), the job's `snapshot` (history, step, config), and optionally the trained `weights`, an
    `animation` (a function returning GIF frames, called only when asked) and extra `details` rows.
    Call it after the controls, where the figures are drawn (in a live area: inside draw)."""
    slot = _slot(prefix)
    if _whole_page_run():
        slot.controls = drawn_controls(prefix)
        _continue_import(slot)
    elif slot.importing is not None and slot.importing.ready:
        st.rerun(scope="app")  # an import arrived during a live refresh: the controls are set in a whole run
    history = history if history is not None else (snapshot.history if snapshot is not None else {})
    latest = {name: series.last for name, series in history.items() if len(series)}
    report = {"Latest metrics": {k: v if math.isfinite(v) else str(v) for k, v in latest.items()}}
    if snapshot is not None:
        report["Experiment"] = _experiment_rows(snapshot)
    if details:
        report["Details"] = {k: _table_text(v) for k, v in details.items()}
    report["Settings (importable)"] = dict(sorted(slot.controls.items()))
    slot.offer = ExportOffer(page, setting, None if snapshot is None else snapshot.step, dict(figures),
                             report["Settings (importable)"], history, report, weights, animation)
    if slot.body is not None:
        try:
            panel = slot.body.container()
        except StreamlitInvalidLayoutContextError:
            return  # a live refresh after a whole run cut short by a click: the next whole run draws the panel
        with panel:
            _draw_exports(slot, prefix)


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
    return offer.file_name("history", "csv"), _csv(offer), f"{len(offer.history)} metrics"


_SLOW = {  # kind -> (label, icon, MIME type)
    "figures": ("figures", ":material/image:", "application/zip"),
    "animation": ("animated GIF", ":material/animation:", "image/gif"),
    "report": ("HTML report", ":material/description:", "text/html"),
    "history": ("metric history (CSV)", ":material/table:", "text/csv"),
    "weights": ("trained weights", ":material/memory:", "application/octet-stream"),
}


def _slow_export(slot: _Slot, prefix: str, kind: str, unavailable: str | None = None) -> None:
    """A Prepare button (makes the file now, with a spinner), then the download of what it made.

    Two steps rather than a download that generates on click: a live area redraws the panel twice
    a second, which would drop such a download before it ran; a prepared file survives redraws."""
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
    if kind in slot.prepared:
        name, data, what = slot.prepared[kind]
        st.download_button(f"Download {label}", data, file_name=name, mime=mime, key=f"export_{prefix}get_{kind}",
                           on_click="ignore", icon=":material/download:", width="stretch", help=f"{name}: {what}")


def export_panel(prefix: str) -> None:
    """The sidebar's Export panel for the page whose widget keys start with `prefix`.

    Call it before the page's controls: an imported settings file is applied here, the only moment
    Streamlit lets it set them. `offer_exports` fills the panel later in the same run (from inside a
    live area too: a fragment may write to a container made outside it), so the files it offers are
    always named after what the page shows at that moment."""
    slot = _slot(prefix)
    _apply_ready(slot)
    with st.sidebar.expander("Export", icon=":material/download:", expanded=slot.message is not None):
        if slot.message:
            kind, text = slot.message
            (st.error if kind == "error" else st.success)(text)
        slot.body = st.empty()
        slot.body.caption("The exports appear once the page has drawn its figures.")
        uploader = f"export_{prefix}import"
        st.file_uploader("Import settings (JSON)", type=["json"], key=uploader, on_change=_on_import,
                         args=(prefix, uploader), help="A settings file exported from this page: every control "
                                                       "takes its value from it. A file that does not fit changes "
                                                       "nothing.")


def _draw_exports(slot: _Slot, prefix: str) -> None:
    offer = slot.offer
    at_step = "" if offer.step is None else f" at step {offer.step:,}"
    st.caption(f"Exports **{offer.setting or offer.page}**{at_step}. Prepare makes a file from what the page "
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
    # A few hundred bytes, made on every draw, so one click downloads them.
    # No step in its name: a name that changed with every live redraw would change the file's address
    # under the click.
    st.download_button("Download settings (JSON)", _settings(offer, prefix), file_name=offer.file_name(
        "settings", "json", with_step=False), mime="application/json", icon=":material/tune:", on_click="ignore",
        key=f"export_{prefix}json", width="stretch", help="Every control of this page; import it again below.")
