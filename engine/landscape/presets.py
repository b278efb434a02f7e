"""What the Loss Landscape page offers: its kinds of directions and its preset networks, with their labels."""

from __future__ import annotations

from engine.playground.config import PlaygroundConfig
from engine.playground.data import DataSpec

# Short enough to read whole in the sidebar's select box: a link holds the label (the page explains each one).
DIRECTIONS = {
    "filter": "Random, filter-normalized",
    "layer": "Random, layer-normalized",
    "none": "Random, not normalized",
    "pca": "PCA of the training path",
    "initial": "Line: initial → current",
    "pinned": "Line: pinned → current",
}
LINE_KINDS = ("initial", "pinned")

# Networks to look at before the Playground page has built one: (label, config, hyperparameters).
LANDSCAPE_PRESETS: dict[str, tuple[str, PlaygroundConfig, dict]] = {
    "circle": ("Circle · 2-4-2-1 tanh · SGD η=0.1", PlaygroundConfig(), {"lr": 0.1}),
    "spiral_bn": ("Spiral · 3×8 ReLU + batch norm · Adam",
                  PlaygroundConfig(data=DataSpec(kind="spiral", noise=0.1), features=("x1", "x2", "sin_x1", "sin_x2"),
                                   hidden=(8, 8, 8), activations=("relu",) * 3, batch_norm=True, optimizer="adam"),
                  {"lr": 0.01}),
    "xor_momentum": ("XOR · 2-6-1 tanh · momentum",
                     PlaygroundConfig(data=DataSpec(kind="xor"), hidden=(6,), activations=("tanh",),
                                      optimizer="momentum"), {"lr": 0.03}),
}
