"""The optimizers the page races, as one table: each one's torch class (or ours, engine.optimizers.rules),
its update rule, its hyperparameters with their ranges, and a default learning rate for each surface.

Every optimizer torch has is torch's own (`torch.optim.SGD`, `Adagrad`, `RMSprop`, `Adam`, `Rprop`), so
what a student sees is what torch does; `OptimizerSpec` is one chosen optimizer with its values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from engine.common.optimizers import RMSPROP_ALPHA
from engine.optimizers.rules import Newton, Quickprop
from engine.optimizers.surfaces import Surface


@dataclass(frozen=True)
class HyperParameter:
    name: str  # the torch keyword (or ours, for noise)
    label: str
    low: float
    high: float
    help: str
    default: float | None = None  # None: the learning rate, which depends on the surface


@dataclass(frozen=True)
class OptimizerKind:
    key: str
    label: str
    params: tuple[HyperParameter, ...]
    build: Callable[[torch.Tensor, Mapping[str, float], Callable[[], torch.Tensor]], torch.optim.Optimizer]
    # "gradient": lr multiplies f's gradient; "step": lr is a step length; "newton": a fraction of the Newton step
    lr_unit: str
    update: str  # the update rule, LaTeX
    torch_class: str
    note: str = ""  # Markdown with LaTeX: how the course notes write the same rule, where they differ


    def default_hyperparameters(self, surface: Surface) -> dict[str, float]:
        values = {p.name: p.default for p in self.params if p.default is not None}
        lr = {"gradient": surface.gd_lr, "step": surface.adaptive_lr, "newton": 1.0}[self.lr_unit]
        values["lr"] = nice_number(lr * LR_MULTIPLIER[self.key]) if self.key in LR_MULTIPLIER else lr
        values["lr"] = dict(surface.lr_overrides).get(self.key, values["lr"])
        if "noise" in values:
            # Per-step jitter of lr·σ ≈ 1.5% of the plot width, whatever the function's scale.
            values["noise"] = nice_number(0.015 * (surface.x_range[1] - surface.x_range[0]) / values["lr"])
        return values


# Course note 002 writes momentum as an average and Nesterov with a look-ahead gradient; torch writes both as
# sums. The paths are the same once the rates are matched (tests/test_engine_optimizers.py checks it).
MOMENTUM_NOTE = (
    r"torch sums the gradients, so on a steady slope the step $\eta v$ grows to "
    r"$\eta g/(1-\mu)$: up to $1/(1-\mu)$ times plain GD's ($10\times$ at $\mu = 0.9$). Course note 002 "
    r"averages them, $m \leftarrow \beta m + (1-\beta) g,\ w \leftarrow w - \alpha m$: the same path with "
    r"$\beta = \mu$ and $\alpha = \eta/(1-\mu)$ ($m = (1-\mu) v$).")
NESTEROV_NOTE = (
    r"Course note 002 takes the gradient at a look-ahead point: $m \leftarrow \beta m + (1-\beta)\,"
    r"\nabla f(w - \alpha\beta m),\ w \leftarrow w - \alpha m$. torch keeps that look-ahead point as its "
    r"parameters ($w_{torch} = w - \alpha\beta m$, a change of variables), so it takes the gradient where it "
    r"stands: the same path with $\beta = \mu$, $\alpha = \eta/(1-\mu)$, shifted by $\alpha\beta m$.")

# Step-length optimizers move ~lr per step at first, except where the formula says otherwise:
# Adagrad's steps shrink like 1/sqrt(k) (start larger); RMSProp's first step is lr/sqrt(1-α) = 10 lr.
# Momentum's steady steps are lr/(1-μ) = 10 lr long and Nesterov is stable on a quadratic only
# for ηλ < (2+2μ)/(1+2μ) ≈ 1.36 (GD: 2), so both start from a smaller η than GD.
LR_MULTIPLIER = {"adagrad": 5.0, "rmsprop": 0.3, "momentum": 0.3, "nesterov": 0.3}

_LR = HyperParameter("lr", "learning rate η", 1e-6, 100.0, "step size")
_MOMENTUM = HyperParameter("momentum", "momentum μ", 0.0, 0.999, "fraction of the previous velocity kept", 0.9)


def _sgd(params, hp, _h):
    return torch.optim.SGD(params, lr=hp["lr"], momentum=hp.get("momentum", 0.0), nesterov=hp.get("nesterov", False))


RACE_OPTIMIZERS: dict[str, OptimizerKind] = {
    k.key: k
    for k in (
        OptimizerKind("gd", "GD", (_LR,), _sgd, "gradient", r"w \leftarrow w - \eta g", "torch.optim.SGD"),
        OptimizerKind(
            "sgd_noise", "Noisy SGD",
            (_LR, HyperParameter("noise", "gradient noise σ", 0.0, 1e6, "std of Gaussian noise added to each gradient "
                                 "component, like the error of a minibatch gradient", 0.0)),
            _sgd, "gradient", r"w \leftarrow w - \eta\,(g + \sigma\xi),\ \xi\sim\mathcal N(0, I)", "torch.optim.SGD",
        ),
        OptimizerKind("momentum", "Momentum", (_LR, _MOMENTUM), _sgd, "gradient",
                      r"v \leftarrow \mu v + g,\ w \leftarrow w - \eta v", "torch.optim.SGD(momentum)", MOMENTUM_NOTE),
        OptimizerKind("nesterov", "Nesterov", (_LR, _MOMENTUM),
                      lambda params, hp, h: _sgd(params, {**hp, "nesterov": True}, h), "gradient",
                      r"v \leftarrow \mu v + g,\ w \leftarrow w - \eta (g + \mu v)", "torch.optim.SGD(nesterov=True)",
                      NESTEROV_NOTE),
        OptimizerKind("adagrad", "Adagrad", (_LR,), lambda params, hp, _h: torch.optim.Adagrad(params, lr=hp["lr"]),
                      "step", r"s \leftarrow s + g^2,\ w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)",
                      "torch.optim.Adagrad"),
        OptimizerKind(
            "rmsprop", "RMSProp",
            (_LR, HyperParameter("alpha", "decay α", 0.0, 0.9999, "the running average of g² keeps this fraction. "
                                 "The default is torch's 0.99; course note 000 gives 0.9 (γ there)", RMSPROP_ALPHA)),
            lambda params, hp, _h: torch.optim.RMSprop(params, lr=hp["lr"], alpha=hp["alpha"]), "step",
            r"v \leftarrow \alpha v + (1-\alpha) g^2,\ w \leftarrow w - \eta\, g / (\sqrt{v} + \epsilon)",
            "torch.optim.RMSprop",
        ),
        OptimizerKind(
            "adam", "Adam",
            (_LR, HyperParameter("beta1", "β₁", 0.0, 0.9999, "momentum of the gradient average", 0.9),
             HyperParameter("beta2", "β₂", 0.0, 0.99999, "decay of the squared-gradient average", 0.999)),
            lambda params, hp, _h: torch.optim.Adam(params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"])), "step",
            r"\hat m = \frac{m}{1-\beta_1^k},\ \hat v = \frac{v}{1-\beta_2^k},\ "
            r"w \leftarrow w - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)",
            "torch.optim.Adam",
        ),
        OptimizerKind(
            "rprop", "RProp",
            (HyperParameter("lr", "initial step Δ₀", 1e-6, 50.0, "first step length per coordinate"),
             HyperParameter("eta_minus", "shrink η⁻", 0.01, 0.99, "step factor when the gradient's sign flips", 0.5),
             HyperParameter("eta_plus", "grow η⁺", 1.01, 3.0, "step factor while the sign holds", 1.2)),
            lambda params, hp, _h: torch.optim.Rprop(params, lr=hp["lr"], etas=(hp["eta_minus"], hp["eta_plus"])),
            "step", r"\Delta \leftarrow \Delta\cdot\eta^{\pm}\ \text{(sign kept/flipped)},\ "
            r"w \leftarrow w - \Delta\,\mathrm{sign}(g)", "torch.optim.Rprop",
        ),
        OptimizerKind(
            "newton", "Newton",
            (HyperParameter("lr", "step fraction η", 1e-3, 2.0, "1 = the full Newton step"),
             HyperParameter("damping", "damping δ", 0.0, 100.0, "added to the Hessian's diagonal (Levenberg)", 0.0)),
            lambda params, hp, hessian: Newton(params, hessian, lr=hp["lr"], damping=hp["damping"]), "newton",
            r"w \leftarrow w - \eta\,(H + \delta I)^{-1} g", "engine.optimizers.rules.Newton",
        ),
        OptimizerKind(
            "quickprop", "Quickprop",
            (_LR, HyperParameter("max_growth", "max growth μ", 1.01, 5.0,
                                 "largest ratio of one step to the last", 1.75)),
            lambda params, hp, _h: Quickprop(params, lr=hp["lr"], max_growth=hp["max_growth"]), "gradient",
            r"\Delta w_t = \frac{g_t}{g_{t-1} - g_t}\,\Delta w_{t-1}", "engine.optimizers.rules.Quickprop",
        ),
    )
}


def nice_number(value: float) -> float:
    """Round to 1, 2 or 5 times a power of ten: defaults a person can read and type."""
    if value <= 0:
        return value
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    step = min((1, 2, 5, 10), key=lambda m: abs(math.log(mantissa / m)))
    return float(f"{step * 10**exponent:.6g}")


def input_step(value: float) -> float:
    """A +/- step for a number input holding `value`: a tenth of its leading power of ten."""
    return 10.0 ** (math.floor(math.log10(value)) - 1) if value > 0 else 0.01


@dataclass(frozen=True)
class OptimizerSpec:
    kind: str
    hyper: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, kind: str, **hyper: float) -> "OptimizerSpec":
        return cls(kind, tuple(sorted((k, float(v)) for k, v in hyper.items())))

    @classmethod
    def default(cls, kind: str, surface: Surface) -> "OptimizerSpec":
        return cls.of(kind, **RACE_OPTIMIZERS[kind].default_hyperparameters(surface))

    @property
    def hyperparameters(self) -> dict[str, float]:
        return dict(self.hyper)

    @property
    def label(self) -> str:
        return RACE_OPTIMIZERS[self.kind].label


def describe_hyperparameters(spec: OptimizerSpec) -> str:
    """'η=0.1, β₁=0.9, β₂=0.999': each hyperparameter by its symbol (the last word of its label)."""
    values = spec.hyperparameters
    return ", ".join(f"{p.label.split()[-1]}={values[p.name]:g}" for p in RACE_OPTIMIZERS[spec.kind].params)
