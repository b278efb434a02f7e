"""The Optimizer Trajectories page's experiment as data: its control table and the spec it defines
(engine.common.spec).

The start point and every optimizer's hyperparameters default to what suits the function chosen (step sizes
differ by orders of magnitude between functions), so their defaults are functions of the fields before them.
A hyperparameter's field is `<optimizer>_<hyperparameter>` (`gd_lr`, `adam_beta1`), shown while its optimizer
is in the race.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.common.limits import LIMITS
from engine.common.spec import Control, Spec, spec_class
from engine.optimizers.experiment import SCHEDULE_LABELS, Clipping, Experiment, Schedule
from engine.optimizers.surfaces import SURFACE_NAMES, Surface, make_surface
from engine.optimizers.table import RACE_OPTIMIZERS, OptimizerSpec

DEFAULT_OPTIMIZERS = ("gd", "momentum", "adam", "newton")
CLIPPING_MODES = {"none": "off", "norm": "by norm", "value": "by value"}
START = LIMITS["trajectories.start"]  # the start widgets' range: beyond it the engine refuses the start


def surface_of(fields: Mapping[str, Any]) -> Surface:
    """The test function the fields so far choose (κ and θ shape only the quadratic)."""
    return make_surface(fields["fn"], fields["kappa"], fields["angle"])


def _defaults_from(before: Mapping[str, Any]) -> Surface:
    """The function whose start point and step sizes are the defaults. κ and θ change neither (the quadratic's
    are fixed); a function the spec refuses gives the quadratic's, as a settings file is read field by field
    and a default must not fail before the refusal names the field."""
    fn = before["fn"]
    return make_surface(fn if isinstance(fn, str) and fn in SURFACE_NAMES else "quadratic")


def _start_control(axis: int, name: str) -> Control:
    return Control(f"{name}0", "number", f"Start {name}", lambda before: _defaults_from(before).start[axis],
                   low=START.low, high=START.high, step=0.1, limit="trajectories.start", format="%.3f")


def _hyperparameter_controls() -> tuple[Control, ...]:
    """One number per optimizer and hyperparameter, defaulting to the optimizer's value for the function."""
    def default(kind: str, name: str):
        return lambda before: RACE_OPTIMIZERS[kind].default_hyperparameters(_defaults_from(before))[name]

    def chosen(kind: str):
        return lambda before: kind in before["opts"]

    return tuple(Control(f"{kind}_{p.name}", "number", p.label, default(kind, p.name), low=p.low, high=p.high,
                         help=p.help, shown=chosen(kind), format="%g")
                 for kind, info in RACE_OPTIMIZERS.items() for p in info.params)


CONTROLS: tuple[Control, ...] = (
    # Problem
    Control("fn", "select", "Test function", "quadratic", options=tuple(SURFACE_NAMES), labels=SURFACE_NAMES),
    Control("kappa", "slider", "Condition number κ = λmax/λmin", 10.0, low=1.0, high=100.0, step=1.0,
            limit="trajectories.condition", shown=lambda before: before["fn"] == "quadratic"),
    Control("angle", "slider", "Rotation θ (degrees)", 0.0, low=-90.0, high=90.0, step=5.0,
            shown=lambda before: before["fn"] == "quadratic"),
    _start_control(0, "x"),
    _start_control(1, "y"),
    Control("steps", "slider", "Steps", 150, low=10, high=500, step=10, limit="trajectories.steps"),
    # Every optimizer
    Control("sched", "select", "Learning-rate schedule", "constant", options=tuple(SCHEDULE_LABELS),
            labels=SCHEDULE_LABELS, aliases={"inverse sqrt": "inverse_sqrt"}),  # its label in links made before
    Control("step_gamma", "slider", "γ (factor per drop)", 0.5, low=0.05, high=0.95, step=0.05,
            shown=lambda before: before["sched"] == "step"),
    Control("step_every", "slider", "N (steps between drops)", 50, low=5, high=250, step=5,
            shown=lambda before: before["sched"] == "step"),
    Control("exp_gamma", "slider", "γ (factor per step)", 0.98, low=0.9, high=0.999, step=0.001, format="%.3f",
            shown=lambda before: before["sched"] == "exponential"),
    # Course note 001's power schedule η₀/(1 + k/s)^c with s = 1.
    Control("power_c", "slider", "c (exponent)", 0.5, low=0.05, high=2.0, step=0.05, format="%.2f",
            help="Course note 001's power schedule η/(1+k/s)^c, here with s = 1 step. c = ½ (the default) is the "
                 "inverse square root; c = 1 decays like 1/k.",
            shown=lambda before: before["sched"] == "inverse_sqrt"),
    Control("clip", "select", "Gradient clipping", "none", options=tuple(CLIPPING_MODES), labels=CLIPPING_MODES),
    Control("clip_at", "number", "Clip threshold", 1.0, low=1e-6, high=1e6, format="%g",
            shown=lambda before: before["clip"] != "none"),
    # The race
    Control("opts", "multiselect", "Optimizers (all start from the same point)", DEFAULT_OPTIMIZERS,
            options=tuple(RACE_OPTIMIZERS), labels={kind: info.label for kind, info in RACE_OPTIMIZERS.items()}),
    *_hyperparameter_controls(),
    Control("seed", "number", "Noise seed", 0, low=0, high=10_000, shown=lambda before: "sgd_noise" in before["opts"]),
)


@spec_class
class OptimizersSpec(Spec):
    """One race: a field per control of the page (see CONTROLS)."""

    PREFIX = "opt_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("opt_tab",)  # the open tab: view state a link may carry

    def experiment(self) -> Experiment:
        """The race this spec runs: every chosen optimizer with its hyperparameters, in the order chosen."""
        optimizers = tuple(OptimizerSpec.of(kind, **{p.name: getattr(self, f"{kind}_{p.name}")
                                                     for p in RACE_OPTIMIZERS[kind].params})
                           for kind in self.opts)
        # A field whose control is hidden holds its default, which is the engine's own (Schedule(), Clipping()).
        gamma = self.exp_gamma if self.sched == "exponential" else self.step_gamma
        return Experiment(self.fn, self.kappa, self.angle, (self.x0, self.y0), self.steps, optimizers,
                          Schedule(self.sched, gamma, self.step_every, self.power_c), Clipping(self.clip, self.clip_at),
                          self.seed)
