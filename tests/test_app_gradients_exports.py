"""The Gradient Flow page's Export panel: each file is made and reads back (figures, report, CSV, settings,
weights, GIF), in both modes; a settings file re-imports to the same experiment, across modes, or not at all."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET  # noqa: S405 - parses an SVG this test just made, not untrusted input

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest
from torch import nn

from engine.common.export import load_weights, parse_config_document, weights_bytes
from engine.gradients.deep_config import DeepConfig
from engine.gradients.deep_model import DeepMLP
from engine.gradients.deep_trainer import DeepJob
from engine.playground.data import DataSpec, make_dataset
from engine.gradients.recurrent_config import RecurrentConfig
from engine.gradients.recurrent_model import build_models, recall_batch
from engine.gradients.recurrent_trainer import RecurrentJob
from tests import conftest

from viz.export import find_chromium, render_static

SMALL_DEEP = {"gf_depth": "4", "gf_width": "8"}
SMALL_TIME = {"gf_mode": "Through time", "gf_T": "10", "gf_hidden": "8"}


def open_page(**query) -> AppTest:
    return conftest.open_page("gradients", 60, **query)


def slot(at: AppTest):
    return at.session_state["_exports_gf_"]


def prepare(at: AppTest, *kinds: str) -> dict[str, bytes]:
    """Press each Prepare button; the files the panel made, by file name."""
    conftest.open_export_panel(at, "gf_")
    for kind in kinds:
        at.button(key=f"export_gf_prepare_{kind}").click().run()
        assert not at.exception, kind
    return {name: data for name, data, _ in slot(at).prepared.values()}


def experiment(at: AppTest) -> dict:
    """The report's description of the job shown (config, seed, hyperparameters), less its progress."""
    rows = dict(slot(at).offer.report["Experiment"])
    return {k: v for k, v in rows.items() if k not in ("step", "epoch", "status")}


# --------------------------------------------------------------------------- deep networks
@pytest.fixture(scope="module")
def deep_page() -> AppTest:
    """The page after one epoch of a small deep network, with a probe at every step."""
    at = open_page(**SMALL_DEEP, gf_every="true")  # a probe at every step: the replay has a frame for each
    at.button(key="gf_deep_epoch").click().run()
    assert not at.exception
    return at


def test_deep_mode_offers_every_figure_and_its_files_read_back(deep_page):
    at = deep_page
    offer = slot(at).offer
    step = offer.step
    assert step > 1
    setting = "spiral-relu-he-depth4x8-momentum"
    assert offer.setting == setting
    # every chart on the page, the live area's and the layer-by-layer view's, named by figure, setting and step
    assert sorted(name.split(f"-{setting}-")[0] for name in offer.figures) == sorted([
        "loss", "update-ratio", "gradient-norm-heatmap", "flat-fraction", "activations", "activation-histograms",
        "gradient-norms", "gradient-histograms", "variance-theory"])
    probed = next(int(s.value.split("at step ")[1].replace(",", "")) for s in at.subheader if "at step" in s.value)
    assert 1 <= probed <= step  # the layer-by-layer view shows the latest probe, taken during the epoch
    for name in offer.figures:
        history = name.startswith(("loss", "update-ratio", "gradient-norm-heatmap", "flat-fraction"))
        assert name.endswith(f"-step{step if history else probed}"), name
    files = prepare(at, "report", "history", "weights", "animation")
    stem = f"gradients-{setting}-step{step}"
    report = files[f"{stem}-report.html"].decode()
    assert report.count("Plotly.newPlot(") == 9 and "gf_depth" in report and "weights saved at step" in report
    rows = list(csv.DictReader(io.StringIO(files[f"{stem}-history.csv"].decode())))
    loss = offer.history["loss"]  # the oracle: the job's own record, every digit kept
    kept = [(int(r["step"]), float(r["loss"])) for r in rows if r["loss"]]
    assert kept == list(zip(loss.steps.tolist(), loss.values.tolist())) and kept[-1][0] == step
    state = load_weights(files[f"{stem}-weights.pt"])
    assert set(state) == set(DeepMLP(DeepConfig(depth=4, width=8), 2, 2, torch.Generator()).state_dict())
    gif = Image.open(io.BytesIO(files[f"{stem}-replay.gif"]))
    assert gif.format == "GIF" and gif.n_frames == 1 + min(step, 47)  # initialization, then (up to 47) probes
    assert parse_config_document(json.dumps({"format": "gradscape-experiment", "version": 1, "prefix": "gf_",
                                             "controls": offer.controls}).encode(), "gf_") == offer.controls


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (apt-get install chromium); CI has it")
def test_deep_mode_figures_render_as_png_svg_and_pdf(deep_page):
    figures = slot(deep_page).offer.figures
    picked = {name: fig for name, fig in figures.items() if name.startswith(("gradient-norm-heatmap", "gradient-hist"))}
    assert len(picked) == 2
    files = render_static(picked)
    assert len(files) == 6
    for name, data in files.items():
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and Image.open(io.BytesIO(data)).width >= 2 * 400
        elif name.endswith(".svg"):
            assert ET.fromstring(data).tag.endswith("svg")  # noqa: S314 - our own output
        else:
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]


def trained(job, steps: int):
    """The job's snapshot once it has trained `steps` more steps and paused."""
    goal = job.snapshot().step + steps
    job.wait_applied(job.step(steps), timeout=60)
    return job.wait_for(lambda s: s.step == goal and not s.busy, timeout=60)


def test_deep_weights_reload_to_a_network_giving_the_trained_ones_outputs():
    config = DeepConfig(data=DataSpec(kind="spiral", n_points=300, seed=2), depth=3, width=8, norm="batch")
    job = DeepJob(config, seed=2)
    try:
        snap = trained(job, 25)
        assert snap.visuals.state_step == 25  # paused: the copy is of exactly the step shown
        state = load_weights(weights_bytes(snap.visuals.state))
        data = make_dataset(config.data)
        model = DeepMLP(config, data.input_dim, data.n_classes, torch.Generator())
        model.load_state_dict(state)  # strict: every parameter and batch-norm statistic, nothing else
        model.eval()
        mean, std = snap.visuals.input_standardizer  # what the report tells the reader
        x = torch.tensor((data.x_test - mean) / std)
        trainer = job.trainer
        assert torch.equal(x, trainer.x_test)
        trainer.model.eval()  # paused: the trainer is idle, so the test may read its live model as the oracle
        try:
            with torch.no_grad():
                torch.testing.assert_close(model(x), trainer.model(x), rtol=0, atol=0)
        finally:
            trainer.model.train()
        trained_snapshot = trained(job, 15)  # training on leaves the exported copy alone
        assert trained_snapshot.visuals.state_step == 40
        assert all(torch.equal(state[k], snap.visuals.state[k]) for k in state)
        assert not torch.equal(trained_snapshot.visuals.state["linears.0.weight"], state["linears.0.weight"])
    finally:
        job.stop()


# --------------------------------------------------------------------------- through time
def test_time_mode_offers_its_figures_csv_and_a_replay():
    at = open_page(**SMALL_TIME)
    for _ in range(3):
        at.button(key="gf_time_epoch").click().run()
    assert not at.exception
    offer = slot(at).offer
    setting = "recall-T10-h8-rho0.8-b3-adam"
    assert offer.setting == setting
    assert sorted(name.split(f"-{setting}")[0] for name in offer.figures) == sorted([
        "gradient-through-time", "eigenvalues", "recall-accuracy", "gradient-norm-steps", "linear-rnn"])
    files = prepare(at, "history", "weights", "animation")
    stem = f"gradients-{setting}-step{offer.step}"
    rows = list(csv.DictReader(io.StringIO(files[f"{stem}-history.csv"].decode())))
    assert {"loss_lstm", "grad_norm_gru", "accuracy_rnn_tanh"} <= set(rows[0])
    accuracy = offer.history["accuracy_lstm"]
    assert [float(r["accuracy_lstm"]) for r in rows if r["accuracy_lstm"]] == accuracy.values.tolist()
    assert len(load_weights(files[f"{stem}-weights.pt"])) == 4 * 6  # four cells: 4 recurrent tensors + a head's 2 each
    gif = Image.open(io.BytesIO(files[f"{stem}-replay.gif"]))
    assert gif.n_frames > 2


def test_time_weights_reload_to_cells_giving_the_trained_ones_outputs():
    config = RecurrentConfig(seq_len=8, hidden=8)
    job = RecurrentJob(config, seed=1)
    try:
        snap = trained(job, 20)
        assert snap.visuals.state_step == 20
        cells = nn.ModuleDict(build_models(config, torch.Generator()))
        cells.load_state_dict(load_weights(weights_bytes(snap.visuals.state)))
        x, _ = recall_batch(config.seq_len, 16, torch.Generator().manual_seed(5))
        with torch.no_grad():
            for cell, model in job.trainer.models.items():  # paused: the live models are the oracle
                torch.testing.assert_close(cells[cell](x), model(x), rtol=0, atol=0)
    finally:
        job.stop()


# --------------------------------------------------------------------------- settings
def import_file(at: AppTest, controls: dict, name: str = "settings.json") -> AppTest:
    document = {"format": "gradscape-experiment", "version": 1, "page": "gradients", "prefix": "gf_",
                "controls": controls}
    conftest.open_export_panel(at, "gf_")
    at.file_uploader(key="export_gf_import").set_value((name, json.dumps(document).encode(), "application/json"))
    return at.run()


def test_settings_reimport_to_the_same_experiment_even_from_the_other_mode():
    at = open_page(**SMALL_DEEP)
    at.selectbox(key="gf_act").set_value("tanh").run()
    at.selectbox(key="gf_init").set_value("xavier_normal").run()
    at.select_slider(key="gf_lr").set_value(0.03).run()
    at.number_input(key="gf_seed").set_value(7).run()
    exported, shown = dict(slot(at).offer.controls), experiment(at)
    assert {"gf_act": "tanh", "gf_depth": 4, "gf_seed": 7, "gf_lr": 0.03}.items() <= exported.items()
    assert shown["config.depth"] == "4" and shown["seed"] == 7 and shown["hyperparameter.lr"] == 0.03
    at.segmented_control(key="gf_mode").set_value("time").run()  # another mode: the deep controls are gone
    assert "gf_depth" not in slot(at).offer.controls
    import_file(at, exported)
    assert not at.exception
    assert any("Imported" in s.value for s in at.sidebar.success)
    assert slot(at).offer.controls == exported and experiment(at) == shown

    at.segmented_control(key="gf_mode").set_value("time").run()
    before = dict(slot(at).offer.controls)
    # a file whose mode is fine but whose deep controls (checked once they appear) are not: all or nothing
    import_file(at, {**exported, "gf_depth": 999}, name="too-deep.json")
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert errors and "Nothing was changed" in errors[0] and "gf_depth" in errors[0]
    assert slot(at).offer.controls == before and at.segmented_control(key="gf_mode").value == "time"
