"""Optimizer trajectories: many optimizers, one start point, a 2-D test function.

Every control is in the URL, drawn from the page's control table (engine/optimizers/spec.py); everything
recomputes as a slider moves (a whole race is a few thousand tiny float64 steps, cached per experiment and
shared by every session), so no background job is needed.
"""

import numpy as np
import pandas as pd
import streamlit as st

from engine.common.history import Series
from engine.optimizers.experiment import Experiment
from engine.optimizers.spec import OptimizersSpec, surface_of
from engine.optimizers.summary import summary_rows
from engine.optimizers.table import RACE_OPTIMIZERS, describe_hyperparameters, input_step
from engine.optimizers.theory import eigen_directions, momentum_stability_limit, newton_step, regime_rows
from engine.optimizers.trainer import run_experiment
from ui.chart_component import clicked_points
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.sharing import later, presenting
from ui.tables import static_table
from viz import optimizers as vt
from viz.animation import optimizer_race
from viz.theme import optimizer_color

GD_RULE = ("gd", "sgd_noise")  # optimizers whose update is w - ηg, which the regime theory describes
MAIN_BELOW = 16.0  # rem above the trajectories in presentation mode: title, function, optimizers, tabs
PREFIX = OptimizersSpec.PREFIX
state = st.session_state


def reset_to_surface_defaults():
    """A new function gets its own start point and learning rates (step sizes differ by orders of magnitude):
    every control whose default depends on the function goes back to that default."""
    chosen = {name: state.get(PREFIX + name, getattr(OptimizersSpec, name)) for name in ("fn", "kappa", "angle")}
    for control in OptimizersSpec.CONTROLS:
        if callable(control.default):
            state[PREFIX + control.field] = control.default_for(chosen)


def start_from_click():
    points = clicked_points(state.opt_contour)
    if points:
        state.opt_x0, state.opt_y0 = round(points[0]["x"], 3), round(points[0]["y"], 3)


@st.cache_data(max_entries=64, show_spinner="Racing every optimizer…")  # (shown only after half a second)
def run(experiment: Experiment):
    return run_experiment(experiment)


def sidebar_controls(panel: ControlPanel) -> None:
    st.header("Problem")
    panel.draw("fn", on_change=reset_to_surface_defaults)
    panel.draw("kappa", "angle")
    st.caption(surface_of(panel.values).note)
    left, right = st.columns(2)
    panel.draw("x0", where=left)
    panel.draw("y0", where=right)
    st.caption("…or click the contour plot to start there.")
    panel.draw("steps")
    st.header("Every optimizer")
    panel.draw("sched", "step_gamma", "step_every", "exp_gamma", "power_c", "clip", "clip_at")


def hyperparameter_controls(panel: ControlPanel, kinds: tuple[str, ...]) -> None:
    """A column per optimizer in the race with its hyperparameters (the others hold their defaults)."""
    if kinds:
        with later("opt_hyperparameters"), st.expander("Hyperparameters", expanded=not presenting()):
            for row in range(0, len(kinds), 5):
                for column, kind in zip(st.columns(5), kinds[row:row + 5]):
                    info = RACE_OPTIMIZERS[kind]
                    column.markdown(f"<span style='color:{optimizer_color(kind)};font-weight:700;font-size:1.1rem'>"
                                    f"● {info.label}</span>", unsafe_allow_html=True,
                                    help=f"${info.update}$\n\n{info.note}" if info.note else f"${info.update}$")
                    for p in info.params:
                        field = f"{kind}_{p.name}"
                        default = panel.controls[field].default_for(panel.values)
                        panel.draw(field, where=column, step=input_step(default))
            for kind in kinds:  # where torch's rule is not the one the course notes write, both, side by side
                info = RACE_OPTIMIZERS[kind]
                if info.note:
                    st.caption(f"**{info.label}**: ${info.update}$ (torch). {info.note}")
            panel.draw("seed")
    panel.draw(*(field for field in panel.controls if field not in panel.values))  # not in the race: defaults


# ----------------------------------------------------------------- controls
export_panel(OptimizersSpec)
panel = ControlPanel(OptimizersSpec)
with st.sidebar:
    sidebar_controls(panel)
surface = surface_of(panel.values)
st.title("Optimizer trajectories")
st.markdown(f"**{surface.title}** &nbsp; ${surface.formula}$")
kinds = panel.draw("opts")
hyperparameter_controls(panel, kinds)
spec: OptimizersSpec = panel.spec()

experiment = spec.experiment()
trajectories = run(experiment)
fn, x0, y0, steps = spec.fn, spec.x0, spec.y0, spec.steps
problem = f"quadratic-kappa{spec.kappa:g}-angle{spec.angle:g}" if fn == "quadratic" else fn
name = f"{problem}-{'-'.join(spec.opts)}-{steps}steps"
charts = Charts()

at = surface.nearest_reference((x0, y0))
hessian = surface.hessian(at)
directions = eigen_directions(hessian)
gd_runs = {t.label: (t.kind, t.spec.hyperparameters["lr"]) for t in trajectories if t.kind in GD_RULE}


def step_size_theory() -> None:
    """The Step-size theory tab: the Hessian's eigen-directions, each GD run's regime, momentum's limit, Newton."""
    nearest = "minimum" if surface.minima else "saddle"
    where = "everywhere (f is quadratic)" if fn == "quadratic" else \
        f"at the {nearest} ({at[0]:.4g}, {at[1]:.4g}) nearest the start: the local quadratic model"
    st.markdown(f"**Hessian {where}**")
    cols = st.columns([1.2, 1, 1, 1])
    cols[0].latex(r"H = \begin{pmatrix} %.4g & %.4g \\ %.4g & %.4g \end{pmatrix}" % tuple(hessian.ravel()))
    for column, (index, d) in zip(cols[1:], enumerate(directions, start=1)):
        column.metric(f"λ{index}", f"{d.eigenvalue:.4g}",
                      f"η_opt = 1/λ = {d.eta_opt:.4g}" if d.eigenvalue > 0 else "negative curvature", delta_color="off",
                      delta_arrow="off")
    if directions[0].eigenvalue > 0:
        cols[3].metric("GD diverges above", f"2/λmax = {directions[0].eta_max:.4g}")
    st.markdown("Along an eigen-direction f is ½λu², and one GD step multiplies u by **1 − ηλ**: "
                "**monotone** for η < η_opt = 1/λ, **one step** at η = η_opt, **oscillating** for "
                "η_opt < η < 2η_opt, **diverging** for η > 2η_opt.")
    charts.show(regime_chart, f"regimes-{name}", key="opt_regimes")
    if gd_runs:
        rows = regime_rows(hessian, {label: lr for label, (_, lr) in gd_runs.items()})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4g")
                                    for c in ("η", "λ", "η_opt = 1/λ", "2·η_opt", "factor 1 − ηλ")})
    else:
        st.info("Add GD or Noisy SGD to see which regime its η is in along each direction.")
    momentum = [t for t in trajectories if t.kind in ("momentum", "nesterov") and directions[-1].eigenvalue > 0]
    for t in momentum:
        mu, eta = t.spec.hyperparameters["momentum"], t.spec.hyperparameters["lr"]
        limit = momentum_stability_limit(t.kind, mu, directions[0].eigenvalue)
        st.caption(f"{t.label} ({describe_hyperparameters(t.spec)}) is stable on this quadratic model for "
                   f"η < {limit:.4g}: {'yes' if eta < limit else 'no'}.")
    try:
        landing = newton_step(surface, (x0, y0))
        gap = np.linalg.norm(landing - np.asarray(at))
        target = "minimum" if surface.minima else "saddle point"
        st.markdown(f"**Newton's first step** from ({x0:.3g}, {y0:.3g}): w₁ = w₀ − H⁻¹∇f(w₀) = "
                    f"({landing[0]:.6g}, {landing[1]:.6g}), {gap:.2e} from the {target} at ({at[0]:.4g}, {at[1]:.4g})"
                    + (" — the minimum, in one step." if fn == "quadratic" else
                       ". Newton heads for whatever stationary point its quadratic model has: minimum, saddle or "
                       "maximum."))
    except np.linalg.LinAlgError:
        st.markdown("**Newton's first step** is undefined here: the Hessian at the start is singular.")




def regime_chart():
    return vt.regime_chart(directions, gd_runs)


# ----------------------------------------------------------------- views
# Lazy tabs: only the open one is built and sent; a closed one's figures are built if an export asks.
paths, surface3d, theory = st.tabs(["Trajectories", "3-D surface", "Step-size theory"], key="opt_tab",
                                   on_change="rerun", bind="query-params")
with paths:
    shown = paths.open is not False
    left, right = st.columns([3, 2]) if shown else (None, None)
    charts.show(lambda: vt.trajectory_contour(surface, trajectories, (x0, y0)), f"trajectories-{name}",
                key="opt_contour", where=left, on_select=start_from_click,
                main_below=MAIN_BELOW, visible=shown)
    charts.show(lambda: vt.loss_and_distance(surface, trajectories), f"loss-distance-{name}", key="opt_curves",
                where=right, visible=shown)
    if shown:
        st.caption("▶ Play or drag the step slider to watch the paths grow; click anywhere on the contour to start "
                   "there. Stars: known minima; black disc: the start; ✕: a run that diverged, where it left the plot.")
with surface3d:
    charts.show(lambda: vt.trajectory_surface_3d(surface, trajectories, (x0, y0)), f"surface-{name}",
                key="opt_surface3d", visible=surface3d.open is not False)
with theory:
    if theory.open is not False:
        step_size_theory()
    else:
        charts.show(regime_chart, f"regimes-{name}", key="opt_regimes", visible=False)

st.subheader("Every setting in effect, and how each run ended")
if trajectories:
    # A static table wraps its text, so every column fits the page (a data frame scrolled its last one away).
    rows = [{**row, "final f": f"{row['final f']:.4g}", "final distance": f"{row['final distance']:.3g}"}
            for row in summary_rows(trajectories, experiment)]
    static_table(rows)
else:
    st.info("Pick at least one optimizer.")
offer_exports(spec, "optimizers", charts, setting=name, details={"function": surface.title, "f": surface.formula,
                                                                 "start": (x0, y0), "steps": steps},
              history={f"{what} {t.label}": Series(np.arange(len(values)), values) for t in trajectories
                       for what, values in (("f", t.losses), ("distance", t.distances))},
              animation=(lambda: optimizer_race(surface, trajectories, (x0, y0))) if trajectories else None)
