"""Network Playground: build a network, pick data, and watch it learn."""

import streamlit as st

from engine.runtime import Snapshot
from engine.playground import FEATURE_LABELS, PlaygroundJob, n_outputs, parameter_counts
from engine.playground_data import make_dataset
from ui.exports import Charts, export_panel, offer_exports
from ui.jobs import session_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later
from ui.playground_controls import playground_controls
from viz import playground as figures
from viz.animation import playground_replay

MAIN_BELOW = 15.0  # rem above the decision boundary in presentation mode: title, buttons, numbers

st.title("Network Playground")
export_panel("pg_")
controls = playground_controls()

# Check the experiment before handing it to the trainer, so a bad combination
# explains itself and the network that is training now is left alone.
config = controls.config
try:
    dataset = make_dataset(config.data)
    config.validate(dataset)
    problem = None
except ValueError as error:
    problem = str(error)

job = session_job("playground", lambda: PlaygroundJob(config, controls.hyperparameters, seed=controls.seed),
                  config=config if problem is None else None, seed=controls.seed,
                  hyperparameters=controls.hyperparameters)
if problem:
    st.error(f"{problem} The network shown is still the previous one.", icon="✋")
    config, dataset = job.config, make_dataset(job.config.data)

job_controls(job, key="pg")
counts = parameter_counts(config, n_outputs(config, dataset))
with later("pg_details"):
    with st.expander(f"Parameters: {sum(c for _, c, _ in counts):,} in total"):
        st.table({"layer": [n for n, _, _ in counts], "parameters": [c for _, c, _ in counts],
                  "n_in·n_out + n_out (+ 2·n_out batch norm)": [f for _, _, f in counts]})
    st.toggle("Show test points", True, key="pg_show_test")


def draw(snap: Snapshot) -> None:
    classification = snap.visuals.get("confusion") is not None
    perceptron = snap.config.optimizer == "perceptron"  # its "loss" is the error rate: mistakes move the weights
    headline = {"Train error": f"{snap.latest('train_loss'):.1%}", "Test error": f"{snap.latest('test_loss'):.1%}"} \
        if perceptron else {"Train loss": f"{snap.latest('train_loss'):.4f}",
                            "Test loss": f"{snap.latest('test_loss'):.4f}"}
    if classification:
        headline["Test accuracy"] = f"{snap.latest('test_accuracy'):.1%}"
    visuals = snap.visuals
    if "kinks" in visuals:
        headline["Linear pieces"] = f"{len(visuals['kinks'][0]) + 1}"
    status_bar(snap, headline)
    if "surface" not in visuals:
        return
    shown = snap.config
    data = visuals["dataset"]
    layer_names = ["Input"] + [f"Layer {i + 1}" for i in range(len(shown.hidden))] + ["Output"]
    unit_names = [[FEATURE_LABELS[f] for f in shown.features]] + \
        [[f"neuron {j + 1}" for j in range(w)] for w in shown.hidden] + \
        [[f"output {j + 1}" for j in range(len(visuals["neurons"][-1]))]]
    # File names say what is shown: e.g. output-xor-4x2-tanh-adam-step1200.png
    setting = "-".join([shown.data.kind, "x".join(map(str, shown.hidden)) or "linear", *shown.activations[:1],
                        shown.optimizer])
    charts = Charts()
    left, right = st.columns([1.25, 1], gap="medium")
    charts.show(figures.network_diagram(layer_names, unit_names, visuals["neurons"], visuals["weights"]),
                f"network-{setting}-step{snap.step}", key="pg_network", where=left)
    boundary = figures.decision_boundary(
        visuals["grid_x1"], visuals["grid_x2"], visuals["surface"], data.task, data.x_train, data.y_train,
        data.x_test, data.y_test, show_test=st.session_state.get("pg_show_test", True),
        title=f"Output at step {snap.step:,}", kinks=visuals.get("kinks"))
    charts.show(boundary, f"output-{setting}-step{snap.step}", key="pg_boundary", where=right, main_below=MAIN_BELOW)
    curves, confusion = st.columns([1.6, 1], gap="medium")
    history = {name: (series.steps, series.values) for name, series in snap.history.items()}
    charts.show(figures.training_curves(history, classification, error_rate=perceptron),
                f"curves-{setting}-step{snap.step}", key="pg_curves", where=curves)
    if classification:
        charts.show(figures.confusion_matrix(visuals["confusion"]), f"confusion-{setting}-step{snap.step}",
                    key="pg_confusion", where=confusion)
    offer_exports("pg_", "playground", charts, snap, setting=setting, weights=visuals["state"],
                  animation=lambda: playground_replay(snap))


live_area(job, draw)
