"""Attention: watch a small transformer (or an RNN with attention) learn where to look, live."""

import numpy as np
import streamlit as st

from engine.attention.job import AttentionJob
from engine.attention.labels import PATTERN_NAMES
from engine.attention.spec import CUSTOM, PRESET_LABELS, PRESET_SPECS, AttentionSpec
from engine.attention.tasks import parse_tokens
from engine.runtime import Snapshot
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls, forked_curves
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, status_bar
from ui.sharing import later, presenting
from viz import attention as figures
from viz.animation import attention_replay


def _apply_preset() -> None:
    name = st.session_state["at_preset"]
    if name != CUSTOM:  # "Custom" keeps the controls as they are
        st.session_state.update({AttentionSpec.PREFIX + field: value
                                 for field, value in PRESET_SPECS[name].preset_fields().items()})


def attention_controls() -> AttentionSpec:
    """Draw the sidebar controls and return the experiment they define."""
    panel = ControlPanel(AttentionSpec)
    with st.sidebar:
        preset_box = st.container()  # filled once the controls below have read the URL, to say what they hold
        st.header("Task")
        task = panel.draw("task")
        panel.draw("vocab", "len")
        panel.draw("segment", disabled=task != "induction")
        panel.draw("train")
        st.header("Model")
        transformer = panel.draw("family") == "transformer"
        panel.draw("layers", "heads", "width", "causal", "pos", "scale", "attn_only", disabled=not transformer)
        st.header("Training")
        panel.draw("lr", "batch", "speed", "seed")
    spec = panel.spec()
    # Not in the URL itself: it shows the preset a link's (or the user's) control values amount to.
    st.session_state["at_preset"] = spec.preset()
    preset_box.selectbox("Preset (tuned settings)", list(PRESET_LABELS), key="at_preset", on_change=_apply_preset,
                         format_func=PRESET_LABELS.get,
                         help="Fills every control below with a setting known to learn; “Custom” when they hold "
                              "none of them.")
    return spec


MAIN_BELOW = 21.5  # rem above the model view in presentation mode: title, buttons, numbers, tabs, example
ADDITIVE_NOTE = (
    "**Why the additive model looks one position off.** Bahdanau attention chooses where to look from the "
    "decoder state *before* it has read the token it just wrote, and it weighs encoder *states*, not tokens. A "
    "bidirectional encoder's state at position i already carries its neighbours, so the model often settles on "
    "the state next to the mirrored one and reads the token it needs from there: the outputs are right while "
    "the anti-diagonal mass stays low. Luong attention scores with the new state and lands on the diagonal.")

st.title("Attention")
later("at_intro").caption(
    "A small model learns a sequence task from scratch. Every heatmap is a real attention matrix: rows are the "
    "positions that look (queries), columns the positions looked at (keys); orange dots mark where the task says "
    "to look.")
export_panel(AttentionSpec)
spec = attention_controls()
job = branch_job("at", spec) or experiment_job("attention", AttentionJob, spec)
config = job.config
job_controls(job, key="at")
with later("at_forks"):
    fork_controls(job, "attention", "at")


def request_ablation(job: AttentionJob) -> None:
    ticket = job.set_hyperparameters(ablation_request=job.snapshot().hyperparameters["ablation_request"] + 1)
    try:
        job.wait_applied(ticket, timeout=10.0)
    except TimeoutError:
        pass


heads = [(layer, head) for layer in range(config.n_layers) for head in range(config.n_heads)]
transformer = config.architecture == "transformer"
typed, switches, measure = later("at_inputs").columns([2, 2, 1], vertical_alignment="bottom")
text = typed.text_input("Your sequence", key="at_query",
                        placeholder="e.g. " + " ".join(str((3 * i + 1) % config.vocab_size)
                                                       for i in range(config.seq_len)),
                        help="Tokens 0 … vocabulary−1, separated by spaces; the model's answer and its "
                             "attention appear in the 'Your sequence' tab.")
query = None
if text.strip():
    try:
        query = tuple(parse_tokens(text, config.task_spec()))
    except ValueError as error:
        typed.error(f"{error}.", icon=":material/edit:")
off = switches.multiselect("Heads switched off", heads, key=f"at_off_{config.n_layers}x{config.n_heads}",
                           format_func=lambda h: figures.head_name(*h), disabled=not transformer,
                           help="Evaluation, prediction and the drawn attention run without these heads.")
measure.button("Measure ablation", key="at_ablate", on_click=request_ablation, args=(job,), disabled=not transformer,
               help="Held-out accuracy with each head switched off alone")
wanted = {"query": query, "heads_off": tuple(off) if transformer else ()}
current = job.snapshot().hyperparameters
changed = {name: value for name, value in wanted.items() if current.get(name) != value}
if changed:
    try:
        job.wait_applied(job.set_hyperparameters(**changed), timeout=3.0)
    except TimeoutError:
        pass


def setting(snap: Snapshot) -> str:
    """The experiment in file names: e.g. reverse-transformer-2L2H or copy-rnn-luong."""
    c = snap.config
    model = f"transformer-{c.n_layers}L{c.n_heads}H" if c.architecture == "transformer" else f"rnn-{c.rnn_attention}"
    return f"{c.task}-{model}"


def model_view_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, pattern = snap.visuals, PATTERN_NAMES[snap.config.task]
    n = len(v.query_labels)
    example = st.radio("Held-out example", range(n), key="at_example", horizontal=True,
                       format_func=lambda i: f"#{i + 1}", label_visibility="collapsed" if presenting() else "visible")
    charts.show(lambda: figures.model_view(v.attention[example], v.query_labels[example],
                                           v.key_labels[example], v.ideal[example], v.heads_off),
                f"attention-{setting(snap)}-example{example + 1}-step{snap.step}", key="at_model_view", visible=shown,
                main_below=MAIN_BELOW)
    scored = v.expected[example] >= 0
    right = int((v.predictions[example][scored] == v.expected[example][scored]).sum())
    st.caption(f"Example #{example + 1}: {right} of {int(scored.sum())} outputs right. Best head for the "
               f"{pattern}: {figures.head_name(*v.best_head)} ({v.pattern_mass.max():.2f}).")
    if snap.config.architecture == "rnn" and snap.config.rnn_attention == "additive":
        st.info(ADDITIVE_NOTE, icon=":material/lightbulb:")


def lines_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, shape = snap.visuals, snap.visuals.attention.shape
    pick_head, pick_token, pick_threshold = st.columns(3)
    head = pick_head.selectbox("Head", [(layer, h) for layer in range(shape[1]) for h in range(shape[2])],
                               key="at_line_head", format_func=lambda h: figures.head_name(*h))
    labels = v.query_labels[0]
    token = pick_token.selectbox("Token", [None, *range(len(labels))], key="at_line_token",
                                 format_func=lambda q: "all tokens" if q is None else f"{q}: {labels[q]}")
    threshold = pick_threshold.slider("Hide links weaker than", 0.0, 0.9, 0.05, 0.05, key="at_threshold")
    charts.show(lambda: figures.head_lines(v.attention[0, head[0], head[1]], labels, v.key_labels[0], token,
                                           threshold, title=f"{figures.head_name(*head)}, held-out example #1"),
                f"attention-lines-{setting(snap)}-L{head[0] + 1}H{head[1] + 1}-step{snap.step}", key="at_lines",
                visible=shown)


def sequence_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    prediction, error = snap.visuals.prediction, snap.visuals.query_error
    if error:
        st.error(error)
    if prediction is None:
        st.info("Type a sequence above to see what the model makes of it.")
        return
    expected = " ".join("·" if e is None else str(e) for e in prediction.expected)
    verdict = {True: ":green[**right**]", False: ":red[**wrong**]", None: "(no repeat to check)"}[prediction.correct]
    st.markdown(f"**Input** `{' '.join(map(str, prediction.tokens))}` → **prediction** "
                f"`{' '.join(map(str, prediction.predicted))}` · expected `{expected}` {verdict}")
    charts.show(lambda: figures.model_view(prediction.attention, prediction.query_labels, prediction.key_labels,
                                           heads_off=snap.visuals.heads_off, title="Attention on your sequence"),
                f"attention-typed-{setting(snap)}-step{snap.step}", key="at_typed_view", visible=shown)


def timeline_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    steps, maps = snap.visuals.timeline_steps, snap.visuals.timeline_attention
    share = st.slider("How far into training (%)", 0, 100, 100, key="at_scrub",
                      help=f"{len(steps)} attention snapshots, evenly spread over the run so far")
    index = int(round(share / 100 * (len(steps) - 1)))
    charts.show(lambda: figures.model_view(maps[index][0], snap.visuals.query_labels[0],
                                           snap.visuals.key_labels[0], snap.visuals.ideal[0],
                                           title=f"Attention at step {int(steps[index]):,} (held-out example #1)"),
                f"attention-timeline-{setting(snap)}-step{int(steps[index])}", key="at_timeline", visible=shown)


def ablation_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    if not snap.visuals.is_transformer:
        st.info("The RNN has a single attention, so there is no head to switch off.")
    elif snap.visuals.ablation is None:
        st.info("Press **Measure ablation** to switch each head off in turn and measure the held-out accuracy.")
    else:
        ablation = snap.visuals.ablation
        charts.show(lambda: figures.ablation_heatmap(ablation.token_accuracy, ablation.baseline_token_accuracy,
                                                     title="Held-out tokens right with one head off"),
                    f"attention-ablation-{setting(snap)}-step{snap.visuals.ablation_step}", key="at_ablation",
                    visible=shown)
        st.caption(f"Measured at step {snap.visuals.ablation_step:,}. Sequences fully right: "
                   f"{ablation.baseline_sequence_accuracy:.1%} with every head, "
                   + ", ".join(f"{figures.head_name(layer, h)} off: {ablation.sequence_accuracy[layer, h]:.1%}"
                               for layer, h in np.ndindex(ablation.sequence_accuracy.shape)) + ".")


def curves_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    charts.show(lambda: forked_curves("at", "curves", lambda run: figures.training_curves(
        run.curves, PATTERN_NAMES[run.config.task]), snap),
                f"attention-curves-{setting(snap)}-step{snap.step}", key="at_curves", visible=shown)


def positions_tab(snap: Snapshot, charts: Charts, shown: bool) -> None:
    if snap.visuals.positional_encoding is None:
        st.info("This model has no positional encoding to show (switched off, or an RNN, which reads in order).")
        return
    charts.show(lambda: figures.positional_view(snap.visuals.positional_encoding,
                                                snap.visuals.positional_similarity),
                f"positional-{snap.config.positional}-{setting(snap)}", key="at_positions", visible=shown)


def draw(snap: Snapshot) -> None:
    pattern = PATTERN_NAMES[snap.config.task]
    status_bar(snap, {"Held-out sequences": f"{snap.latest('heldout_sequence_accuracy'):.1%}",
                      "Held-out tokens": f"{snap.latest('heldout_token_accuracy'):.1%}",
                      pattern.capitalize(): f"{snap.latest('pattern_mass'):.2f}"})
    if snap.visuals is None:
        return
    # Lazy tabs: only the open one's charts are built and sent; the others are built if an export asks.
    tabs = st.tabs(["Model view", "Head lines", "Your sequence", "Training timeline", "Curves", "Ablation",
                    "Positions"], key="at_tab", on_change="rerun", bind="query-params")
    charts = Charts()
    for tab, draw_tab in zip(tabs, (model_view_tab, lines_tab, sequence_tab, timeline_tab, curves_tab, ablation_tab,
                                    positions_tab)):
        with tab:
            draw_tab(snap, charts, tab.open is not False)
    offer_exports(spec, "attention", charts, snap, setting=setting(snap), weights=snap.visuals.state,
                  animation=lambda: attention_replay(snap))


live_area(job, draw)
