"""Test functions and optimizer trajectories against independent oracles:
finite differences, update rules computed by hand, and the step-size theory of quadratics."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.common.schedules import LearningRateSchedule, multiplier
from engine.optimizers.experiment import Clipping, Experiment, Schedule
from engine.optimizers.race import run_optimizer, run_optimizers
from engine.optimizers.summary import summary_rows
from engine.optimizers.surfaces import (FIXED_SURFACES, SURFACE_NAMES, Surface, make_surface, quadratic,
                                        quadratic_hessian)
from engine.optimizers.table import RACE_OPTIMIZERS, OptimizerSpec, nice_number
from engine.optimizers.theory import eigen_directions, gd_regime, momentum_stability_limit, newton_step, regime_rows
from engine.optimizers.trainer import OptimizersJob, OptimizersTrainer, run_experiment
from engine.optimizers.trajectory import left_region_at
from engine.runtime import JobStatus, train
from tests.conftest import assert_pickles_to_equal_values

ALL_SURFACES = [make_surface(name) for name in SURFACE_NAMES]


def bowl(curvature: float) -> Surface:
    """½λ(x² + y²): every direction is an eigen-direction with eigenvalue λ."""
    return Surface("bowl", "bowl", "", lambda t: 0.5 * curvature * (t**2).sum(-1), lambda t: curvature * t,
                   lambda t: curvature * torch.eye(2, dtype=t.dtype).expand(*t.shape[:-1], 2, 2),
                   (-10.0, 10.0), (-10.0, 10.0), (3.0, -2.0), ((0.0, 0.0),))


def quadratic_surface(a: np.ndarray, b: np.ndarray) -> Surface:
    """½wᵀAw + bᵀw, minimum at -A⁻¹b."""
    at, bt = torch.tensor(a), torch.tensor(b)
    minimum = tuple(np.linalg.solve(a, -b))
    return Surface("q", "q", "", lambda t: 0.5 * torch.einsum("...i,ij,...j->...", t, at, t) + t @ bt,
                   lambda t: t @ at + bt, lambda t: at.expand(*t.shape[:-1], 2, 2),
                   (-50.0, 50.0), (-50.0, 50.0), (1.0, 1.0), (minimum,))


def rosenbrock_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


START = (-1.2, 1.0)
ROSENBROCK = FIXED_SURFACES["rosenbrock"]


def engine_path(kind, steps=3, **hyper):
    return run_optimizer(ROSENBROCK, OptimizerSpec.of(kind, **hyper), START, steps).points


# ----------------------------------------------------------------- surfaces
def autograd_gradient_and_hessian(surface: Surface, point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The oracle: torch differentiates f itself (the Hessian by double backward)."""
    return (torch.autograd.functional.jacobian(surface.fn, point),
            torch.autograd.functional.hessian(surface.fn, point))


@pytest.mark.parametrize("surface", ALL_SURFACES + [quadratic(25.0, 40.0)], ids=lambda s: s.key)
def test_closed_form_gradient_and_hessian_match_autograd_at_once_for_many_points(surface):
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1) = surface.bound()
    points = torch.tensor(np.column_stack([rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)]), dtype=torch.float64)
    points = torch.cat([points, torch.tensor([*surface.minima, *surface.saddles, surface.start], dtype=torch.float64)])
    grads, hessians = surface.grad(points), surface.hess(points)  # a batch at once, as a race evaluates them
    assert grads.shape == (len(points), 2) and hessians.shape == (len(points), 2, 2)
    for point, grad, hessian in zip(points, grads, hessians):
        expected_grad, expected_hessian = autograd_gradient_and_hessian(surface, point)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-9)
        torch.testing.assert_close(hessian, expected_hessian, rtol=1e-10, atol=1e-9)
        assert surface.gradient(point.numpy()) == pytest.approx(expected_grad.numpy(), rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("surface", ALL_SURFACES, ids=lambda s: s.key)
def test_gradient_and_hessian_match_central_differences(surface):
    rng = np.random.default_rng(0)
    h = 1e-5
    for _ in range(3):
        w = np.array([rng.uniform(*surface.x_range), rng.uniform(*surface.y_range)]) * 0.8
        e = np.eye(2) * h
        fd_grad = np.array([(surface.value_at(w + e[i]) - surface.value_at(w - e[i])) / (2 * h) for i in range(2)])
        fd_hess = np.array([(surface.gradient(w + e[i]) - surface.gradient(w - e[i])) / (2 * h) for i in range(2)])
        scale = 1 + np.abs(fd_grad).max()
        assert np.allclose(surface.gradient(w), fd_grad, atol=1e-6 * scale, rtol=1e-6)
        assert np.allclose(surface.hessian(w), fd_hess, atol=1e-5 * (1 + np.abs(fd_hess).max()), rtol=1e-5)
        assert np.allclose(surface.hessian(w), surface.hessian(w).T)


@pytest.mark.parametrize("surface", ALL_SURFACES, ids=lambda s: s.key)
def test_known_minima_are_minima_and_everything_shown_is_in_range(surface):
    for m in surface.minima:
        assert np.abs(surface.gradient(m)).max() < 1e-9
        assert np.all(np.linalg.eigvalsh(surface.hessian(m)) > 0)
        assert surface.value_at(m) == pytest.approx(surface.f_min, abs=1e-12)
    for s in surface.saddles:
        assert np.abs(surface.gradient(s)).max() < 1e-12
        eig = np.linalg.eigvalsh(surface.hessian(s))
        assert eig.min() < 0 < eig.max()
    for point in (*surface.minima, *surface.saddles, surface.start):
        assert surface.x_range[0] <= point[0] <= surface.x_range[1]
        assert surface.y_range[0] <= point[1] <= surface.y_range[1]
    assert surface.reference_points, "distance to the minimum needs something to measure against"


def test_known_minimum_values():
    assert {k: s.f_min for k, s in FIXED_SURFACES.items() if s.minima} == pytest.approx(
        {"rosenbrock": 0.0, "beale": 0.0, "himmelblau": 0.0, "rastrigin": 0.0, "plateau": 0.0, "ravine": 0.0},
        abs=1e-20)
    assert FIXED_SURFACES["saddle"].f_min is None


def test_quadratic_hessian_has_the_chosen_condition_number_and_rotation():
    for kappa, angle in [(1.0, 0.0), (10.0, 0.0), (50.0, 30.0), (7.0, -75.0)]:
        s = quadratic(kappa, angle)
        h = s.hessian((0.3, -0.4))
        assert np.allclose(h, quadratic_hessian(kappa, angle))
        directions = eigen_directions(h)
        assert [d.eigenvalue for d in directions] == pytest.approx([1.0, 1 / kappa])
        if kappa > 1:
            theta = math.radians(angle)
            steep = np.array(directions[0].vector)
            assert abs(steep @ np.array([-math.sin(theta), math.cos(theta)])) == pytest.approx(1.0)


def test_grid_is_laid_out_as_plotly_expects():
    s = FIXED_SURFACES["himmelblau"]
    xs, ys, z = s.grid(7)
    assert z.shape == (7, 7)
    assert z[2, 5] == pytest.approx(s.value_at((xs[5], ys[2])))


# ----------------------------------------------------------------- first steps of each optimizer, by hand
def test_gd_first_steps():
    w, expected = np.array(START), [np.array(START)]
    for _ in range(3):
        w = w - 1e-3 * rosenbrock_grad(w)
        expected.append(w)
    assert np.allclose(engine_path("gd", lr=1e-3), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_momentum_and_nesterov_first_steps(kind):
    lr, mu = 1e-3, 0.9
    w, v, expected = np.array(START), None, [np.array(START)]
    for _ in range(3):
        g = rosenbrock_grad(w)
        v = g if v is None else mu * v + g
        w = w - lr * (g + mu * v if kind == "nesterov" else v)
        expected.append(w)
    assert np.allclose(engine_path(kind, lr=lr, momentum=mu), expected, rtol=1e-12, atol=1e-14)


def test_torchs_momentum_and_nesterov_are_the_course_notes_averaged_forms_with_matched_rates():
    # Course note 002: m <- beta m + (1 - beta) g, w <- w - alpha m; Nesterov takes g at w - alpha beta m.
    # With beta = mu and alpha = eta/(1 - mu), torch's momentum follows the same path, and torch's Nesterov
    # parameters are the notes' look-ahead points (the page's notes on these two optimizers say so).
    lr, mu, steps = 2e-4, 0.9, 40
    alpha = lr / (1 - mu)
    w, m, momentum_path, lookahead_path = np.array(START), np.zeros(2), [np.array(START)], [np.array(START)]
    for _ in range(steps):
        m = mu * m + (1 - mu) * rosenbrock_grad(w)
        w = w - alpha * m
        momentum_path.append(w)
    w, m = np.array(START), np.zeros(2)
    for _ in range(steps):
        m = mu * m + (1 - mu) * rosenbrock_grad(w - alpha * mu * m)
        w = w - alpha * m
        lookahead_path.append(w - alpha * mu * m)
    assert np.allclose(engine_path("momentum", steps, lr=lr, momentum=mu), momentum_path, rtol=1e-10, atol=1e-12)
    assert np.allclose(engine_path("nesterov", steps, lr=lr, momentum=mu), lookahead_path, rtol=1e-10, atol=1e-12)
    # ...and not the notes' own iterates w, which lead the look-ahead points by alpha beta m
    assert not np.allclose(engine_path("nesterov", steps, lr=lr, momentum=mu)[-1], w, rtol=1e-6)


def test_torchs_momentum_step_on_a_steady_slope_grows_to_one_over_one_minus_mu_times_gds():
    lr, mu = 0.01, 0.9
    slope = Surface("plane", "plane", "", lambda t: t.sum(-1), lambda t: torch.ones_like(t),
                    lambda t: torch.zeros(*t.shape[:-1], 2, 2, dtype=t.dtype), (-1e3, 1e3), (-1e3, 1e3), (0.0, 0.0),
                    ((0.0, 0.0),))
    points = run_optimizer(slope, OptimizerSpec.of("momentum", lr=lr, momentum=mu), (0.0, 0.0), 200).points
    steps = np.abs(np.diff(points[:, 0]))
    assert steps[0] == pytest.approx(lr)
    assert steps[-1] == pytest.approx(lr / (1 - mu), rel=1e-6)


def test_adam_first_three_steps_with_bias_correction_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    w = np.array(START)
    g1 = rosenbrock_grad(w)
    # step 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g)
    m, v = (1 - b1) * g1, (1 - b2) * g1**2
    w1 = w - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
    assert np.allclose(w1, w - lr * np.sign(g1), atol=1e-8)
    g2 = rosenbrock_grad(w1)
    m, v = b1 * m + (1 - b1) * g2, b2 * v + (1 - b2) * g2**2
    w2 = w1 - lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    g3 = rosenbrock_grad(w2)
    m, v = b1 * m + (1 - b1) * g3, b2 * v + (1 - b2) * g3**2
    w3 = w2 - lr * (m / (1 - b1**3)) / (np.sqrt(v / (1 - b2**3)) + eps)
    assert np.allclose(engine_path("adam", lr=lr, beta1=b1, beta2=b2), [w, w1, w2, w3], rtol=1e-12, atol=1e-14)


def test_adagrad_and_rmsprop_first_steps():
    lr = 0.05
    w, s, expected = np.array(START), np.zeros(2), [np.array(START)]
    for _ in range(3):
        g = rosenbrock_grad(w)
        s = s + g * g
        w = w - lr * g / (np.sqrt(s) + 1e-10)
        expected.append(w)
    assert np.allclose(engine_path("adagrad", lr=lr), expected, rtol=1e-12, atol=1e-14)

    alpha = 0.9
    w, v, expected = np.array(START), np.zeros(2), [np.array(START)]
    for _ in range(3):
        g = rosenbrock_grad(w)
        v = alpha * v + (1 - alpha) * g * g
        w = w - lr * g / (np.sqrt(v) + 1e-8)
        expected.append(w)
    assert np.allclose(engine_path("rmsprop", lr=lr, alpha=alpha), expected, rtol=1e-12, atol=1e-14)


def test_rprop_steps_grow_while_the_sign_holds_and_halve_when_it_flips():
    # On ½(x² + y²) from (1, -1) with Δ₀ = 0.3: x moves 0.3, then 0.36 (sign kept: ×1.2),
    # then crosses 0 at x = 0.34 -> -0.092: sign flip, so Δ halves and the step is skipped.
    surface = bowl(1.0)
    path = run_optimizer(surface, OptimizerSpec.of("rprop", lr=0.3, eta_minus=0.5, eta_plus=1.2), (1.0, -1.0),
                         5).points
    xs = path[:, 0]
    assert xs[:4] == pytest.approx([1.0, 0.7, 0.7 - 0.36, 0.7 - 0.36 - 0.432])  # 0.432 = 0.3·1.2²
    assert xs[4] == pytest.approx(xs[3])  # flipped sign: no step, Δ -> 0.216
    assert xs[5] == pytest.approx(xs[4] + 0.216)  # next step uses the halved Δ, now towards 0
    assert np.allclose(path[:, 1], -path[:, 0])  # symmetric problem, symmetric path


def test_newton_step_matches_the_formula_on_rosenbrock():
    w = np.array(START)
    x, y = w
    hess = np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]])
    w1 = w - 0.5 * np.linalg.solve(hess + 3.0 * np.eye(2), rosenbrock_grad(w))
    assert np.allclose(engine_path("newton", steps=1, lr=0.5, damping=3.0)[1], w1, rtol=1e-12)


def test_quickprop_first_steps_by_hand():
    lr, mu = 1e-3, 1.75
    w = np.array(START)
    g0 = rosenbrock_grad(w)
    step = -lr * g0
    expected = [w.copy(), w + step]
    w, prev_g = w + step, g0
    for _ in range(2):
        g = rosenbrock_grad(w)
        new = np.empty(2)
        for i in range(2):
            same = g[i] * prev_g[i] > 0
            factor = mu if same and abs(g[i]) >= mu / (1 + mu) * abs(prev_g[i]) else g[i] / (prev_g[i] - g[i])
            new[i] = factor * step[i] - (lr * g[i] if same else 0.0)
        w, step, prev_g = w + new, new, g
        expected.append(w.copy())
    assert np.allclose(engine_path("quickprop", lr=lr, max_growth=mu), expected, rtol=1e-12, atol=1e-14)


def test_quickprop_jumps_to_the_minimum_of_a_parabola_once_it_has_crossed_it():
    # ½x²: GD with lr 1.5 crosses 0 (x: 2 -> -1), the slopes change sign, so the
    # secant step alone is taken and lands exactly on the minimum.
    path = run_optimizer(bowl(1.0), OptimizerSpec.of("quickprop", lr=1.5, max_growth=1.75), (2.0, 2.0), 2).points
    assert path[1] == pytest.approx([-1.0, -1.0])
    assert path[2] == pytest.approx([0.0, 0.0], abs=1e-15)


@pytest.mark.parametrize("lr, x2", [
    # ½x² from x=2: GD goes to x1 = 2 - 2·lr; the slope ratio g1/g0 = 1 - lr.
    (0.4, 1.2 + 1.5 * -0.8 - 0.4 * 1.2),  # ratio 0.6 < μ/(1+μ) ≈ 0.636: secant factor g1/(g0-g1) = 1.5
    (0.2, 1.6 + 1.75 * -0.4 - 0.2 * 1.6),  # ratio 0.8 ≥ 0.636: capped at μ = 1.75
])
def test_quickprop_caps_growth_only_when_the_slope_has_not_shrunk_enough(lr, x2):
    path = run_optimizer(bowl(1.0), OptimizerSpec.of("quickprop", lr=lr, max_growth=1.75), (2.0, 0.0), 2).points
    assert path[2, 0] == pytest.approx(x2, rel=1e-12)


def test_noisy_sgd_adds_seeded_gaussian_noise_to_the_gradient():
    lr, sigma, seed = 1e-3, 5.0, 11
    noise = torch.Generator().manual_seed(seed)
    w, expected = np.array(START), [np.array(START)]
    for _ in range(3):
        g = rosenbrock_grad(w) + sigma * torch.randn(2, generator=noise, dtype=torch.float64).numpy()
        w = w - lr * g
        expected.append(w)
    spec = OptimizerSpec.of("sgd_noise", lr=lr, noise=sigma)
    assert np.allclose(run_optimizer(ROSENBROCK, spec, START, 3, seed=seed).points, expected, rtol=1e-12)
    other_seed = run_optimizer(ROSENBROCK, spec, START, 3, seed=seed + 1).points
    assert not np.allclose(other_seed[1:], np.array(expected)[1:])
    no_noise = run_optimizer(ROSENBROCK, OptimizerSpec.of("sgd_noise", lr=lr, noise=0.0), START, 3).points
    assert np.array_equal(no_noise, engine_path("gd", lr=lr))


# ----------------------------------------------------------------- the step-size theory of quadratics
@pytest.mark.parametrize("lam", [0.3, 1.0, 7.0])
def test_gd_with_eta_one_over_lambda_reaches_the_minimum_in_one_step(lam):
    path = run_optimizer(bowl(lam), OptimizerSpec.of("gd", lr=1 / lam), (3.0, -2.0), 3).points
    assert np.abs(path[1]).max() < 1e-15
    assert gd_regime(1 / lam, lam) == "one step"


@pytest.mark.parametrize("lam", [0.3, 1.0, 7.0])
def test_gd_with_eta_1_9_over_lambda_converges_while_oscillating(lam):
    traj = run_optimizer(bowl(lam), OptimizerSpec.of("gd", lr=1.9 / lam), (3.0, -2.0), 200)
    x = traj.points[:, 0]
    assert traj.diverged_at is None
    assert np.all(np.sign(x[1:20]) == -np.sign(x[:19]))  # crosses the minimum every step
    assert np.all(np.abs(x[1:20]) < np.abs(x[:19]))  # ... and gets closer each time
    assert np.allclose(x[1:20] / x[:19], 1 - 1.9)  # by the factor 1 - ηλ
    assert traj.distances[-1] < 1e-6
    assert gd_regime(1.9 / lam, lam) == "oscillating"


@pytest.mark.parametrize("lam", [0.3, 1.0, 7.0])
def test_gd_with_eta_2_1_over_lambda_diverges(lam):
    traj = run_optimizer(bowl(lam), OptimizerSpec.of("gd", lr=2.1 / lam), (3.0, -2.0), 500)
    x = traj.points[:, 0]
    assert np.allclose(x[1:] / x[:-1], 1 - 2.1)
    # |x| grows by 1.1 per step from 3; it is stopped once past the bound |x| <= 10 + 0.5·20 = 20, and said to
    # diverge (and end) where it left the plotted region |x| <= 10
    left = math.ceil(math.log(10 / 3) / math.log(1.1))
    assert traj.diverged_at == traj.left_region_at == traj.steps_taken == left
    assert traj.divergence == f"left the region at step {left}"
    assert gd_regime(2.1 / lam, lam) == "diverging"


def test_gd_regimes_per_eigen_direction():
    assert [gd_regime(eta, 1.0) for eta in (0.5, 1.0, 1.5, 2.0, 2.5)] == [
        "monotone", "one step", "oscillating", "oscillates forever", "diverging"]
    assert gd_regime(0.1, -2.0) == "escaping"
    rows = regime_rows(quadratic_hessian(10.0, 20.0), {"GD": 1.6})
    assert [(r["λ"], r["η_opt = 1/λ"], r["2·η_opt"], r["regime"]) for r in rows] == [
        (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(2.0), "oscillating"),
        (pytest.approx(0.1), pytest.approx(10.0), pytest.approx(20.0), "monotone")]
    assert rows[0]["factor 1 − ηλ"] == pytest.approx(-0.6)


def test_gd_on_a_rotated_quadratic_follows_the_per_direction_factors():
    kappa, angle, eta = 10.0, 35.0, 1.6
    surface = quadratic(kappa, angle)
    traj = run_optimizer(surface, OptimizerSpec.of("gd", lr=eta), surface.start, 30)
    directions = eigen_directions(surface.hessian((0, 0)))
    coords = traj.points @ np.array([d.vector for d in directions]).T  # (steps, 2) in the eigenbasis
    for i, d in enumerate(directions):
        assert np.allclose(coords[1:, i], coords[:-1, i] * (1 - eta * d.eigenvalue), atol=1e-13)


def test_newton_reaches_any_quadratics_minimum_in_one_step():
    rng = np.random.default_rng(3)
    for _ in range(5):
        m = rng.normal(size=(2, 2))
        a = m @ m.T + rng.uniform(0.01, 1) * np.eye(2)  # positive definite, often ill-conditioned
        b = rng.normal(size=2)
        surface = quadratic_surface(a, b)
        start = tuple(rng.uniform(-5, 5, size=2))
        path = run_optimizer(surface, OptimizerSpec.of("newton", lr=1.0, damping=0.0), start, 2).points
        assert np.allclose(path[1], surface.minima[0], atol=1e-9 * (1 + np.abs(surface.minima[0]).max()))
        assert np.allclose(newton_step(surface, start), surface.minima[0], atol=1e-9)
    for kappa, angle in [(100.0, 10.0), (3.0, -60.0)]:
        s = quadratic(kappa, angle)
        assert np.abs(run_optimizer(s, OptimizerSpec.of("newton", lr=1.0, damping=0.0), s.start, 1).points[1]).max() \
            < 1e-14


@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_momentum_stability_limit_separates_converging_from_diverging(kind):
    lam, mu = 1.0, 0.9
    limit = momentum_stability_limit(kind, mu, lam)
    below = run_optimizer(bowl(lam), OptimizerSpec.of(kind, lr=0.97 * limit, momentum=mu), (3.0, -2.0), 3000)
    above = run_optimizer(bowl(lam), OptimizerSpec.of(kind, lr=1.03 * limit, momentum=mu), (3.0, -2.0), 3000)
    assert below.diverged_at is None and below.distances[-1] < 1e-3
    assert above.diverged_at is not None


# ----------------------------------------------------------------- divergence, schedules, clipping
def test_a_singular_hessian_is_reported_as_a_non_finite_step():
    flat_in_y = Surface("x2", "x²", "", lambda t: t[..., 0] ** 2, lambda t: t * torch.tensor([2.0, 0.0]),
                        lambda t: torch.diag(torch.tensor([2.0, 0.0])).expand(*t.shape[:-1], 2, 2),
                        (-1.0, 1.0), (-1.0, 1.0), (0.5, 0.5), ((0.0, 0.0),))
    traj = run_optimizer(flat_in_y, OptimizerSpec.of("newton", lr=1.0, damping=0.0), (0.5, 0.5), 10)
    assert traj.diverged_at == 1 and "non-finite" in traj.divergence
    assert len(traj.points) == 1 and np.all(np.isfinite(traj.points))
    damped = run_optimizer(flat_in_y, OptimizerSpec.of("newton", lr=1.0, damping=1.0), (0.5, 0.5), 10)
    assert damped.diverged_at is None  # (H + I) is invertible: damping is what fixes it


def test_diverging_run_keeps_the_point_that_left_the_region_and_ends_there():
    traj = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=3.0), (3.0, -2.0), 100)
    region = 10.0  # bowl's plotted region is |x|, |y| <= 10; the run went on to the bound (20) to be sure
    assert np.all(np.abs(traj.points[:-1]) <= region) and np.abs(traj.points[-1]).max() > region
    assert len(traj.points) == traj.diverged_at + 1 == len(traj.losses) == len(traj.distances)
    assert len(traj.learning_rates) == traj.diverged_at


def brute_force_left_at(points, x_range, y_range):
    """The first k such that every point from k on is outside the box, by trying each k; None if none is."""
    def outside(p):
        return not (x_range[0] <= p[0] <= x_range[1] and y_range[0] <= p[1] <= y_range[1])
    for k in range(len(points)):
        if all(outside(p) for p in points[k:]):
            return k
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=12))
def test_left_region_at_is_the_first_step_after_which_the_path_stays_out(path):
    box = ((-1.0, 1.0), (-1.5, 0.5))
    assert left_region_at(np.array(path), *box) == brute_force_left_at(path, *box)


def test_one_step_for_leaving_the_region_in_the_trajectory_and_the_table():
    # GD with η = 2.3 > 2/λmax on the quadratic: the reviewed case where the plot said step 3, the table step 6
    surface = quadratic(10.0, 0.0)
    experiment = Experiment("quadratic", 10.0, 0.0, surface.start, 150, (OptimizerSpec.of("gd", lr=2.3),))
    (traj,) = run_experiment(experiment)
    left = brute_force_left_at(traj.points, surface.x_range, surface.y_range)
    assert left is not None and traj.left_region_at == left
    # It was stopped later, once far outside the plot, but it ends where it left: one step everywhere
    assert traj.diverged_at == traj.steps_taken == left
    assert traj.divergence == f"left the region at step {left}"
    row = summary_rows([traj], experiment)[0]
    assert row["outcome"] == f"diverged: left the region at step {left}" and row["steps"] == left


def test_gd_leaves_the_region_when_its_growth_factor_carries_it_past_the_edge():
    # |x| grows by |1 − 2.1| = 1.1 per step from 3: past the edge 10 at step ⌈log(10/3)/log 1.1⌉ = 13, past the
    # divergence bound 20 at step 20 (so it diverged, at 13); stopped at 15 steps it has left the plot but not
    # diverged
    left = math.ceil(math.log(10 / 3) / math.log(1.1))
    diverged = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=2.1), (3.0, -2.0), 100)
    assert (diverged.left_region_at, diverged.diverged_at) == (left, left)
    drifted = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=2.1), (3.0, -2.0), 15)
    assert (drifted.left_region_at, drifted.diverged_at, drifted.divergence) == (left, None, "")
    experiment = Experiment("quadratic", steps=15, optimizers=(drifted.spec,))
    outcome = summary_rows([drifted], experiment)[0]["outcome"]
    assert outcome.startswith(f"left the region at step {left}; ") and outcome.endswith("after 15 steps")
    converged = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=0.5), (3.0, -2.0), 15)
    assert converged.left_region_at is None


def test_lockstep_run_equals_each_optimizer_alone():
    surface = FIXED_SURFACES["himmelblau"]
    specs = [OptimizerSpec.default(kind, surface) for kind in RACE_OPTIMIZERS]
    together = run_optimizers(surface, specs, surface.start, 60, Schedule("cosine"), Clipping("norm", 5.0), seed=4)
    for spec, traj in zip(specs, together):
        alone = run_optimizer(surface, spec, surface.start, 60, Schedule("cosine"), Clipping("norm", 5.0), seed=4)
        assert np.allclose(traj.points, alone.points, rtol=1e-13, atol=1e-13), spec.kind
        assert traj.diverged_at == alone.diverged_at


@pytest.mark.parametrize("schedule, formula", [
    (Schedule("constant"), lambda k, n: 1.0),
    (Schedule("step", gamma=0.5, every=7), lambda k, n: 0.5 ** (k // 7)),
    (Schedule("exponential", gamma=0.95), lambda k, n: 0.95**k),
    (Schedule("cosine"), lambda k, n: (1 + math.cos(math.pi * k / n)) / 2),
    (Schedule("inverse_sqrt"), lambda k, n: 1 / math.sqrt(1 + k)),
])
def test_learning_rate_schedules_follow_their_formulas(schedule, formula):
    eta, steps = 0.1, 30
    traj = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=eta), (3.0, -2.0), steps, schedule)
    expected = [eta * formula(k, steps) for k in range(steps)]
    assert traj.learning_rates == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # on ½|w|², GD multiplies w by (1 - η_k) at step k
    assert traj.points[-1] == pytest.approx(np.array([3.0, -2.0]) * np.prod([1 - e for e in expected]), rel=1e-10)


@pytest.mark.parametrize("schedule, make_scheduler", [
    (Schedule("step", gamma=0.5, every=7), lambda opt, n: torch.optim.lr_scheduler.StepLR(opt, 7, gamma=0.5)),
    (Schedule("exponential", gamma=0.95), lambda opt, n: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95)),
    (Schedule("cosine"), lambda opt, n: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n)),
    (Schedule("inverse_sqrt"), lambda opt, n: torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / math.sqrt(1 + k))),
])
def test_schedules_give_torchs_schedulers_learning_rates(schedule, make_scheduler):
    # torch steps the rate by repeated multiplication, the formula in one go: they agree to rounding
    eta, steps = 0.3, 60
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=eta)
    scheduler, torch_rates = make_scheduler(optimizer, steps), []
    for _ in range(steps):
        torch_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    traj = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=eta), (3.0, -2.0), steps, schedule)
    assert traj.learning_rates == pytest.approx(torch_rates, rel=1e-13, abs=1e-16)


def test_one_schedule_formula_for_every_page():
    # the Playground's per-epoch schedules are the same multipliers
    for kind in ("constant", "step", "exponential", "power", "cosine"):
        for epoch in (0.0, 2.5, 7.0, 31.0):
            assert LearningRateSchedule(kind, 0.7, 5.0).rate(0.2, epoch) == 0.2 * multiplier(kind, epoch, gamma=0.7,
                                                                                              period=5.0)
    # warm-up, then a cosine to a floor: linear to 1 over 4 steps, then from 1 down to 0.1 at step 4 + 10
    factors = [multiplier("cosine", t, period=10, floor=0.1, warmup=4) for t in range(20)]
    assert factors[:5] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert factors[9] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 5 / 10)) / 2)
    assert factors[14:] == pytest.approx([0.1] * 6)
    with pytest.raises(ValueError, match="plateau"):
        multiplier("plateau", 3)


def test_gradient_clipping_by_norm_and_by_value():
    g = rosenbrock_grad(np.array(START))
    by_norm = run_optimizer(ROSENBROCK, OptimizerSpec.of("gd", lr=0.1), START, 1, clipping=Clipping("norm", 2.0))
    assert by_norm.points[1] == pytest.approx(np.array(START) - 0.1 * 2.0 * g / np.linalg.norm(g), rel=1e-6)
    by_value = run_optimizer(ROSENBROCK, OptimizerSpec.of("gd", lr=0.1), START, 1, clipping=Clipping("value", 3.0))
    assert by_value.points[1] == pytest.approx(np.array(START) - 0.1 * np.clip(g, -3, 3))


def test_default_hyperparameters_cover_every_parameter_and_are_in_range():
    for surface in ALL_SURFACES:
        for kind, info in RACE_OPTIMIZERS.items():
            values = info.default_hyperparameters(surface)
            assert set(values) == {p.name for p in info.params}
            for p in info.params:
                assert p.low <= values[p.name] <= p.high, (surface.key, kind, p.name)
    assert [nice_number(v) for v in (0.0013, 0.0032, 0.07, 1.6, 40)] == [0.001, 0.005, 0.05, 2.0, 50]


def test_every_optimizer_runs_everywhere_and_the_summary_names_every_setting():
    for surface in ALL_SURFACES:
        specs = tuple(OptimizerSpec.default(kind, surface) for kind in RACE_OPTIMIZERS)
        experiment = Experiment(surface.key, steps=40, optimizers=specs, schedule=Schedule("exponential", 0.97),
                                clipping=Clipping("value", 10.0))
        trajectories = run_experiment(experiment)
        rows = summary_rows(trajectories, experiment)
        assert [r["optimizer"] for r in rows] == [RACE_OPTIMIZERS[k].label for k in RACE_OPTIMIZERS]
        for traj, row in zip(trajectories, rows):
            assert np.all(np.isfinite(traj.points)) and np.all(np.isfinite(traj.losses))
            assert row["clipping"] == "|gᵢ| ≤ 10" and row["lr schedule"].startswith("η·0.97^k")
            assert row["hyperparameters"].count("=") == len(RACE_OPTIMIZERS[traj.kind].params)
            assert ("diverged" in row["outcome"]) == (traj.diverged_at is not None)


# ----------------------------------------------------------------- the trainer
HIMMELBLAU_RACE = Experiment(
    "himmelblau", steps=40, seed=5, schedule=Schedule("cosine"), clipping=Clipping("norm", 5.0),
    optimizers=tuple(OptimizerSpec.default(kind, FIXED_SURFACES["himmelblau"]) for kind in RACE_OPTIMIZERS))


def test_the_trainer_gives_the_lockstep_runs_numbers():
    surface = HIMMELBLAU_RACE.make_surface()
    direct = run_optimizers(surface, HIMMELBLAU_RACE.optimizers, surface.start, 40, HIMMELBLAU_RACE.schedule,
                            HIMMELBLAU_RACE.clipping, seed=5)
    for traj, alone in zip(run_experiment(HIMMELBLAU_RACE), direct, strict=True):
        assert np.array_equal(traj.points, alone.points) and np.array_equal(traj.learning_rates, alone.learning_rates)
        assert traj.diverged_at == alone.diverged_at


def test_the_trainer_advances_every_optimizer_one_step_at_a_time():
    trainer = OptimizersTrainer(HIMMELBLAU_RACE)
    assert trainer.observe().step == 0 and all(t.steps_taken == 0 for t in trainer.observe().trajectories)
    metrics = train(trainer, 10)
    visuals = trainer.observe()
    assert visuals.step == 10 and not visuals.finished and trainer.epoch == pytest.approx(0.25)
    assert [t.kind for t in visuals.trajectories] == list(RACE_OPTIMIZERS)
    assert all(t.steps_taken == 10 for t in visuals.trajectories if t.diverged_at is None)
    # the loss is the leader's f
    assert metrics[-1]["loss"] == pytest.approx(min(float(t.losses[-1]) for t in visuals.trajectories))
    train(trainer, 100)  # past its end the race stands still
    assert trainer.observe().finished and trainer.observe().step == 40 and trainer.epoch == 1.0


def test_the_trainers_visuals_pickle_to_equal_values():
    trainer = OptimizersTrainer(HIMMELBLAU_RACE)
    train(trainer, 7)
    visuals = trainer.observe()
    assert_pickles_to_equal_values(visuals)


def test_the_job_runs_the_race_to_its_end(no_leaked_threads):
    job = OptimizersJob(HIMMELBLAU_RACE)
    try:
        assert job.snapshot().seed == 5
        job.play()
        snap = job.wait_for(lambda s: s.status is JobStatus.DONE, timeout=60)
    finally:
        job.stop()
    assert snap.visuals.finished and snap.step == 40
    for traj, expected in zip(snap.visuals.trajectories, run_experiment(HIMMELBLAU_RACE), strict=True):
        assert np.array_equal(traj.points, expected.points)


@pytest.mark.parametrize("c", [0.5, 0.25, 1.0, 1.7])
def test_power_schedule_follows_course_note_001s_formula_with_its_exponent(c):
    # η_k = η₀ / (1 + k/s)^c with s = 1; c = ½ is what the page ran before the exponent was a control
    eta, steps = 0.1, 25
    traj = run_optimizer(bowl(1.0), OptimizerSpec.of("gd", lr=eta), (3.0, -2.0), steps, Schedule("inverse_sqrt",
                                                                                                  power=c))
    assert traj.learning_rates == pytest.approx([eta / (1 + k) ** c for k in range(steps)], rel=1e-12)
    assert multiplier("power", 7.0, period=2.0, power=c) == pytest.approx((1 + 7.0 / 2.0) ** -c, rel=1e-15)


def test_power_schedule_exponent_defaults_to_the_inverse_square_root_and_is_a_control():
    from engine.optimizers.spec import OptimizersSpec
    assert Schedule("inverse_sqrt").multiplier(8, 100) == pytest.approx(1 / 3) == multiplier("power", 8)
    spec, refused = OptimizersSpec.from_query({"opt_sched": "inverse sqrt", "opt_power_c": "1.5"})
    assert not refused and spec.experiment().schedule.multiplier(3, 100) == pytest.approx(4 ** -1.5)
    assert spec.experiment().schedule.describe(100) == "η/(1+k)^1.5"
    assert OptimizersSpec.from_query({"opt_sched": "inverse sqrt"})[0].experiment().schedule.describe(100) == "η/√(1+k)"


def test_rmsprop_decay_is_torchs_default_everywhere_the_app_offers_it():
    from engine.common.optimizers import RMSPROP_ALPHA, make_optimizer
    assert RMSPROP_ALPHA == torch.optim.RMSprop([torch.zeros(1, requires_grad=True)]).defaults["alpha"] == 0.99
    built = make_optimizer("rmsprop", [torch.zeros(1, requires_grad=True)], {"lr": 0.1})
    assert built.defaults["alpha"] == RMSPROP_ALPHA
    assert RACE_OPTIMIZERS["rmsprop"].default_hyperparameters(make_surface("quadratic"))["alpha"] == RMSPROP_ALPHA
