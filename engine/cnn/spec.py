"""The Convolutional networks page's experiment as data: its control table and the spec it defines
(engine.common.spec). Four parts: the live CNN (its data, network and training: the config and the live
hyperparameters), what the page inspects about it (an example, a shift, an attack), the arithmetic of a layer
stack, and the kernel sandbox and upsampling views (computed in the page, no training)."""

from __future__ import annotations

from typing import Any

from engine.cnn.arithmetic import (KIND_NAMES, KINDS, MAX_CHANNELS, MAX_DILATION, MAX_KERNEL, MAX_LAYERS, MAX_PADDING,
                                   MAX_SIZE, MAX_STRIDE, MIN_SIZE, StackLayer)
from engine.cnn.attacks import ATTACK_LABELS, ATTACKS
from engine.cnn.config import ACTIVATION_CHOICES, DATASET_LABELS, DATASETS, CnnConfig
from engine.cnn.kernels import IMAGE_LABELS, KERNELS
from engine.cnn.model import PADDINGS, POOLINGS
from engine.cnn.trainer import EPS_GRID
from engine.cnn.upsampling import WEIGHTINGS
from engine.common.layers import ACTIVATION_LABELS
from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class

DEFAULT = CnnConfig()
CHANNELS = (2, 4, 8, 16, 32, 64)
KERNEL_SIZES = (1, 3, 5, 7)
LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCH_SIZES = (16, 32, 64, 128, 256)
SPEEDS = ("max", 100, 20, 5)
EXAMPLES_SHOWN = 60  # the held-out images the page lets one pick
POOLING_LABELS = {"max": "Max 2×2", "avg": "Average 2×2", "none": "None"}
PADDING_LABELS = {"zeros": "Zeros", "circular": "Circular (wraps around)"}
TYPED = "typed"
KERNEL_LABELS = {**{name: name.capitalize() if name.islower() else name for name in KERNELS}, TYPED: "Typed numbers"}
# The arithmetic tab opens on a small VGG-like stack: two 3x3 convs, a 2x2 max pool, a dilated conv.
STACK_DEFAULTS = (("conv", 3, 1, 1, 1, 8), ("conv", 3, 1, 1, 1, 8), ("max", 2, 0, 2, 1, 8), ("conv", 3, 0, 1, 2, 16))


def _layer_controls(i: int) -> tuple[Control, ...]:
    kind, k, p, s, d, c = STACK_DEFAULTS[i - 1]

    def present(before: dict[str, Any]) -> bool:
        return before["depth"] >= i
    return (
        Control(f"kind{i}", "select", f"Layer {i}", kind, options=KINDS, labels=KIND_NAMES, shown=present),
        Control(f"k{i}", "slider", "kernel k", k, low=1, high=MAX_KERNEL, shown=present),
        Control(f"p{i}", "slider", "padding p", p, low=0, high=MAX_PADDING, shown=present),
        Control(f"s{i}", "slider", "stride s", s, low=1, high=MAX_STRIDE, shown=present),
        Control(f"d{i}", "slider", "dilation d", d, low=1, high=MAX_DILATION,
                shown=lambda before: present(before) and before[f"kind{i}"] != "avg",
                help="torch's average pooling has no dilation."),
        Control(f"c{i}", "slider", "channels out", c, low=1, high=MAX_CHANNELS,
                shown=lambda before: present(before) and before[f"kind{i}"] == "conv"),
    )


CONTROLS: tuple[Control, ...] = (
    # The live CNN: data, network, training
    Control("data", "select", "Data set", DEFAULT.dataset, options=DATASETS, labels=DATASET_LABELS,
            help="Generated shapes change nothing but their position, size and noise; nothing is downloaded."),
    Control("layers", "slider", "Conv layers", DEFAULT.conv_layers, low=1, high=3, limit="cnn.conv_layers"),
    Control("channels", "select_slider", "Channels per layer", DEFAULT.channels, options=CHANNELS),
    Control("kernel", "select_slider", "Kernel size", DEFAULT.kernel, options=KERNEL_SIZES),
    Control("pool", "select", "Pooling after each conv", DEFAULT.pooling, options=POOLINGS, labels=POOLING_LABELS),
    Control("bn", "toggle", "Batch norm", DEFAULT.batch_norm),
    Control("act", "select", "Activation", DEFAULT.activation, options=ACTIVATION_CHOICES, labels=ACTIVATION_LABELS),
    Control("pad", "select", "Padding", DEFAULT.padding, options=PADDINGS, labels=PADDING_LABELS,
            help="Circular padding makes every conv layer exactly equivariant to circular shifts."),
    Control("adv", "toggle", "Also train an adversarially trained copy", DEFAULT.adversarial,
            help="The same CNN from the same start, trained on half clean and half FGSM examples."),
    Control("adv_eps", "select_slider", "Its training eps (grey levels)", DEFAULT.train_eps, options=EPS_GRID[1:],
            shown=lambda before: before["adv"]),
    Control("lr", "select_slider", "Learning rate", 0.003, options=LEARNING_RATES, help="Adam; changes live."),
    Control("batch", "select_slider", "Batch size", 64, options=BATCH_SIZES, help="Changes live."),
    Control("speed", "select_slider", "Speed limit (steps/s)", "max", options=SPEEDS),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the data split, the shapes drawn, the initial weights and the batches."),
    # What the page inspects (live)
    Control("example", "slider", "Held-out image", 1, low=1, high=EXAMPLES_SHOWN,
            help="Its feature maps, saliency, attack and shift are shown."),
    Control("dy", "slider", "Shift down (px)", 2, low=-4, high=4),
    Control("dx", "slider", "Shift right (px)", 2, low=-4, high=4),
    Control("attack", "segmented", "Attack", "fgsm", options=ATTACKS, labels=ATTACK_LABELS),
    Control("eps", "select_slider", "eps (grey levels of 16)", 2.0, options=EPS_GRID,
            help="How far each pixel may move: 16 grey levels span black to white."),
    # Arithmetic of a layer stack
    Control("n", "slider", "Input size n", 20, low=MIN_SIZE, high=MAX_SIZE),
    Control("depth", "slider", "Layers", 4, low=1, high=MAX_LAYERS),
    *(control for i in range(1, MAX_LAYERS + 1) for control in _layer_controls(i)),
    Control("row", "number", "Output unit row", 0, low=0, high=MAX_SIZE - 1),
    Control("col", "number", "Output unit column", 0, low=0, high=MAX_SIZE - 1),
    Control("window", "slider", "Layer whose window slides", 1, low=1, high=MAX_LAYERS),
    # Kernel sandbox and upsampling
    Control("image", "select", "Image", "digit 3", options=tuple(IMAGE_LABELS), labels=IMAGE_LABELS),
    Control("kern", "select", "Kernel", "Sobel x", options=(*KERNELS, TYPED), labels=KERNEL_LABELS),
    Control("typed", "text", "Nine numbers, row by row", "1 0 -1; 2 0 -2; 1 0 -1", max_chars=200,
            shown=lambda before: before["kern"] == TYPED),
    Control("up_weights", "segmented", "Upsampling weights", "ones", options=WEIGHTINGS,
            labels={"ones": "All ones", "random": "Random"}),
)


@spec_class
class CnnSpec(Spec):
    """One Convolutional networks page: a field per control (see CONTROLS)."""

    PREFIX = "cnn_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("cnn_tab", "cnn_view")

    def config(self) -> CnnConfig:
        try:
            return CnnConfig(dataset=self.data, conv_layers=self.layers, channels=self.channels, kernel=self.kernel,
                             pooling=self.pool, batch_norm=self.bn, activation=self.act, padding=self.pad,
                             adversarial=self.adv, train_eps=float(self.adv_eps))
        except ValueError as error:
            raise ConfigError(str(error)) from error

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": float(self.lr), "batch_size": int(self.batch),
                "max_steps_per_second": None if self.speed == "max" else int(self.speed),
                "example": int(self.example) - 1, "shift_y": int(self.dy), "shift_x": int(self.dx),
                "attack": self.attack, "eps": float(self.eps)}

    def stack(self) -> list[StackLayer]:
        """The arithmetic tab's layers (a ConfigError for avg pooling with dilation, which torch's has not; a size
        torch refuses is explained by `stack_arithmetic`'s report)."""
        return [StackLayer(getattr(self, f"kind{i}"), getattr(self, f"k{i}"), getattr(self, f"p{i}"),
                           getattr(self, f"s{i}"), getattr(self, f"d{i}"), getattr(self, f"c{i}"))
                for i in range(1, self.depth + 1)]
