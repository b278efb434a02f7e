"""The Convolutional networks page's views of its training job (app_pages/cnn.py draws the controls, the tabs
that need no job, the status bar and the live area): learning curves, filters and feature maps, mistakes, shift
and attacks. Each view function draws one view of a snapshot; `shown` is whether its tab is open (lazy tabs)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.runtime import Snapshot
from ui.exports import Charts
from ui.forks import forked_curves
from viz import cnn as figures
from viz.playground import confusion_matrix

MAIN_BELOW = 21.0  # rem above the learning curves in presentation mode: title, tabs, buttons, numbers
VIEWS = ["Curves", "Filters and feature maps", "Mistakes", "Shift", "Saliency and attacks"]


def measured_for(view: str | None) -> dict[str, bool]:
    """The live settings that make the job measure what `view` shows, only while it is open: accuracy against eps
    costs a few hundred attacks a measurement, the shift view two passes of both networks over every held-out
    image."""
    return {"attack_curves": view == VIEWS[-1], "shift_view": view == VIEWS[3]}


def curves_view(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v = snap.visuals
    charts.show(lambda: forked_curves("cnn", "curves", lambda run: figures.learning_curves(run.curves), snap),
                f"cnn-curves-{snap.config.setting}-step{snap.step}",
                key="cnn_fig_curves", visible=shown, main_below=MAIN_BELOW)
    st.caption(f"CNN: {v.cnn_parameters:,} parameters. MLP: one hidden layer of {v.mlp_hidden} units, "
               f"{v.mlp_parameters:,} parameters.")


def maps_view(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v = snap.visuals
    k = v.filters.shape[-1]
    charts.show(lambda: figures.mosaic([("filters", list(v.filters), [str(i + 1) for i in range(len(v.filters))],
                                         "signed")], f"Layer 1's {len(v.filters)} learned {k}×{k} filters",
                                       row_height=90),
                f"cnn-filters-{snap.config.setting}-step{snap.step}", key="cnn_fig_filters", visible=shown)
    charts.show(lambda: figures.feature_maps(v.feature_maps, v.image, f"Feature maps of held-out image "
                                             f"{v.example + 1} (a {v.classes[v.label]})"),
                f"cnn-maps-{snap.config.setting}-step{snap.step}", key="cnn_fig_maps", visible=shown)


def mistakes_view(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v = snap.visuals
    charts.show(lambda: confusion_matrix(v.confusion, labels=v.classes),
                f"cnn-confusion-{snap.config.setting}-step{snap.step}", key="cnn_fig_confusion", visible=shown)
    if not len(v.mistakes):
        st.success("The CNN gets every held-out image right.", icon=":material/check:")
        return
    titles = [f"{v.classes[t]} → {v.classes[p]}" for t, p in zip(v.mistake_labels, v.mistake_predictions)]
    charts.show(lambda: figures.mosaic([("", list(v.mistakes), titles, "grey")],
                                       "Held-out images the CNN gets wrong (true → predicted)", row_height=120),
                f"cnn-mistakes-{snap.config.setting}-step{snap.step}", key="cnn_fig_mistakes", visible=shown)


def shift_view(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, s = snap.visuals, snap.visuals.shift
    if s is None:  # measured while this view is open (hp shift_view): not yet
        if shown:
            st.info("Shifting the held-out images…", icon=":material/hourglass_top:")
        return
    if shown:
        how = "circularly (as circular padding wraps)" if s.circular else "away from the border (zero padding)"
        st.markdown(f"**Equivariance**, measured {how} on the held-out images:")
        st.dataframe([layer.row() for layer in s.layers], width="stretch", hide_index=True)
        st.markdown(f"**Invariance**: shifted by ({s.dy}, {s.dx}) px, the held-out accuracy is "
                    f"**{s.cnn_accuracy:.1%}** for the CNN and **{s.mlp_accuracy:.1%}** for the MLP; their class "
                    f"probabilities move by **{s.cnn_change:.2f}** and **{s.mlp_change:.2f}** (total variation, mean "
                    "over images).")
    charts.show(lambda: figures.tiles([v.image, s.shifted, s.shifted_map, s.map_of_shifted],
                                      ["image", f"shifted ({s.dy}, {s.dx})", f"shift(conv x), ch {s.channel + 1}",
                                       "conv(shift x)"], "Shift, then convolve = convolve, then shift",
                                      ["grey", "grey", "activation", "activation"]),
                f"cnn-shift-{snap.config.setting}-step{snap.step}", key="cnn_fig_shift", visible=shown)
    charts.show(lambda: figures.probability_bars(v.classes, {"CNN": s.cnn_before, "CNN, shifted": s.cnn_after,
                                                             "MLP": s.mlp_before, "MLP, shifted": s.mlp_after},
                                                 f"Held-out image {v.example + 1}: class probabilities"),
                f"cnn-shift-probabilities-{snap.config.setting}-step{snap.step}", key="cnn_fig_shift_bars",
                visible=shown)


def attack_view(snap: Snapshot, charts: Charts, shown: bool) -> None:
    v, a = snap.visuals, snap.visuals.attack
    predicted = int(np.argmax(a.probabilities))
    if shown:
        st.markdown(f"{a.attack.upper()} at eps = {a.eps:g} grey levels: the CNN now says "
                    f"**{v.classes[predicted]}** ({a.probabilities[predicted]:.0%}) for this {v.classes[v.label]}.  "
                    "FGSM: $x' = x + \\epsilon\\,\\mathrm{sign}(\\nabla_x L)$, a step *up* the loss (course note 004 "
                    "writes a minus sign, which would make the example easier).")
    charts.show(lambda: figures.tiles([v.image, a.perturbation, a.adversarial, a.saliency, a.mlp_saliency],
                                      ["image", "perturbation (grey levels)", "adversarial", "CNN saliency |∂L/∂x|",
                                       "MLP saliency"], "The example, its attack, and where the loss is sensitive",
                                      ["grey", "signed", "grey", "activation", "activation"], height=240),
                f"cnn-attack-{a.attack}-eps{a.eps:g}-{snap.config.setting}-step{snap.step}", key="cnn_fig_attack",
                visible=shown)
    if a.curves is None:
        if shown:
            st.info("Measuring the accuracy against eps…", icon=":material/hourglass_top:")
    else:
        charts.show(lambda: figures.attack_curves(a.curves.eps_grid, a.curves.accuracy, a.curves.attack, a.eps,
                                                  a.curves.step),
                    f"cnn-robustness-{a.attack}-{snap.config.setting}-step{a.curves.step}", key="cnn_fig_robustness",
                    visible=shown)


VIEW_DRAWERS = (curves_view, maps_view, mistakes_view, shift_view, attack_view)  # in the order of VIEWS
