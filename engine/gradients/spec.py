"""The Gradient Flow page's experiment as data: its control table and the spec it defines (engine.common.spec).

One spec holds both modes: `mode` picks deep networks or through time, and the other mode's fields are not
shown (so they stay at their defaults). Each mode has its own seed control (`gf_seed`, `gf_rseed`, as links
made before have them): `job_seed()` is the chosen mode's, `seed` the deep one's.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from engine.common.clipping import CLIP_MODES
from engine.common.spec import Control, Spec, spec_class
from engine.gradients import deep_config as deep
from engine.gradients import recurrent_config as recurrent
from engine.playground.data import DATASET_LABELS, DATASETS, DataSpec

DEEP, TIME = "deep", "time"
MODES = {DEEP: "Deep networks", TIME: "Through time"}
DEEP_DEFAULT, TIME_DEFAULT = deep.DeepConfig(), recurrent.RecurrentConfig()
DEEP_HP, TIME_HP = deep.DEFAULT_HYPERPARAMETERS, recurrent.DEFAULT_HYPERPARAMETERS
WIDTHS = (4, 8, 16, 32, 64, 128, 256)
HIDDEN_SIZES = (8, 16, 32, 64, 128)
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
CLIP_THRESHOLDS = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
CLIP_HELP = ("By value: clamp every gradient entry to ±threshold (may turn the direction). By norm: rescale the "
             "whole gradient to at most the threshold (keeps the direction).")


def _in_deep(before: Mapping[str, Any]) -> bool:
    return before["mode"] == DEEP


def _in_time(before: Mapping[str, Any]) -> bool:
    return before["mode"] == TIME


def _clipping(prefix: str, defaults: Mapping[str, Any], shown: Callable[[Mapping[str, Any]], bool]
              ) -> tuple[Control, Control]:
    return (Control(f"{prefix}clip", "segmented", "Gradient clipping", defaults["clip"], options=tuple(CLIP_MODES),
                    labels=CLIP_MODES, help=CLIP_HELP, shown=shown),
            Control(f"{prefix}clip_at", "select_slider", "Clip threshold", defaults["clip_at"],
                    options=CLIP_THRESHOLDS, shown=shown))


CONTROLS: tuple[Control, ...] = (
    Control("mode", "segmented", "Mode", DEEP, options=tuple(MODES), labels=MODES),
    # Deep networks: the network
    Control("data", "select", "Data set", DEEP_DEFAULT.data.kind, options=DATASETS, labels=DATASET_LABELS,
            shown=_in_deep),
    Control("seed", "number", "Seed", 0, low=0, high=99_999, shown=_in_deep,
            help="Fixes the data and the initial weights: the same seed gives the same run."),
    Control("depth", "slider", "Depth (hidden layers)", DEEP_DEFAULT.depth, low=1, high=deep.MAX_DEPTH,
            limit="gradients.depth", shown=_in_deep),
    Control("width", "select_slider", "Width (units per layer)", DEEP_DEFAULT.width, options=WIDTHS, shown=_in_deep),
    Control("act", "select", "Activation", DEEP_DEFAULT.activation, options=tuple(deep.ACTIVATION_CHOICES),
            labels=deep.ACTIVATION_CHOICES, shown=_in_deep),
    Control("init", "select", "Weight init", DEEP_DEFAULT.init, options=tuple(deep.INIT_CHOICES),
            labels=deep.INIT_CHOICES, shown=_in_deep),
    Control("norm", "segmented", "Normalization", DEEP_DEFAULT.norm, options=tuple(deep.NORMS), labels=deep.NORMS,
            shown=_in_deep),
    Control("ln_affine", "toggle", "Layer norm learns γ and β", DEEP_DEFAULT.layer_norm_affine,
            shown=lambda before: _in_deep(before) and before["norm"] == "layer",
            help="On: torch's nn.LayerNorm, as every layer norm in the app is (also in the Attention and Diffusion "
                 "networks): each normalized unit is then scaled by a learned γ and shifted by a learned β. Off: "
                 "elementwise_affine=False, the parameter-free layer norm of course note 000."),
    Control("res", "toggle", "Residual connections", DEEP_DEFAULT.residual, shown=_in_deep),
    Control("res_order", "segmented", "Residual block order", DEEP_DEFAULT.residual_order,
            options=tuple(deep.RESIDUAL_ORDERS), labels=deep.RESIDUAL_ORDERS,
            shown=lambda before: _in_deep(before) and before["res"],
            help="h + f(Wh): the activation, then the sum; with ReLU the branch can only add. h + W f(h): the "
                 "pre-activation order of course note 002, where the branch ends in a linear layer and can "
                 "subtract too."),
    # Deep networks: training
    Control("opt", "select", "Optimizer", DEEP_DEFAULT.optimizer, options=tuple(deep.OPTIMIZER_CHOICES),
            labels=deep.OPTIMIZER_CHOICES, shown=_in_deep, help=deep.OPTIMIZER_HELP),
    Control("lr", "select_slider", "Learning rate η", DEEP_HP["lr"], options=LEARNING_RATES, shown=_in_deep),
    Control("batch", "select_slider", "Batch size", DEEP_HP["batch_size"], options=BATCH_SIZES, shown=_in_deep),
    *_clipping("", DEEP_HP, _in_deep),
    Control("every", "toggle", "Probe every step", DEEP_HP["probe_every_step"], shown=_in_deep,
            help="Probes normally run once a second, which costs almost nothing. Every step sees everything, and "
                 "trains several times slower."),
    # Through time: the recall task, the cells, training
    Control("T", "slider", "Sequence length T", TIME_DEFAULT.seq_len, low=5, high=recurrent.MAX_SEQ_LEN, step=5,
            limit="gradients.seq_len", help="The first token must be recalled after T steps of distractors.",
            shown=_in_time),
    Control("rseed", "number", "Seed", 0, low=0, high=99_999, shown=_in_time),
    Control("hidden", "select_slider", "Hidden units", TIME_DEFAULT.hidden, options=HIDDEN_SIZES, shown=_in_time),
    Control("rho", "slider", "Spectral radius ρ of W_hh (vanilla RNNs)", TIME_DEFAULT.spectral_radius, low=0.5,
            high=3.0, step=0.05, shown=_in_time,
            help="W_hh is rescaled so that its largest |eigenvalue| is ρ: below 1 gradients vanish through time, "
                 "above 1 they can explode."),
    Control("gate", "slider", "Keep-gate bias b (LSTM forget gate, GRU update gate)", TIME_DEFAULT.gate_bias,
            low=-2.0, high=6.0, step=0.5, help="σ(b) is the share of the memory kept per step at init.",
            shown=_in_time),
    Control("ropt", "segmented", "Optimizer", TIME_DEFAULT.optimizer, options=tuple(recurrent.RECURRENT_OPTIMIZERS),
            labels=recurrent.RECURRENT_OPTIMIZERS, shown=_in_time,
            help="Adam scales each step by the gradient's running size, so spikes barely move it; SGD steps by the "
                 "gradient itself."),
    Control("rlr", "select_slider", "Learning rate η", TIME_HP["lr"], options=LEARNING_RATES, shown=_in_time),
    Control("rbatch", "select_slider", "Batch size", TIME_HP["batch_size"], options=BATCH_SIZES, shown=_in_time),
    *_clipping("r_", TIME_HP, _in_time),
)


@spec_class
class GradientsSpec(Spec):
    """One Gradient Flow experiment, deep or through time: a field per control of the page (see CONTROLS)."""

    PREFIX = "gf_"
    CONTROLS = CONTROLS

    def job_seed(self) -> int:
        """The seed of the chosen mode's experiment (both keys stay: links made before use them)."""
        return int(self.seed if self.mode == DEEP else self.rseed)

    def config(self) -> deep.DeepConfig | recurrent.RecurrentConfig:
        """The networks this spec trains: a deep network, or the four recurrent cells."""
        if self.mode == DEEP:
            data = DataSpec(kind=self.data, n_points=DEEP_DEFAULT.data.n_points, seed=int(self.seed))
            return deep.DeepConfig(data=data, depth=int(self.depth), width=int(self.width), activation=self.act,
                                   init=self.init, norm=self.norm, layer_norm_affine=self.ln_affine,
                                   residual=self.res, residual_order=self.res_order, optimizer=self.opt)
        return recurrent.RecurrentConfig(seq_len=int(self.T), hidden=int(self.hidden),
                                         spectral_radius=float(self.rho), gate_bias=float(self.gate),
                                         optimizer=self.ropt)

    def hyperparameters(self) -> dict[str, Any]:
        """The live hyperparameters of the mode's job (changed without rebuilding its networks)."""
        if self.mode == DEEP:
            return {"lr": float(self.lr), "batch_size": int(self.batch), "clip": self.clip,
                    "clip_at": float(self.clip_at), "probe_every_step": self.every}
        return {"lr": float(self.rlr), "batch_size": int(self.rbatch), "clip": self.r_clip,
                "clip_at": float(self.r_clip_at)}
