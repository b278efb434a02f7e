"""Every export is produced and reads back: images, report, CSV, settings, weights, GIF; and a
settings file or weights file that does not fit is refused without changing anything."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses an SVG this test just made, not untrusted input

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from engine.common.export import MAX_CONFIG_BYTES, MAX_TEXT, ConfigError, WeightsError, config_document, \
    history_csv, load_weights, parse_config_document, weights_bytes
from engine.common.history import MetricHistory
from engine.playground.config import PlaygroundConfig
from engine.playground.model import network_from_state
from engine.playground.replay import playground_surfaces
from engine.playground.trainer import PlaygroundJob
from engine.optimizers.experiment import Clipping, Experiment, Schedule
from engine.optimizers.surfaces import make_surface
from engine.optimizers.table import OptimizerSpec
from engine.optimizers.trainer import run_experiment
from tests.conftest import ROOT, open_export_panel, open_page
from viz.animation import attention_frames, gif_bytes, optimizer_race, playground_replay
from viz.export import IMAGE_SCALE, StaticExportUnavailable, find_chromium, html_report, render_static

PLAYGROUND = str(ROOT / "app_pages" / "playground.py")


@pytest.fixture(scope="module")
def trained_snapshot():
    """A Playground network after 60 steps (the trajectory then holds every step)."""
    job = PlaygroundJob(PlaygroundConfig(), seed=3)
    try:
        job.wait_applied(job.step(60), timeout=30)
        yield job.wait_for(lambda s: s.step == 60 and not s.busy, timeout=30)
    finally:
        job.stop()


def small_figure(values=(0.123456, 7.654321, 3.5)) -> go.Figure:
    return go.Figure(go.Scatter(y=list(values), name="marker-trace"), layout=dict(width=400, height=300))


# --------------------------------------------------------------------------- PNG, SVG, PDF
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (apt-get install chromium); CI has it")
def test_static_images_have_their_formats_headers_and_twice_the_size():
    files = render_static({"loss curve": small_figure()})
    assert sorted(files) == ["loss-curve.pdf", "loss-curve.png", "loss-curve.svg"]
    png = Image.open(io.BytesIO(files["loss-curve.png"]))
    assert files["loss-curve.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert png.size == (400 * IMAGE_SCALE, 300 * IMAGE_SCALE)
    svg = ET.fromstring(files["loss-curve.svg"])  # noqa: S314 - our own output
    assert svg.tag.endswith("svg") and svg.get("width") == "400"
    assert files["loss-curve.pdf"].startswith(b"%PDF-") and b"%%EOF" in files["loss-curve.pdf"][-64:]


def test_without_chromium_the_panel_says_what_to_install(monkeypatch):
    monkeypatch.setattr("ui.exports.find_chromium", lambda: None)
    monkeypatch.setattr("viz.export.find_chromium", lambda: None)
    with pytest.raises(StaticExportUnavailable, match="apt-get install chromium"):
        render_static({"f": small_figure()})
    at = open_export_panel(AppTest.from_file(PLAYGROUND, default_timeout=60).run(), "pg_")
    assert not at.exception
    assert any("apt-get install chromium" in c.value for c in at.sidebar.caption)
    assert "Prepare figures" not in [b.label for b in at.sidebar.button]


# --------------------------------------------------------------------------- HTML report
def test_html_report_embeds_plotly_once_and_every_figure_and_escapes_text():
    figures = {"first": small_figure((0.123456, 7.654321)), "second": small_figure((42.4242, 1.0))}
    page = html_report("Report <b>", figures, {"Settings": {"pg_data": "<script>alert(1)</script>", "pg_lr": 0.03}})
    assert page.count("* plotly.js v") == 1  # the library, once, inline: opens offline
    assert not re.search(r"<script[^>]*\ssrc=", page)  # nothing fetched from a CDN
    assert page.count("Plotly.newPlot(") == 2
    for value in ("0.123456", "7.654321", "42.4242"):
        assert value in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Report &lt;b&gt;" in page


# --------------------------------------------------------------------------- CSV
def test_history_csv_parses_back_to_every_series_exactly():
    history = MetricHistory(capacity=8)  # small, so compaction (averaged values) is exercised
    rng = np.random.default_rng(0)
    for step in range(1, 41):
        history.record(step, {"train_loss": rng.random() / 3})
        if step % 3 == 0:
            history.record(step, {"test_accuracy": rng.random()})
    frozen = history.frozen()
    rows = list(csv.DictReader(io.StringIO(history_csv(frozen))))
    assert list(rows[0]) == ["step", "test_accuracy", "train_loss"]
    for name, series in frozen.items():
        kept = [(int(r["step"]), float(r[name])) for r in rows if r[name] != ""]
        assert [s for s, _ in kept] == series.steps.tolist()
        assert [v for _, v in kept] == series.values.tolist()  # repr keeps every bit


# --------------------------------------------------------------------------- weights
def test_weights_reload_with_weights_only_to_a_network_giving_the_same_outputs(trained_snapshot):
    snap = trained_snapshot
    state = load_weights(weights_bytes(snap.visuals.state))
    model = network_from_state(snap.config, snap.visuals.dataset, state)
    g1, g2 = snap.visuals.grid_x1, snap.visuals.grid_x2
    mesh1, mesh2 = np.meshgrid(g1, g2)
    with torch.no_grad():
        output = torch.sigmoid(model(torch.from_numpy(np.c_[mesh1.ravel(), mesh2.ravel()]))[:, 0])
    # the oracle: the surface the training job itself computed from its live model
    np.testing.assert_allclose(output.numpy().reshape(len(g2), len(g1)), snap.visuals.surface, atol=1e-6)


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")  # unpickling this creates the marker file


def test_a_weights_file_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(2), "payload": _RunsCodeWhenUnpickled(marker)}, buffer)
    with pytest.raises(WeightsError):
        load_weights(buffer.getvalue())
    assert not marker.exists()
    torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)  # noqa: S614 - shows the payload is live
    assert marker.exists()
    plain = io.BytesIO()
    torch.save({"weight": torch.ones(2), "note": "text"}, plain)
    with pytest.raises(WeightsError, match="state_dict"):
        load_weights(plain.getvalue())


# --------------------------------------------------------------------------- GIF
def test_replay_gif_has_many_frames_and_ends_on_the_jobs_own_surface(trained_snapshot):
    v = trained_snapshot.visuals
    steps, surfaces = playground_surfaces(trained_snapshot.config, v.dataset, v.state, v.trajectory, v.grid_x1,
                                          v.grid_x2, max_frames=12)
    assert steps[0] == 0 and steps[-1] == 60 and len(steps) == 12
    np.testing.assert_allclose(surfaces[-1], v.surface, atol=1e-6)
    gif = Image.open(io.BytesIO(gif_bytes(playground_replay(trained_snapshot, max_frames=12))))
    assert gif.format == "GIF" and gif.n_frames == 12
    first, last = np.asarray(gif.convert("RGB")), None
    gif.seek(gif.n_frames - 1)
    last = np.asarray(gif.convert("RGB"))
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 0.5  # the network moved


def test_optimizer_race_and_attention_gifs():
    surface = make_surface("rosenbrock", 10.0, 0.0)
    specs = tuple(OptimizerSpec.default(kind, surface) for kind in ("gd", "adam"))
    runs = run_experiment(Experiment("rosenbrock", 10.0, 0.0, surface.start, 40, specs, Schedule(),
                                     Clipping("none", 1.0), 0))
    race = Image.open(io.BytesIO(gif_bytes(optimizer_race(surface, runs, surface.start, n_frames=10))))
    assert race.n_frames == 10
    maps = np.zeros((3, 1, 2, 4, 4))
    maps[-1, 0, 1, :, 0] = 1.0  # last frame: head 2 looks at the first key only
    frames = attention_frames(np.array([0, 10, 20]), maps, cell=5)
    assert len(frames) == 3
    pixels = np.asarray(frames[-1])[34:]  # below the caption
    head2_left = pixels[2, 4 * 5 + 8 + 2]  # first key column of head 2
    assert tuple(head2_left) != (255, 255, 255) and tuple(pixels[2, 2]) == (255, 255, 255)


# --------------------------------------------------------------------------- settings JSON
def settings(at: AppTest) -> dict:
    return dict(at.session_state["_exports_pg_"].offer.controls)


def import_file(at: AppTest, content: bytes, name: str = "settings.json") -> AppTest:
    open_export_panel(at, "pg_")
    at.file_uploader(key="export_pg_import").set_value((name, content, "application/json"))
    return at.run()


def test_settings_round_trip_through_a_file_even_for_controls_that_appear_later():
    at = AppTest.from_file(PLAYGROUND, default_timeout=60).run()
    at.slider(key="pg_layers").set_value(3).run()
    at.number_input(key="pg_w3").set_value(6).run()
    at.selectbox(key="pg_opt").set_value("momentum").run()
    at.slider(key="pg_momentum").set_value(0.5).run()
    exported = settings(at)
    assert {"pg_w3": 6, "pg_momentum": 0.5, "pg_layers": 3, "pg_data": "circle"}.items() <= exported.items()
    document = config_document("playground", "pg_", exported).encode()
    at.slider(key="pg_layers").set_value(1).run()
    at.selectbox(key="pg_opt").set_value("sgd").run()
    at.select_slider(key="pg_lr").set_value(1.0).run()
    assert "pg_w3" not in settings(at) and "pg_momentum" not in settings(at)
    import_file(at, document)
    assert not at.exception
    assert settings(at) == exported  # pg_w3 and pg_momentum only existed once layers and optimizer were set
    assert any("Imported" in s.value for s in at.sidebar.success)


def good_document(**changes) -> dict:
    controls = {"pg_data": "xor", "pg_layers": 2, "pg_w1": 4, "pg_w2": 2, "pg_lr": 0.1, "pg_bn": False}
    return {"format": "gradscape-experiment", "version": 1, "page": "playground", "prefix": "pg_",
            "controls": {**controls, **changes}}


BAD_FILES = {
    "malformed JSON": b'{"format": "gradscape-experiment", ',
    "not UTF-8": b"\xff\xfe\x00{",
    "not a settings file": json.dumps([1, 2, 3]).encode(),
    "wrong page": json.dumps({**good_document(), "prefix": "opt_", "page": "optimizers"}).encode(),
    "unknown key": json.dumps(good_document(pg_rocket=1)).encode(),
    "key of another page": json.dumps(good_document(opt_fn="rosenbrock")).encode(),
    "wrong type": json.dumps(good_document(pg_lr="0.1")).encode(),
    "bool for a number": json.dumps(good_document(pg_w1=True)).encode(),
    "number for a toggle": json.dumps(good_document(pg_bn=1)).encode(),
    "out of range": json.dumps(good_document(pg_w1=10_000)).encode(),
    "not an option": json.dumps(good_document(pg_data="<img src=x onerror=alert(1)>")).encode(),
    "NaN": json.dumps(good_document()).replace('"pg_lr": 0.1', '"pg_lr": NaN').encode(),
    "nested too deep": b'{"controls": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "huge": b" " * (MAX_CONFIG_BYTES + 1) + json.dumps(good_document()).encode(),
    "huge text": json.dumps(good_document(pg_data="x" * (MAX_TEXT + 1))).encode(),
    "later control out of range": json.dumps(good_document(pg_layers=3, pg_w3=999)).encode(),
}


def test_each_kind_of_bad_settings_file_is_refused_with_a_message_and_changes_nothing():
    at = AppTest.from_file(PLAYGROUND, default_timeout=60).run()
    before = settings(at)
    import_file(at, json.dumps(good_document()).encode())  # a good file does change things...
    assert settings(at)["pg_data"] == "xor" and settings(at)["pg_lr"] == 0.1
    before = settings(at)
    for what, content in BAD_FILES.items():
        import_file(at, content, name=f"{what}.json")
        assert not at.exception, what
        errors = [e.value for e in at.sidebar.error]
        assert errors and "Nothing was changed" in errors[0], what
        assert settings(at) == before, what  # ...a bad one does not, even when part of it was fine
        if what == "not an option":  # a hostile value is quoted as code, never rendered
            assert "`<img src=x onerror=alert(1)>`" in errors[0]


def test_parse_names_the_problem():
    with pytest.raises(ConfigError, match="another page"):
        parse_config_document(json.dumps({**good_document(), "prefix": "at_"}).encode(), "pg_")
    with pytest.raises(ConfigError, match="not the name of a control"):
        parse_config_document(json.dumps(good_document(**{"pg_x; rm -rf /": 1})).encode(), "pg_")
    assert parse_config_document(json.dumps(good_document()).encode(), "pg_")["pg_w1"] == 4


# --------------------------------------------------------------------------- the panel itself
def test_the_panel_renders_on_the_playground_and_its_files_read_back():
    from ui.exports import _settings

    at = AppTest.from_file(PLAYGROUND, default_timeout=60).run()
    at.button(key="pg_epoch").click().run()
    assert not at.exception
    assert "Export" in [e.label for e in at.sidebar.expander]
    assert not at.sidebar.get("download_button")  # folded: its content is not drawn
    open_export_panel(at, "pg_")
    slot = at.session_state["_exports_pg_"]
    assert len(slot.offer.figures) == 4 and all(name.endswith("-step25") for name in slot.offer.figures)
    for kind in ("report", "history", "weights", "animation"):
        at.button(key=f"export_pg_prepare_{kind}").click().run()
        assert not at.exception, kind
    assert {b.label for b in at.sidebar.get("download_button")} >= {
        "Download HTML report", "Download metric history (CSV)", "Download trained weights", "Download animated GIF",
        "Download settings (JSON)"}
    files = {name: data for name, data, _ in slot.prepared.values()}
    stem = "playground-circle-4x2-tanh-sgd-step25"
    report = files[f"{stem}-report.html"].decode()
    assert report.count("Plotly.newPlot(") == 4 and "pg_lr" in report
    rows = list(csv.DictReader(io.StringIO(files[f"{stem}-history.csv"].decode())))
    assert rows[-1]["step"] == "25" and float(rows[-1]["train_loss"]) > 0
    assert set(load_weights(files[f"{stem}-weights.pt"])) == set(slot.offer.weights)
    assert Image.open(io.BytesIO(files[f"{stem}-replay.gif"])).n_frames > 1
    assert parse_config_document(_settings(slot.offer, "pg_"), "pg_") == slot.offer.controls


def test_files_prepared_before_a_settings_change_are_no_longer_offered():
    """They show the experiment before the change, while the page and the panel name the new one."""
    def downloads(at: AppTest) -> set[str]:
        return {button.label for button in at.sidebar.get("download_button")}

    at = open_export_panel(open_page("attention"), "at_")
    at.button(key="export_at_prepare_report").click().run()
    assert "Download HTML report" in downloads(at)
    assert "Download HTML report" in downloads(at.run())  # a rerun with the same settings keeps the file
    at.number_input(key="at_seed").set_value(5).run()
    assert not at.exception
    assert "Download HTML report" not in downloads(at) and "Download settings (JSON)" in downloads(at)
    at.button(key="export_at_prepare_report").click().run()  # made again: for the new settings
    (_, report, _), = at.session_state["_exports_at_"].prepared.values()
    assert "Download HTML report" in downloads(at) and "<th>at_seed</th><td><code>5</code>" in report.decode()


def test_live_refreshes_leave_the_panel_alone_and_a_file_prepared_while_training_stays():
    """Drawn by the whole-page run, not by each refresh of the live area (a quarter of a training page's
    messages were the panel's, sent again every second); the refreshes drop none of it (the light client drops
    what a fragment run did not redraw, as the browser does), and a file prepared mid-training stays offered."""
    from scripts.browser import running_app
    from scripts.streamlit_client import StreamlitSession

    seen: list[tuple[str, str, str]] = []  # (fragment id, element type, label) of every element received

    def watch(session, path, element, at) -> None:
        kind = element.WhichOneof("type")
        seen.append((session.elements[path].fragment_id, kind, getattr(getattr(element, kind), "label", "")))

    def refreshes() -> int:
        return sum(1 for fragment, kind, label in seen if fragment and kind == "metric" and label == "Step")

    async def tour(url: str) -> None:
        session = StreamlitSession(url, "t", on_element=watch)
        await session.connect()
        try:
            assert (await session.open("playground")).ok
            assert session.button("Prepare figures") is None  # the panel is folded: its content is not drawn
            await session.open_expander("Export")
            await session.until(lambda s: s.button("Prepare figures") is not None, 30)
            await session.click("Train")
            await session.until(lambda s: s.button("Pause") is not None, 30)
            seen.clear()
            await session.until(lambda s: refreshes() >= 3, 30)
            assert not [label for fragment, kind, label in seen if fragment and label.startswith(("Prepare", "Down"))]
            assert session.button("Prepare figures") is not None and session.metric("Step") not in (None, "0")
            await session.click("Prepare metric history (CSV)")
            downloads = lambda s: [b.label for b in s.of_type("download_button")]  # noqa: E731
            await session.until(lambda s: "Download metric history (CSV)" in downloads(s), 30)
            seen.clear()
            await session.until(lambda s: refreshes() >= 2, 30)
            assert "Download metric history (CSV)" in downloads(session) and not session.exceptions
            # Another page next: its panel only (the Playground's offer, kept by its refreshes, is not drawn here)
            assert (await session.open("attention")).ok
            await session.open_expander("Export")
            await session.until(lambda s: any(m.body.startswith("Exports **") for m in s.of_type("markdown")), 30)
            panels = [m.body for m in session.of_type("markdown") if m.body.startswith("Exports **")]
            assert len(panels) == 1 and "circle" not in panels[0] and not session.exceptions, panels
        finally:
            await session.close()

    with running_app(env={"GRADSCAPE_JOBS": "threads"}) as (url, _):
        asyncio.run(tour(url))
