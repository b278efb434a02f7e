"""Network Playground: build a network, pick data, and watch it learn."""

from functools import partial

import plotly.graph_objects as go
import streamlit as st

from engine.common.layers import INIT_SCHEMES
from engine.common.schedules import SCHEDULE_FORMULAS
from engine.playground.config import FEATURE_LABELS, n_outputs, parameter_counts
from engine.playground.data import BadUpload, make_dataset, parse_points_csv
from engine.playground.script import DEFAULT_STEPS, playground_script
from engine.playground.spec import (DECOUPLED_DECAY, DROPOUT_CONVENTIONS, FIXED_GAMMA, MAX_HIDDEN_LAYERS,
                                    PlaygroundSpec, is_regression)
from engine.playground.trainer import PlaygroundJob, PlaygroundVisuals
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls, forked_curves
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later
from ui.tables import static_table
from viz import playground as figures
from viz.animation import playground_replay

MAIN_BELOW = 15.0  # rem above the decision boundary in presentation mode: title, buttons, numbers
# A branch's chart compares the two runs' train and test curves, not the noisy minibatch or the validation line.
LEAVE_OUT_OF_FORKS = {f"{curve} {what}" for curve in ("minibatch", "validation") for what in ("loss", "error rate")}
# The sidebar's folded panels, by their expanders' keys (folded_..., not pg_...: no controls of the experiment)
FOLDED = {"schedule": "folded_pg_schedule", "speed": "folded_pg_speed"}


def _on_upload() -> None:
    """Parse an uploaded CSV before the rerun; a bad file leaves the current data untouched."""
    file = st.session_state.get("pg_upload")
    if file is None:
        return
    try:
        st.session_state["pg_uploaded"] = parse_points_csv(file.getvalue())
        st.session_state["pg_data"] = "csv"
        st.session_state.pop("pg_upload_error", None)
    except BadUpload as error:
        st.session_state["pg_upload_error"] = f"{file.name}: {error} Nothing was changed."


def _regenerate() -> None:
    st.session_state["pg_seed"] = (st.session_state.get("pg_seed", 0) + 1) % 100_000


def uploaded_points() -> tuple[tuple[float, float, float], ...] | None:
    """The points of the CSV this session uploaded (data "csv"), if any."""
    return st.session_state.get("pg_uploaded")


def _data_controls(panel: ControlPanel) -> None:
    st.header("Data")
    uploaded = uploaded_points()
    offer = None if uploaded else [kind for kind in panel.controls["data"].options if kind != "csv"]
    kind = panel.draw("data", offer=offer)
    panel.draw("classes")
    panel.draw("points", "noise", disabled=kind == "csv")
    panel.draw("split")
    seed_column, button_column = st.columns([2, 1], vertical_alignment="bottom")
    panel.draw("seed", where=seed_column)
    button_column.button(":material/casino:", key="pg_next_seed", on_click=_regenerate, width="stretch",
                         help="New data and weights: the next seed")
    st.file_uploader("Or upload a CSV of x1, x2, label", type=["csv"], key="pg_upload", on_change=_on_upload,
                     help="Up to 5,000 rows. Integer labels 0–4 make a classification task; other numbers "
                          "a regression task.")
    if "pg_upload_error" in st.session_state:
        st.error(st.session_state["pg_upload_error"])


def _network_controls(panel: ControlPanel) -> None:
    st.header("Network")
    panel.draw("features_1d", "features")
    layers = panel.draw("layers")
    panel.draw("act")
    with st.expander("Neurons and activation per layer", expanded=True) if layers else st.container():
        for layer in range(1, MAX_HIDDEN_LAYERS + 1):
            if layer <= layers:
                left, right = st.columns([1, 1.4])
                panel.draw(f"w{layer}", where=left)
                panel.draw(f"a{layer}", where=right, label_visibility="hidden")
            else:
                panel.draw(f"w{layer}", f"a{layer}")  # not shown: held at the defaults
    init = panel.draw("init")
    st.latex(INIT_SCHEMES[init].formula)
    if panel.draw("bn", "dropout"):
        st.caption(DROPOUT_CONVENTIONS)


def _training_controls(panel: ControlPanel, regression: bool) -> None:
    st.header("Training")
    panel.draw("loss", disabled=regression, help="Regression always uses the mean squared error." if regression
               else "How the output is compared with the labels.")
    optimizer = panel.draw("opt")
    panel.draw("lr", "momentum", "batch")
    # Folded, these panels' controls are held, not drawn (opening one reruns the page): 11 widgets fewer on every
    # first screen and in every run (ui.controls).
    with st.expander("Schedule, regularization, clipping", key=FOLDED["schedule"], on_change="rerun") as folded:
        if folded.open:
            schedule = panel.draw("schedule")
            st.latex(SCHEDULE_FORMULAS[schedule])
            panel.draw("gamma", disabled=schedule in FIXED_GAMMA)
            panel.draw("period", disabled=schedule == "constant")
            panel.draw("power_c")
            panel.draw("l1")
            panel.draw("l2", **(DECOUPLED_DECAY if optimizer == "adamw" else {}))
            panel.draw("clip")
        else:
            panel.hold("schedule", "gamma", "period", "power_c", "l1", "l2", "clip")
    with st.expander("Speed and stopping", key=FOLDED["speed"], on_change="rerun") as folded:
        (panel.draw if folded.open else panel.hold)("speed", "stop_epoch", "target", "patience")


def playground_controls() -> PlaygroundSpec:
    """Draw the sidebar controls and return the experiment they define."""
    panel = ControlPanel(PlaygroundSpec)
    with st.sidebar:
        _data_controls(panel)
        _network_controls(panel)
        _training_controls(panel, is_regression(panel.values["data"], uploaded_points()))
    return panel.spec()


st.title("Network Playground")
export_panel(PlaygroundSpec)
spec = playground_controls()

# Check the experiment before handing it to the trainer, so a bad combination
# explains itself and the network that is training now is left alone.
config = spec.config(uploaded_points())
try:
    dataset = make_dataset(config.data)
    config.validate(dataset)
    problem = None
except ValueError as error:
    problem = str(error)
# After "Branch here" the controls drive the branch, and the original run stays for comparison (ui.forks).
branch = None if problem else branch_job("pg", spec, config)
job = branch or experiment_job("playground", PlaygroundJob, spec, config, problem)
if problem:
    config, dataset = job.config, make_dataset(job.config.data)

job_controls(job, key="pg")
with later("pg_forks"):  # on a projector the network and its output come first
    fork_controls(job, "playground", "pg")
counts = parameter_counts(config, n_outputs(config, dataset))
with later("pg_details"):
    # A plain link (st.page_link needs the app's navigation, which a page tested on its own does not have)
    st.markdown(":material/calculate: Every number of the backward pass of a small network: "
                "[Backprop by hand](backprop)")
    with st.expander(f"Parameters: {sum(c for _, c, _ in counts):,} in total"):
        static_table([{"layer": name, "parameters": count, "n_in·n_out + n_out (+ 2·n_out batch norm)": formula}
                      for name, count, formula in counts])
    st.toggle("Show test points", True, key="pg_show_test")


def training_curves(snap: Snapshot, classification: bool, error_rate: bool) -> go.Figure:
    """A run's loss (and accuracy) curves; the validation loss where early stopping watches it."""
    history = {name: curve for name, curve in snap.curves.items()
               if name != "val_loss" or snap.hyperparameters.get("patience")}
    return figures.training_curves(history, classification, error_rate=error_rate)


def draw(snap: Snapshot) -> None:
    visuals: PlaygroundVisuals | None = snap.visuals
    classification = visuals is not None and visuals.confusion is not None
    perceptron = snap.config.optimizer == "perceptron"  # its "loss" is the error rate: mistakes move the weights
    headline = {"Train error": f"{snap.latest('train_loss'):.1%}", "Test error": f"{snap.latest('test_loss'):.1%}"} \
        if perceptron else {"Train loss": f"{snap.latest('train_loss'):.4f}",
                            "Test loss": f"{snap.latest('test_loss'):.4f}"}
    if classification:
        headline["Test accuracy"] = f"{snap.latest('test_accuracy'):.1%}"
    stopping = visuals.stopping if visuals is not None and snap.hyperparameters.get("patience") else None
    if stopping is not None:
        headline["Optimistic gap"] = f"{stopping.optimism:.4f}"
    if visuals is not None and visuals.kinks is not None:
        headline["Linear pieces"] = f"{len(visuals.kinks[0]) + 1}"
    status_bar(snap, headline)
    if visuals is None:
        return
    shown = snap.config
    data = visuals.dataset
    layer_names = ["Input"] + [f"Layer {i + 1}" for i in range(len(shown.hidden))] + ["Output"]
    unit_names = [[FEATURE_LABELS[f] for f in shown.features]] + \
        [[f"neuron {j + 1}" for j in range(w)] for w in shown.hidden] + \
        [[f"output {j + 1}" for j in range(len(visuals.neurons[-1]))]]
    # File names say what is shown: e.g. output-xor-4x2-tanh-adam-step1200.png
    setting = "-".join([shown.data.kind, "x".join(map(str, shown.hidden)) or "linear", *shown.activations[:1],
                        shown.optimizer])
    charts = Charts()
    left, right = st.columns([1.25, 1], gap="medium")
    charts.show(figures.network_diagram(layer_names, unit_names, visuals.neurons, visuals.weights),
                f"network-{setting}-step{snap.step}", key="pg_network", where=left)
    boundary = figures.decision_boundary(
        visuals.grid_x1, visuals.grid_x2, visuals.surface, data.task, data.x_train, data.y_train,
        data.x_test, data.y_test, show_test=st.session_state.get("pg_show_test", True),
        title=f"Output at step {snap.step:,}", kinks=visuals.kinks)
    charts.show(boundary, f"output-{setting}-step{snap.step}", key="pg_boundary", where=right, main_below=MAIN_BELOW)
    curves, confusion = st.columns([1.6, 1], gap="medium")
    curves_of = partial(training_curves, classification=classification, error_rate=perceptron)
    charts.show(forked_curves("pg", "curves", curves_of, snap, leave_out=LEAVE_OUT_OF_FORKS),
                f"curves-{setting}-step{snap.step}", key="pg_curves", where=curves)
    if stopping is not None:
        curves.caption(f"Early stopping watches the validation loss ({len(data.x_val)} points kept apart from the "
                       f"training and test points) and so far keeps epoch {stopping.epoch:,}, its lowest "
                       f"({stopping.validation:.4g}). {stopping.describe()}")
    if classification:
        charts.show(figures.confusion_matrix(visuals.confusion), f"confusion-{setting}-step{snap.step}",
                    key="pg_confusion", where=confusion)
    offer_exports(spec, "playground", charts, snap, setting=setting, weights=visuals.state,
                  animation=lambda: playground_replay(snap),
                  script=lambda: playground_script(shown, snap.hyperparameters, snap.seed,
                                                   steps=snap.step or DEFAULT_STEPS))


live_area(job, draw)
