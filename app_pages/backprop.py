"""Backprop by hand: every number of a small network, forward and backward, for one example and the minibatch;
step through the passes, click a unit or an edge for its formula with the numbers in, edit any weight, check the
gradients against finite differences, and try computing one yourself. Everything is float64 NumPy in the page
run (a network of at most 3 × 4 units): no job."""

import numpy as np
import streamlit as st

from engine.backprop import formulas
from engine.backprop.checks import gradient_check
from engine.backprop.network import permute_hidden_units, run, surface
from engine.backprop.presets import PRESETS
from engine.backprop.spec import BackpropSpec, weights_text
from engine.common.limits import ConfigError
from ui.backprop import drag_in_focus, fit_and_stuck_note, gradient_check_panel, weight_tables
from ui.chart_component import clicked_points
from ui.controls import ControlPanel
from ui.delivery import fragment
from ui.exports import Charts, export_panel, offer_exports
from ui.sharing import later, presenting
from viz import backprop as figures

STATE = st.session_state
MAIN_BELOW = 20.0  # rem above the graph in presentation mode: title, stage controls, formula
QUIZ_TOLERANCE = (1e-3, 0.01)  # absolute, relative: an answer within either is right
ALL_STAGES = 10**6  # "the last stage", whatever the network's
LIVE_EVERY_S, LIVE_STEPS = 0.5, 20  # Train live: 40 gradient steps a second (a step here is ~0.1 ms of NumPy)


def set_weights(flat) -> None:
    STATE["bp_weights"] = weights_text(flat)


def apply_preset() -> None:
    preset = PRESETS.get(STATE.get("bp_preset"))
    if preset is None:
        return
    STATE["bp_data"], STATE["bp_layers"] = preset.data, len(preset.arch.hidden)
    if preset.arch.hidden:
        STATE["bp_width"], STATE["bp_act"] = preset.arch.hidden[0], preset.arch.activation
    set_weights(preset.weights)
    STATE["bp_stage"] = ALL_STAGES


def clear_weights() -> None:
    """A new architecture starts from the seed's random weights (the old ones no longer fit), every stage shown."""
    STATE["bp_weights"] = ""
    STATE["bp_stage"] = ALL_STAGES


export_panel(BackpropSpec)
panel = ControlPanel(BackpropSpec)
with st.sidebar:
    st.selectbox("Start from a network of the notes", ["none", *PRESETS], key="bp_preset", on_change=apply_preset,
                 format_func=lambda name: "—" if name == "none" else PRESETS[name].label,
                 help="Each solves its data with no training.")
    st.header("Network")
    panel.draw("data", "noise")
    panel.draw("layers", "width", on_change=clear_weights)
    panel.draw("act", "lr", "seed")
    panel.draw("weights", placeholder="empty: the seed's random start")  # what a link holds, a teacher pastes

st.title("Backprop by hand")
later("bp_intro").caption(
    "Forward: each unit sums its inputs times their weights, a = Σ w z + b, and applies its activation, z = h(a). "
    "Backward: the output's δ = ∂L/∂a is p − y; each unit below gets δ = h′(a) Σ w δ from the units it feeds; "
    "every weight's gradient is δ of the unit above times z of the unit below. The update moves every weight by "
    "−η times the mean gradient over the examples.")
example_col, stage_col = st.columns([1, 2])
panel.draw("example", where=example_col)
spec: BackpropSpec = panel.spec()
data = spec.examples()
arch = spec.arch()
try:
    flat = spec.flat()
except ConfigError as error:
    st.error(f"{error}. Fix the text in the sidebar, or pick a preset.", icon=":material/error:")
    st.stop()
p = run(arch, flat, data.x, data.y)
example = min(int(spec.example), len(data.y)) - 1
stages = formulas.stages(arch)


def forget_click() -> None:
    """A new stage: its formula, not the unit or edge clicked before."""
    STATE.pop("bp_clicked", None)


def move(by: int) -> None:
    forget_click()
    STATE["bp_stage"] = int(np.clip(STATE.get("bp_stage", len(stages) - 1) + by, 0, len(stages) - 1))


with stage_col:
    back, forth, slider = st.columns([1, 1, 5])
    back.button("◀", key="bp_back", on_click=move, args=(-1,), help="One stage back", width="stretch")
    forth.button("▶", key="bp_next", on_click=move, args=(1,), help="One stage on", width="stretch")
    if STATE.get("bp_stage", ALL_STAGES) >= len(stages):  # first visit, a new network: all shown
        STATE["bp_stage"] = len(stages) - 1
    stage_index = slider.slider("Stage", 0, len(stages) - 1, key="bp_stage", format="%d",
                                label_visibility="collapsed", bind="query-params", on_change=forget_click)
stage = stages[stage_index]
stage_col.caption(f"Stage {stage_index} of {len(stages) - 1}: " + {
    "start": lambda: "the inputs", "forward": lambda: f"forward through layer {stage[1]}",
    "backward": lambda: f"backward: δ of {formulas.unit_name(arch, stage[1], stage[2])}",
    "update": lambda: "every number, and the update"}[stage[0]]())
forward_to, deltas, current = formulas.stage_view(arch, stages, stage_index)
picked = clicked_points(STATE.get("bp_fig_graph"))
if picked and picked[0].get("customdata"):  # a click on the graph: that unit or edge, until the stage moves
    STATE["bp_clicked"] = picked[0]["customdata"]
if STATE.get("bp_clicked"):
    kind, layer, j, i = STATE["bp_clicked"]
    current = ("unit", layer, j) if kind == "unit" else ("edge", layer, j, i)

quiz = st.session_state.get("bp_quiz_on", False) and not STATE.get("bp_live")
edges = [("edge", layer, j, i) for layer in range(1, len(arch.sizes))
         for j in range(arch.sizes[layer]) for i in range(arch.sizes[layer - 1])]
quiz_edge = edges[STATE.get("bp_quiz_pick", 0) % len(edges)] if quiz else None
charts = Charts()
setting = f"{spec.data}-{'x'.join(map(str, arch.hidden)) or 'none'}-{arch.activation}-example{example + 1}"


def show_network(weights: np.ndarray, p) -> None:
    """The graph with its numbers, the function over the data, and the formulas of the element in focus."""
    graph_col, surface_col = st.columns([1.5, 1])
    charts.show(figures.network_graph(arch, weights, p, example, forward_to=forward_to, deltas=deltas,
                                      current=current, quiz=quiz_edge, projector=presenting()),
                f"backprop-graph-{setting}", key="bp_fig_graph", where=graph_col, on_select="rerun",
                main_below=MAIN_BELOW)
    charts.show(figures.decision_surface(arch, surface(arch, weights, data.extent), data.extent, data.x, data.y,
                                         p.loss),
                f"backprop-surface-{setting}", key="bp_fig_surface", where=surface_col)
    with surface_col:
        fit_and_stuck_note(arch, p)
    with later("bp_formulas").container(border=True):
        for line in formulas.focus_lines(arch, weights, p, example, current, stage, spec.lr, quiz_edge):
            st.markdown(line)
        if not STATE.get("bp_live") and quiz_edge is None:  # (the quiz's own edge keeps its weight)
            drag_in_focus(arch, weights, current, spec.weights, set_weights)


def descend(start, steps: int) -> np.ndarray:
    """`steps` updates of gradient descent on the mean loss over the examples."""
    weights = np.asarray(start, dtype=np.float64)
    for _ in range(steps):
        weights = weights - spec.lr * run(arch, weights, data.x, data.y).mean_gradient()
    return weights


live = bool(STATE.get("bp_live"))
if live:
    # Training live: the weights move in session state, not in the URL-bound box (a widget's value cannot change
    # once it is drawn); Stop writes them back there. Any other change of the page starts again from the box.
    origin = (setting, spec.weights, spec.seed, spec.lr, spec.noise)
    if STATE.get("bp_live_origin") != origin:
        STATE.update(bp_live_origin=origin, bp_live_weights=flat, bp_live_steps=0)

    @fragment(run_every=LIVE_EVERY_S)
    def train_live() -> None:
        weights = STATE["bp_live_weights"]
        if STATE.pop("bp_live_drawn", False):  # the page's own run draws the weights as they are
            weights = descend(weights, LIVE_STEPS)
            STATE["bp_live_steps"] += LIVE_STEPS
        STATE["bp_live_drawn"] = True
        p = run(arch, weights, data.x, data.y)
        if not np.isfinite(p.loss):
            st.error("The loss is no longer a finite number: the learning rate is too large for these weights. "
                     "Stop, then lower η.", icon=":material/error:")
            return
        STATE["bp_live_weights"] = weights
        st.caption(f"Training live: step {STATE['bp_live_steps']:,}, mean loss {p.loss:.4g} "
                   f"({LIVE_STEPS} steps of η = {spec.lr:g} every {LIVE_EVERY_S:g} s)")
        show_network(weights, p)

    STATE.pop("bp_live_drawn", None)
    train_live()
else:
    show_network(flat, p)

# ---------------------------------------------------------------- changing the weights
def stop_or_start_live() -> None:
    """Stop keeps the trained weights: they go into the weights box (and the link)."""
    if not STATE.get("bp_live") and "bp_live_weights" in STATE:
        set_weights(STATE.pop("bp_live_weights"))
        STATE.pop("bp_live_origin", None)


gradient = p.mean_gradient()
buttons = st.columns(5)
buttons[0].button("Update once", key="bp_update", on_click=set_weights, args=(flat - spec.lr * gradient,),
                  help="w ← w − η · mean ∂L/∂w over the examples", width="stretch", disabled=live)
buttons[1].button("Train 100 steps", key="bp_train", on_click=lambda: set_weights(descend(flat, 100)),
                  width="stretch", disabled=live)
buttons[2].toggle("Train live", key="bp_live", on_change=stop_or_start_live,
                  help=f"{LIVE_STEPS} steps every {LIVE_EVERY_S:g} s, every number on the graph refreshed; turn it "
                       "off to keep the weights it reached (they go into the weights box and the link).")
if arch.hidden and arch.hidden[0] >= 2:
    buttons[3].button("Swap units 1 and 2 of layer 1", key="bp_swap", width="stretch", disabled=live,
                      on_click=set_weights, args=(permute_hidden_units(arch, flat, 1, 0, 1),),
                      help="Weight-space symmetry: the function and the loss stay exactly the same.")
buttons[4].button("Random start", key="bp_random", on_click=clear_weights, width="stretch", disabled=live)
if live:
    st.caption("Turn off Train live to edit the weights, check the gradients or take the quiz.")
    offer_exports(spec, "backprop", charts, setting=setting, details={"weights": weights_text(flat)})
    st.stop()  # what follows edits or checks the weights in the box, which are not the ones training


weight_tables(arch, flat, spec.weights, set_weights)
check = gradient_check(arch, flat, data.x, data.y)
gradient_check_panel(check)

with later("bp_quiz").expander("Predict the gradient", expanded=quiz):
    st.toggle("Quiz me", key="bp_quiz_on", help="One edge's gradient is hidden on the graph: compute it.")
    if quiz:
        _, layer, j, i = quiz_edge
        truth = float(p.grad_w[layer - 1][example, j, i])
        st.markdown(f"What is ∂L/∂w for the edge **{formulas.unit_name(arch, layer - 1, i)} → "
                    f"{formulas.unit_name(arch, layer, j)}** (outlined), for example {example + 1}?")
        answer = st.number_input("Your ∂L/∂w", value=None, format="%.6f", key="bp_quiz_answer")
        if answer is not None:
            if abs(answer - truth) <= max(QUIZ_TOLERANCE[0], QUIZ_TOLERANCE[1] * abs(truth)):
                st.success(f"Right: {formulas.number(truth)}.", icon=":material/check:")
            else:
                st.error(f"Not quite. {formulas.edge(arch, p, example, layer, j, i)}; δ there: "
                         f"{formulas.backward(arch, flat, p, example, layer, j)}", icon=":material/close:")
        st.button("Another edge", key="bp_quiz_next",
                  on_click=lambda: STATE.update(bp_quiz_pick=STATE.get("bp_quiz_pick", 0) + 7,
                                                bp_quiz_answer=None))

offer_exports(spec, "backprop", charts, setting=setting,
              details={"weights": weights_text(flat), "loss": p.loss, "worst gradient-check error": check.worst})
