"""Optimizer trajectories on 2-D test functions, and the step-size theory of quadratics.

Every optimizer torch has is torch's own (`torch.optim.SGD`, `Adagrad`,
`RMSprop`, `Adam`, `Rprop`); only what torch lacks is written here, as
`torch.optim.Optimizer` subclasses: `Newton` and `Quickprop`. Learning-rate
schedules are `torch.optim.lr_scheduler`s and clipping is
`torch.nn.utils.clip_grad_*`, so what a student sees is what torch does.

One step of `run_optimizer`, for one optimizer from one start point:

    gradient of f at w  ->  + seeded Gaussian noise (SGD + noise only)
                        ->  clipped (norm or value), when asked
                        ->  optimizer.step(), then scheduler.step()

A trajectory stops when the point leaves the surface's divergence bound (the
plot range grown on each side: far enough out that it will not come back) or
becomes non-finite. Where a run "left the region" is one thing,
`left_region_at`: the step from which the path stayed outside the plotted
region (`Surface.x_range` × `y_range`) to its end. A run that diverged ends
there, and `diverged_at` is that step (or the non-finite one, inside the
region): the contour's ✕, the curves' ✕ and the summary table name one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

from engine.common.limits import check, check_choice
from engine.surfaces import DTYPE, SURFACE_NAMES, Surface, make_surface


# ----------------------------------------------------------------- optimizers torch lacks
class Newton(torch.optim.Optimizer):
    """Newton's method: w <- w - lr * (H + damping * I)^-1 g.

    `hessian()` returns the Hessian at the current parameters, as an (n, n)
    matrix over all parameters flattened in order. The gradient is read from
    `p.grad`, so noise or clipping applied to it beforehand is respected. A
    singular system gives a non-finite step (the run is then reported as
    diverged) rather than an exception.
    """

    def __init__(self, params, hessian: Callable[[], torch.Tensor], lr: float = 1.0, damping: float = 0.0):
        if lr <= 0 or damping < 0:
            raise ValueError(f"Newton needs lr > 0 and damping >= 0, got lr={lr}, damping={damping}")
        super().__init__(params, dict(lr=lr, damping=damping))
        if len(self.param_groups) != 1:
            raise ValueError("Newton works on one parameter group (the Hessian couples all parameters)")
        self._hessian = hessian

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        grad = torch.cat([p.grad.reshape(-1) for p in params])
        hessian = self._hessian().reshape(grad.numel(), grad.numel())
        system = hessian + group["damping"] * torch.eye(grad.numel(), dtype=grad.dtype, device=grad.device)
        direction, info = torch.linalg.solve_ex(system, grad)
        if info.item() != 0:
            direction = torch.full_like(grad, float("nan"))
        offset = 0
        for p in params:
            p.add_(direction[offset:offset + p.numel()].view_as(p), alpha=-group["lr"])
            offset += p.numel()
        return loss


class Quickprop(torch.optim.Optimizer):
    """Fahlman's Quickprop (1988): per weight, jump to the minimum of the parabola
    through the last two slopes, Δw(t) = g(t) / (g(t-1) - g(t)) · Δw(t-1).

    - The first step, and any step after a zero step, is gradient descent: -lr·g.
    - The jump is at most `max_growth` (μ) times the previous step: when the
      slope keeps its sign and has not shrunk below μ/(1+μ) of the previous
      one, the factor is μ.
    - While the slope keeps its sign, the gradient term -lr·g is added too;
      once it flips (the minimum was crossed), only the parabola jump is taken.
    """

    def __init__(self, params, lr: float = 0.01, max_growth: float = 1.75):
        if lr <= 0 or max_growth <= 0:
            raise ValueError(f"Quickprop needs lr > 0 and max_growth > 0, got {lr}, {max_growth}")
        super().__init__(params, dict(lr=lr, max_growth=max_growth))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu = group["lr"], group["max_growth"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    update = -lr * g
                else:
                    prev_g, prev_step = state["prev_grad"], state["prev_step"]
                    denominator = prev_g - g
                    safe = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
                    factor = torch.where(denominator != 0, g / safe, torch.zeros_like(g))
                    same_sign = g * prev_g > 0
                    factor = torch.where(same_sign & (g.abs() >= mu / (1 + mu) * prev_g.abs()),
                                         torch.full_like(g, mu), factor)
                    restart = prev_step == 0
                    update = torch.where(restart, torch.zeros_like(g), factor * prev_step)
                    update = update + torch.where(same_sign | restart, -lr * g, torch.zeros_like(g))
                p.add_(update)
                state["prev_grad"], state["prev_step"] = g.clone(), update
        return loss


# ----------------------------------------------------------------- the catalogue
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

    def default_hyperparameters(self, surface: Surface) -> dict[str, float]:
        values = {p.name: p.default for p in self.params if p.default is not None}
        lr = {"gradient": surface.gd_lr, "step": surface.adaptive_lr, "newton": 1.0}[self.lr_unit]
        values["lr"] = nice_number(lr * LR_MULTIPLIER[self.key]) if self.key in LR_MULTIPLIER else lr
        values["lr"] = dict(surface.lr_overrides).get(self.key, values["lr"])
        if "noise" in values:
            # Per-step jitter of lr·σ ≈ 1.5% of the plot width, whatever the function's scale.
            values["noise"] = nice_number(0.015 * (surface.x_range[1] - surface.x_range[0]) / values["lr"])
        return values


# Step-length optimizers move ~lr per step at first, except where the formula says otherwise:
# Adagrad's steps shrink like 1/sqrt(k) (start larger); RMSProp's first step is lr/sqrt(1-α) = 10 lr.
# Momentum's steady steps are lr/(1-μ) = 10 lr long and Nesterov is stable on a quadratic only
# for ηλ < (2+2μ)/(1+2μ) ≈ 1.36 (GD: 2), so both start from a smaller η than GD.
LR_MULTIPLIER = {"adagrad": 5.0, "rmsprop": 0.3, "momentum": 0.3, "nesterov": 0.3}

_LR = HyperParameter("lr", "learning rate η", 1e-6, 100.0, "step size")
_MOMENTUM = HyperParameter("momentum", "momentum μ", 0.0, 0.999, "fraction of the previous velocity kept", 0.9)


def _sgd(params, hp, _h):
    return torch.optim.SGD(params, lr=hp["lr"], momentum=hp.get("momentum", 0.0), nesterov=hp.get("nesterov", False))


OPTIMIZERS: dict[str, OptimizerKind] = {
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
                      r"v \leftarrow \mu v + g,\ w \leftarrow w - \eta v", "torch.optim.SGD(momentum)"),
        OptimizerKind("nesterov", "Nesterov", (_LR, _MOMENTUM),
                      lambda params, hp, h: _sgd(params, {**hp, "nesterov": True}, h), "gradient",
                      r"v \leftarrow \mu v + g,\ w \leftarrow w - \eta (g + \mu v)", "torch.optim.SGD(nesterov=True)"),
        OptimizerKind("adagrad", "Adagrad", (_LR,), lambda params, hp, _h: torch.optim.Adagrad(params, lr=hp["lr"]),
                      "step", r"s \leftarrow s + g^2,\ w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)",
                      "torch.optim.Adagrad"),
        OptimizerKind(
            "rmsprop", "RMSProp",
            (_LR, HyperParameter("alpha", "decay α", 0.0, 0.9999, "running average of g² keeps this fraction", 0.99)),
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
            r"w \leftarrow w - \eta\,(H + \delta I)^{-1} g", "engine.trajectories.Newton",
        ),
        OptimizerKind(
            "quickprop", "Quickprop",
            (_LR, HyperParameter("max_growth", "max growth μ", 1.01, 5.0,
                                 "largest ratio of one step to the last", 1.75)),
            lambda params, hp, _h: Quickprop(params, lr=hp["lr"], max_growth=hp["max_growth"]), "gradient",
            r"\Delta w_t = \frac{g_t}{g_{t-1} - g_t}\,\Delta w_{t-1}", "engine.trajectories.Quickprop",
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


# ----------------------------------------------------------------- experiment description
@dataclass(frozen=True)
class OptimizerSpec:
    kind: str
    hyper: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, kind: str, **hyper: float) -> "OptimizerSpec":
        return cls(kind, tuple(sorted((k, float(v)) for k, v in hyper.items())))

    @classmethod
    def default(cls, kind: str, surface: Surface) -> "OptimizerSpec":
        return cls.of(kind, **OPTIMIZERS[kind].default_hyperparameters(surface))

    @property
    def hyperparameters(self) -> dict[str, float]:
        return dict(self.hyper)

    @property
    def label(self) -> str:
        return OPTIMIZERS[self.kind].label


SCHEDULES = {"constant": "constant", "step": "step decay", "exponential": "exponential", "cosine": "cosine",
             "inverse_sqrt": "inverse sqrt"}


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    gamma: float = 0.5
    every: int = 50

    def build(self, optimizer: torch.optim.Optimizer, steps: int):
        sched = torch.optim.lr_scheduler
        if self.kind == "constant":
            return None
        if self.kind == "step":
            return sched.StepLR(optimizer, step_size=max(1, self.every), gamma=self.gamma)
        if self.kind == "exponential":
            return sched.ExponentialLR(optimizer, gamma=self.gamma)
        if self.kind == "cosine":
            return sched.CosineAnnealingLR(optimizer, T_max=max(1, steps))
        if self.kind == "inverse_sqrt":
            return sched.LambdaLR(optimizer, lambda k: 1.0 / math.sqrt(1.0 + k))
        raise ValueError(f"unknown schedule {self.kind!r}; choose from {sorted(SCHEDULES)}")

    def describe(self, steps: int) -> str:
        return {
            "constant": "constant η",
            "step": f"η·{self.gamma:g}^⌊k/{self.every}⌋",
            "exponential": f"η·{self.gamma:g}^k",
            "cosine": f"η·(1+cos(πk/{steps}))/2",
            "inverse_sqrt": "η/√(1+k)",
        }[self.kind]


@dataclass(frozen=True)
class Clipping:
    mode: str = "none"  # "none", "norm" (rescale g to at most `threshold` long), "value" (clamp each component)
    threshold: float = 1.0

    def apply(self, params) -> None:
        if self.mode == "norm":
            torch.nn.utils.clip_grad_norm_(params, self.threshold)
        elif self.mode == "value":
            torch.nn.utils.clip_grad_value_(params, self.threshold)
        elif self.mode != "none":
            raise ValueError(f"unknown clipping mode {self.mode!r}")

    def describe(self) -> str:
        return {"none": "off", "norm": f"‖g‖ ≤ {self.threshold:g}", "value": f"|gᵢ| ≤ {self.threshold:g}"}[self.mode]


@dataclass(frozen=True)
class Experiment:
    """Everything that defines a page's picture, as plain, hashable data (what the URL holds)."""

    surface: str = "quadratic"
    condition: float = 10.0
    angle_deg: float = 0.0
    start: tuple[float, float] | None = None  # None: the surface's default start
    steps: int = 100
    optimizers: tuple[OptimizerSpec, ...] = ()
    schedule: Schedule = Schedule()
    clipping: Clipping = Clipping()
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("test function", self.surface, SURFACE_NAMES)
        check("trajectories.steps", self.steps)
        check("trajectories.condition", self.condition)
        for coordinate in self.start or ():
            check("trajectories.start", coordinate)

    def make_surface(self) -> Surface:
        return make_surface(self.surface, self.condition, self.angle_deg)


@dataclass(frozen=True)
class Trajectory:
    """One optimizer's path. points[k] is w after k steps (points[0] is the start)."""

    spec: OptimizerSpec
    points: np.ndarray  # (n + 1, 2)
    losses: np.ndarray  # (n + 1,)
    distances: np.ndarray  # (n + 1,), to the nearest minimum (or saddle)
    learning_rates: np.ndarray  # (n,), the lr in effect at each step
    diverged_at: int | None = None  # where the run ends: the step it left the region for good, or was non-finite
    divergence: str = ""  # what happened, naming `left_region_at` when the path ended outside the plotted region
    left_region_at: int | None = None  # the step from which the path stayed outside the plotted region

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def steps_taken(self) -> int:
        return len(self.points) - 1

    def first_step_within(self, distance: float) -> int | None:
        """The first step at which the point is within `distance` of a minimum (or saddle)."""
        hits = np.flatnonzero(self.distances <= distance)
        return int(hits[0]) if len(hits) else None


def left_region_at(points: np.ndarray, x_range, y_range) -> int | None:
    """The step from which a path (points[k] after k steps) stays outside the box x_range × y_range to its end.

    None when the path ends inside the box (leaving it and coming back is not leaving); 0 when it never was in it.
    """
    points = np.asarray(points, dtype=float)
    inside = ((x_range[0] <= points[:, 0]) & (points[:, 0] <= x_range[1])
              & (y_range[0] <= points[:, 1]) & (points[:, 1] <= y_range[1]))
    if inside[-1]:
        return None
    was_inside = np.flatnonzero(inside)
    return int(was_inside[-1]) + 1 if len(was_inside) else 0


def describe_leaving(left_at: int) -> str:
    """`left_region_at` in words, as the plot and the table both show it."""
    return "started outside the region" if left_at == 0 else f"left the region at step {left_at}"


def _divergence(left_at: int | None, stopped_at: int, non_finite: bool) -> str:
    """What ended a diverged run."""
    if left_at is None:  # it blew up inside the region
        return f"became non-finite at step {stopped_at}"
    return f"{describe_leaving(left_at)}, then overflowed" if non_finite else describe_leaving(left_at)


class _Run:
    """One optimizer's state while `run_optimizers` steps every optimizer in lockstep."""

    def __init__(self, surface: Surface, spec: OptimizerSpec, start, steps: int, schedule: Schedule, seed: int):
        self.spec, self.hp = spec, spec.hyperparameters
        self.w = torch.tensor(start, dtype=DTYPE, requires_grad=True)
        self.optimizer = OPTIMIZERS[spec.kind].build([self.w], self.hp, lambda: surface.hessian_tensor(self.w))
        self.scheduler = schedule.build(self.optimizer, steps)
        self.noise_std = self.hp.get("noise", 0.0)
        self.noise = torch.Generator().manual_seed(seed)
        self.points, self.lrs = [self.w.detach().clone()], []
        self.diverged_at, self.non_finite = None, False

    @property
    def active(self) -> bool:
        return self.diverged_at is None

    def step(self, k: int, clipping: Clipping, bound) -> None:
        if self.noise_std > 0:
            self.w.grad.add_(torch.randn(self.w.shape, generator=self.noise, dtype=DTYPE), alpha=self.noise_std)
        clipping.apply([self.w])
        self.lrs.append(self.optimizer.param_groups[0]["lr"])
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        x, y = self.w.detach().tolist()
        (x_lo, x_hi), (y_lo, y_hi) = bound
        if not (math.isfinite(x) and math.isfinite(y)):
            self.diverged_at, self.non_finite = k, True
            return
        self.points.append(self.w.detach().clone())
        if not (x_lo <= x <= x_hi and y_lo <= y <= y_hi):
            self.diverged_at = k

    def result(self, surface: Surface) -> Trajectory:
        path = torch.stack(self.points)
        with torch.no_grad():
            losses = surface.fn(path).numpy()
        path, lrs, diverged_at = path.numpy(), np.asarray(self.lrs, dtype=float), self.diverged_at
        left_at = left_region_at(path, surface.x_range, surface.y_range)
        divergence = "" if diverged_at is None else _divergence(left_at, diverged_at, self.non_finite)
        if diverged_at is not None and left_at:
            # The run went on to the bound only to be sure it would not come back; it diverged where it left
            # the plotted region, and ends there: the plot, the curves and the table then name one step.
            diverged_at, path, losses, lrs = left_at, path[:left_at + 1], losses[:left_at + 1], lrs[:left_at]
        return Trajectory(self.spec, path, losses, surface.distance_to_reference(path), lrs, diverged_at, divergence,
                          left_at)


def run_optimizers(surface: Surface, specs, start, steps: int, schedule: Schedule = Schedule(),
                   clipping: Clipping = Clipping(), seed: int = 0, bound_margin: float = 0.5) -> list[Trajectory]:
    """Run each optimizer for `steps` steps from `start` on `surface` (float64, CPU).

    The optimizers advance in lockstep and share one forward and backward pass
    per step (f applied row-wise to the stacked points), which is what makes a
    page recompute all of them as a slider moves. Each optimizer still has its
    own parameter, optimizer, scheduler and noise generator, so its trajectory
    is the one it would have alone.
    """
    runs = [_Run(surface, spec, start, steps, schedule, seed) for spec in specs]
    bound = surface.bound(bound_margin)
    for k in range(1, steps + 1):
        active = [run for run in runs if run.active]
        if not active:
            break
        for run in active:
            run.optimizer.zero_grad()
        surface.fn(torch.stack([run.w for run in active])).sum().backward()
        for run in active:
            run.step(k, clipping, bound)
    return [run.result(surface) for run in runs]


def run_optimizer(surface: Surface, spec: OptimizerSpec, start, steps: int, schedule: Schedule = Schedule(),
                  clipping: Clipping = Clipping(), seed: int = 0, bound_margin: float = 0.5) -> Trajectory:
    return run_optimizers(surface, [spec], start, steps, schedule, clipping, seed, bound_margin)[0]


def describe_hyperparameters(spec: OptimizerSpec) -> str:
    """'η=0.1, β₁=0.9, β₂=0.999': each hyperparameter by its symbol (the last word of its label)."""
    values = spec.hyperparameters
    return ", ".join(f"{p.label.split()[-1]}={values[p.name]:g}" for p in OPTIMIZERS[spec.kind].params)


def summary_rows(trajectories, experiment: "Experiment", reached: float = 1e-3) -> list[dict]:
    """Every setting in effect for each run, and how it ended."""
    rows = []
    for traj in trajectories:
        near = traj.first_step_within(reached)
        if traj.diverged_at is not None:
            outcome = f"diverged: {traj.divergence}"
        elif near is not None:
            outcome = f"within {reached:g} of the target at step {near}"
        else:
            outcome = f"{traj.distances[-1]:.3g} from the target after {traj.steps_taken} steps"
            if traj.left_region_at is not None:  # drifted off the plot without running away
                outcome = f"{describe_leaving(traj.left_region_at)}; {outcome}"
        schedule = experiment.schedule.describe(experiment.steps)
        if traj.kind == "rprop" and experiment.schedule.kind != "constant":
            schedule += " (no effect: RProp only uses η as its first step)"
        rows.append({
            "optimizer": traj.label, "torch": OPTIMIZERS[traj.kind].torch_class,
            "hyperparameters": describe_hyperparameters(traj.spec), "lr schedule": schedule,
            "clipping": experiment.clipping.describe(), "steps": traj.steps_taken,
            "final f": float(traj.losses[-1]), "final distance": float(traj.distances[-1]), "outcome": outcome,
        })
    return rows


def run_experiment(experiment: Experiment) -> list[Trajectory]:
    surface = experiment.make_surface()
    return run_optimizers(surface, experiment.optimizers, experiment.start or surface.start, experiment.steps,
                          experiment.schedule, experiment.clipping, experiment.seed)


# ----------------------------------------------------------------- step-size theory (course notes, unit 7)
@dataclass(frozen=True)
class EigenDirection:
    """One eigen-direction of a Hessian: along it f is ½λu², and GD multiplies u by (1 - ηλ) per step."""

    eigenvalue: float
    vector: tuple[float, float]

    @property
    def eta_opt(self) -> float:
        """η_opt = 1/λ: the step that lands on the minimum along this direction in one step."""
        return 1.0 / self.eigenvalue if self.eigenvalue > 0 else math.inf

    @property
    def eta_max(self) -> float:
        """2η_opt: beyond it GD diverges along this direction."""
        return 2.0 * self.eta_opt


def eigen_directions(hessian: np.ndarray) -> list[EigenDirection]:
    """Eigen-directions, steepest (largest λ) first."""
    values, vectors = np.linalg.eigh(np.asarray(hessian, dtype=float))
    order = np.argsort(values)[::-1]
    return [EigenDirection(float(values[i]), (float(vectors[0, i]), float(vectors[1, i]))) for i in order]


REGIMES = ("monotone", "one step", "oscillating", "oscillates forever", "diverging", "escaping", "flat")


def gd_regime(eta: float, eigenvalue: float, rtol: float = 1e-9) -> str:
    """What GD with step η does along a direction of curvature λ (the contraction factor is 1 - ηλ)."""
    if eigenvalue < 0:
        return "escaping"  # negative curvature: |1 - ηλ| > 1 for every η > 0
    if eigenvalue == 0:
        return "flat"
    ratio = eta * eigenvalue  # η / η_opt
    if math.isclose(ratio, 1.0, rel_tol=rtol):
        return "one step"
    if math.isclose(ratio, 2.0, rel_tol=rtol):
        return "oscillates forever"
    if ratio < 1:
        return "monotone"
    return "oscillating" if ratio < 2 else "diverging"


def regime_rows(hessian: np.ndarray, learning_rates: Mapping[str, float]) -> list[dict]:
    """For each named learning rate and each eigen-direction: λ, η_opt, 2η_opt, 1 - ηλ and the regime."""
    rows = []
    for name, eta in learning_rates.items():
        for index, direction in enumerate(eigen_directions(hessian), start=1):
            rows.append({
                "optimizer": name, "η": eta, "direction": index, "λ": direction.eigenvalue,
                # No step size lands on, or converges to, a point of zero or negative curvature.
                "η_opt = 1/λ": direction.eta_opt if direction.eigenvalue > 0 else None,
                "2·η_opt": direction.eta_max if direction.eigenvalue > 0 else None,
                "factor 1 − ηλ": 1.0 - eta * direction.eigenvalue,
                "regime": gd_regime(eta, direction.eigenvalue),
            })
    return rows


def momentum_stability_limit(kind: str, momentum: float, eigenvalue: float) -> float:
    """The largest stable η along a direction of curvature λ > 0, for torch's momentum (heavy ball,
    w' = w - ηλw + μ(w - w_prev)): 2(1+μ)/λ; and for torch's Nesterov: (2+2μ)/((1+2μ)λ).
    Both are where a root of the two-step recurrence reaches -1."""
    if kind == "momentum":
        return 2 * (1 + momentum) / eigenvalue
    if kind == "nesterov":
        return (2 + 2 * momentum) / ((1 + 2 * momentum) * eigenvalue)
    raise ValueError(f"no momentum stability limit for {kind!r}")


def newton_step(surface: Surface, point) -> np.ndarray:
    """w - H(w)^-1 ∇f(w): on a quadratic with positive-definite H, the minimum itself."""
    point = np.asarray(point, dtype=float)
    return point - np.linalg.solve(surface.hessian(point), surface.gradient(point))
