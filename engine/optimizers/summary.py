"""The page's table: every setting in effect for each run, and how it ended."""

from __future__ import annotations

from engine.optimizers.experiment import Experiment
from engine.optimizers.table import RACE_OPTIMIZERS, describe_hyperparameters
from engine.optimizers.trajectory import describe_leaving


def summary_rows(trajectories, experiment: Experiment, reached: float = 1e-3) -> list[dict]:
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
            "optimizer": traj.label, "torch": RACE_OPTIMIZERS[traj.kind].torch_class,
            "hyperparameters": describe_hyperparameters(traj.spec), "lr schedule": schedule,
            "clipping": experiment.clipping.describe(), "steps": traj.steps_taken,
            "final f": float(traj.losses[-1]), "final distance": float(traj.distances[-1]), "outcome": outcome,
        })
    return rows
