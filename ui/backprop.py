"""The Backprop-by-hand page's weight tables and gradient-check panel (app_pages/backprop.py draws the rest)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from engine.backprop import formulas
from engine.backprop.checks import GradientCheck
from engine.backprop.network import Architecture, Pass, dead_units
from ui.sharing import later

# Below this largest |mean ∂L/∂w| a step of η ≤ 3 moves no weight by more than 0.003: descent has stopped
STUCK_GRADIENT = 1e-3
FITTED_ERROR = 0.1  # a regression whose largest error is below this fits its data


def weight_tables(arch: Architecture, flat: np.ndarray, weights_text: str,
                  set_weights: Callable[[np.ndarray], None]) -> None:
    """One editable table per layer (rows: the units it feeds; columns: the units below, then the bias); an edit
    goes through `set_weights` with the whole flat vector."""

    def sources(layer: int) -> list[str]:
        return [f"from {formulas.unit_name(arch, layer - 1, i)}" for i in range(arch.sizes[layer - 1])] + ["bias"]

    def edit_layer(layer: int, key: str) -> None:
        weights = [(w.copy(), b.copy()) for w, b in arch.unpack(flat)]
        for row, changes in st.session_state[key]["edited_rows"].items():
            for column, value in changes.items():
                if value is None:
                    continue
                w, b = weights[layer - 1]
                if column == "bias":
                    b[int(row)] = float(value)
                else:
                    w[int(row), sources(layer).index(column)] = float(value)
        set_weights(np.concatenate([part for w, b in weights for part in (w.ravel(), b)]))

    # Folded at first: two open grids cost every weight change ~70 ms more in the browser (a new grid each time),
    # and the weights box, the drag slider and a click on the graph edit weights too.
    with later("bp_edit").expander("Edit the weights in tables"):
        tables = st.columns(len(arch.sizes) - 1)
        version = abs(hash(weights_text)) % 10**8  # a new table whenever the weights change elsewhere
        for layer, (w, b) in enumerate(arch.unpack(flat), start=1):
            frame = pd.DataFrame(np.column_stack([w, b]), columns=sources(layer),
                                 index=[f"to {formulas.unit_name(arch, layer, j)}" for j in range(w.shape[0])])
            key = f"bp_edit_{layer}_{version}"
            tables[layer - 1].data_editor(frame, key=key, on_change=edit_layer, args=(layer, key), width="stretch")


def gradient_check_panel(check: GradientCheck) -> None:
    """The worst relative error in the expander's label; the table of every parameter only while it is open."""
    checked = later("bp_check").expander(f"Gradient check: backprop against finite differences, worst relative "
                                         f"error {check.worst:.1e}", key="bp_check_open", on_change="rerun")
    with checked:
        if checked.open:
            st.dataframe(pd.DataFrame({"parameter": check.names, "backprop": check.backprop,
                                       "finite difference": check.finite_difference,
                                       "relative error": np.where(check.skipped, np.nan, check.relative_errors),
                                       "skipped (ReLU kink)": check.skipped}), hide_index=True, width="stretch")
        st.caption("The relative error is |finite difference − backprop| / max(|backprop|, 10⁻⁸), with the "
                   "fourth-order central difference (f(θ−2h) − 8f(θ−h) + 8f(θ+h) − f(θ+2h)) / 12h, h = 3·10⁻⁴, on "
                   "the mean loss over all examples. A parameter whose nudges move some ReLU unit across 0 is "
                   "skipped: the loss has a kink there and no derivative.")


def drag_in_focus(arch: Architecture, flat: np.ndarray, focus: tuple | None, weights_text: str,
                  set_weights: Callable[[np.ndarray], None]) -> None:
    """A slider for the weight of the edge in focus (or the bias of the unit in focus): drag it, and the graph,
    the function and the loss follow on release."""
    if not focus or focus[0] not in ("edge", "unit") or focus[1] < 1:
        return
    weights = np.array(flat, dtype=np.float64)
    w, b = arch.unpack(weights)[focus[1] - 1]  # views into `weights`
    layer, j = focus[1], focus[2]
    if focus[0] == "edge":
        array, at = w, (j, focus[3])
        label = f"Drag w, {formulas.unit_name(arch, layer - 1, focus[3])} → {formulas.unit_name(arch, layer, j)}"
    else:
        array, at, label = b, (j,), f"Drag the bias of {formulas.unit_name(arch, layer, j)}"
    value = float(array[at])
    reach = float(max(5.0, np.ceil(2 * abs(value))))

    def moved(key: str) -> None:
        array[at] = st.session_state[key]
        set_weights(weights)

    key = f"bp_drag_{'_'.join(map(str, focus[1:]))}_{abs(hash(weights_text)) % 10**8}"  # anew when the weights change
    st.slider(label, -reach, reach, value, step=0.01, key=key, on_change=moved, args=(key,))


def fit_and_stuck_note(arch: Architecture, p: Pass) -> None:
    """How well the network fits its examples (accuracy, or a regression's largest error), and, where gradient
    descent has stopped short of fitting them (a stationary point that is not a solution, such as XOR's with a
    dead ReLU), that it is stuck and why, rather than leave Train live moving nothing."""
    if arch.loss == "bce":
        accuracy = float(np.mean((p.output > 0.5) == (p.y > 0.5)))
        st.metric("Training accuracy", f"{accuracy:.0%}")
        fitted = accuracy == 1.0
    else:
        largest_error = float(np.abs(p.output - p.y).max())
        st.metric("Largest error", f"{largest_error:.3g}")
        fitted = largest_error < FITTED_ERROR
    largest = float(np.abs(p.mean_gradient()).max())
    if fitted or largest >= STUCK_GRADIENT:
        return
    dead = [formulas.unit_name(arch, layer, j) for layer, j in dead_units(arch, p)]
    st.info(f"**Stuck**: every gradient is almost 0 (the largest {largest:.1e}) but the network does not fit the "
            "data, so gradient descent stops here." +
            (f" {', '.join(dead)} output{'s' if len(dead) == 1 else ''} 0 on every example (a dead ReLU): no "
             f"gradient reaches the weights into {'it' if len(dead) == 1 else 'them'}." if dead else "") +
            " Another start (Random start, another seed) or a smooth activation finds another way.",
            icon=":material/block:")
