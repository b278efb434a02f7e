"""The Loss Landscape's experiment as data: its control table and the spec it defines (engine.common.spec).

The page explores the Playground's network; the preset is the network it explores until the Playground page has
built one. The rest says which picture of that network's loss to draw (`config()`: a LandscapeRequest) and how to
measure its curvature (`hyperparameters()`).
"""

from __future__ import annotations

from typing import Any

from engine.common.spec import Control, Spec, spec_class
from engine.landscape.presets import DIRECTIONS, LINE_KINDS, LANDSCAPE_PRESETS
from engine.landscape.views import LandscapeRequest
from engine.playground.config import PlaygroundConfig

SPANS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
RESOLUTIONS = (11, 21, 31, 41, 51, 61, 81, 101, 151)
COARSE = 21  # points per side while the network trains, where a finer grid would be slow
VIEWS = {"contour": "Contour", "surface": "3-D surface", "curve": "1-D curve"}
LOSS_DATA = {"train": "train set", "test": "test set"}
HESSIAN_METHODS = {"lanczos": "Lanczos", "power": "Power iteration"}
# The Directions labels links were made with before they were shortened to fit the sidebar (commit 19d4aa2).
OLD_DIRECTIONS = {"Random, filter-normalized (Li et al.)": "filter", "PCA of the training trajectory": "pca",
                  "Line: initial → current weights": "initial", "Line: pinned → current weights": "pinned"}
DIRECTIONS_HELP = (
    "**Random**: two Gaussian directions, each scaled to the weights it moves: filter by filter "
    "(*filter-normalized*, as in Li et al. 2018, *Visualizing the Loss Landscape of Neural Nets*), layer by layer, "
    "or not at all. **PCA**: the plane of the two main directions the training path took. **Line**: the straight "
    "line from the initial (or the pinned) weights to the current ones, a 1-D curve.")

CONTROLS: tuple[Control, ...] = (
    # Network
    Control("preset", "select", "Preset", "circle", options=tuple(LANDSCAPE_PRESETS),
            labels={name: label for name, (label, _, _) in LANDSCAPE_PRESETS.items()},
            help="Used until you build a network on the Network Playground page."),
    # Directions
    Control("dirs", "select", "Directions", "filter", options=tuple(DIRECTIONS), labels=DIRECTIONS,
            aliases=OLD_DIRECTIONS, help=DIRECTIONS_HELP),
    Control("seed", "number", "Direction seed", 0, low=0, high=9999),
    # View
    Control("view", "radio", "View", "contour", options=tuple(VIEWS), labels=VIEWS),
    Control("data", "radio", "Loss on", "train", options=tuple(LOSS_DATA), labels=LOSS_DATA),
    Control("log", "toggle", "Log scale", False),
    Control("range", "select_slider", "Grid range ±", 1.0, options=SPANS,
            help="Random directions: in units of each filter's norm. PCA: as a multiple of the path's extent. "
                 "Lines: how far past both ends."),
    Control("res", "select_slider", "Points per side", 51, options=RESOLUTIONS,
            help=f"While the network trains, large grids are drawn at {COARSE}×{COARSE}."),
    # Curvature
    Control("k", "slider", "Top Hessian eigenvalues", 3, low=1, high=8),
    Control("method", "radio", "Method", "lanczos", options=tuple(HESSIAN_METHODS), labels=HESSIAN_METHODS),
)


@spec_class
class LandscapeSpec(Spec):
    """One Loss Landscape experiment: a field per control of the page (see CONTROLS). `seed` seeds the random
    directions; the preset network's own seed is always 0."""

    PREFIX = "ls_"
    CONTROLS = CONTROLS

    @property
    def one_dimensional(self) -> bool:
        """Lines are always a curve; the other directions are one when the view asks."""
        return self.dirs in LINE_KINDS or self.view == "curve"

    def config(self) -> LandscapeRequest:
        """The picture asked for, at full resolution (the log scale is only how it is drawn)."""
        which = ("train", "test") if self.one_dimensional else (self.data,)
        return LandscapeRequest(self.dirs, self.seed, self.range, self.res, self.one_dimensional, which)

    def hyperparameters(self) -> dict[str, Any]:
        """How the curvature is measured: the number of top Hessian eigenvalues and the method."""
        return {"k": self.k, "method": self.method}

    def network(self) -> tuple[PlaygroundConfig, dict[str, Any]]:
        """The preset network's configuration and hyperparameters (trained with seed 0)."""
        _, config, hyperparameters = LANDSCAPE_PRESETS[self.preset]
        return config, hyperparameters
