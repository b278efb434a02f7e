"""The loss-landscape engine against independent oracles: naive per-point loops,
data_loss itself, linear algebra by hand, torch's Hessian and torch's optimizers."""

import math

import numpy as np
import pytest
import torch

from engine.landscape.curvature import hessian_eigenvalues, lanczos_eigenvalues, power_iteration_eigenvalues
from engine.landscape.directions import ParameterSpace, random_direction, stacked_trajectory, trajectory_pca
from engine.landscape.losses import Cancelled, batched_data_loss, loss_at, loss_in_plane, loss_surface
from engine.landscape.network import PlaygroundLandscape
from engine.landscape.spec import LandscapeSpec
from engine.landscape.stability import stable_step_size, step_size_verdict
from engine.landscape.views import LandscapeRequest
from engine.playground.config import PlaygroundConfig, n_outputs
from engine.playground.data import DataSpec, make_dataset
from engine.playground.model import PlaygroundNet, data_loss
from engine.playground.trainer import PlaygroundJob

CONFIGS = {
    "default": PlaygroundConfig(),
    "batch_norm": PlaygroundConfig(hidden=(5, 3), activations=("relu", "gelu"), batch_norm=True),
    "dropout_sigmoid": PlaygroundConfig(hidden=(6,), activations=("sigmoid",), dropout=0.3),
    "multiclass_ce": PlaygroundConfig(data=DataSpec(kind="multiclass", n_points=200), hidden=(6, 4),
                                      activations=("elu", "leaky_relu"), loss="ce"),
    "multiclass_mse": PlaygroundConfig(data=DataSpec(kind="multiclass", n_points=200), hidden=(4,),
                                       activations=("selu",), loss="mse"),
    "multiclass_bce": PlaygroundConfig(data=DataSpec(kind="multiclass", n_points=200), hidden=(4,),
                                       activations=("tanh",), loss="bce"),
    "binary_mse": PlaygroundConfig(data=DataSpec(kind="xor", n_points=200), features=("x1", "x2", "x1x2"),
                                   hidden=(3,), activations=("linear",), loss="mse"),
    "binary_two_logits": PlaygroundConfig(data=DataSpec(kind="moons", n_points=200), loss="ce"),
    "regression": PlaygroundConfig(data=DataSpec(kind="bumps", n_points=200), hidden=(8, 8, 4),
                                   activations=("tanh", "relu", "tanh"), loss="mse"),
    "one_d": PlaygroundConfig(data=DataSpec(kind="sine", n_points=100), features=("x1", "sin_x1"),
                              hidden=(5,), activations=("tanh",), loss="mse"),
    "no_hidden": PlaygroundConfig(hidden=(), activations=(), features=("x1_sq", "x2_sq")),
}


def landscape(config: PlaygroundConfig, seed: int = 1) -> PlaygroundLandscape:
    """A network as the job would have it: weights off their init, BN statistics from training data."""
    dataset = make_dataset(config.data)
    net = PlaygroundNet(config, n_outputs(config, dataset), torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + p.numel())))
        if config.batch_norm:
            net.norms[0].momentum = None  # cumulative average: the statistics of the whole training set
            for norm in net.norms:
                norm.momentum = None
            net.train()
            net(torch.tensor(dataset.x_train))
    return PlaygroundLandscape.from_state(config, net.state_dict(), dataset)


def naive_loss(land: PlaygroundLandscape, flat: torch.Tensor, which: str = "train") -> float:
    """Li et al.'s way: load the weights into a fresh network, forward, read the number."""
    net = PlaygroundNet(land.config, n_outputs(land.config, land.dataset), torch.Generator())
    net.load_state_dict(land.model.state_dict())
    with torch.no_grad():
        for p, value in zip(net.parameters(), land.space.unflatten(flat).values()):
            p.copy_(value)
    net.eval()
    x, y = land.data[which]
    with torch.no_grad():
        return data_loss(land.config, land.dataset.task, net(x), y).item()


def two_directions(land, normalization="filter", seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [random_direction(land.model, normalization, generator) for _ in range(2)]


# ----------------------------------------------------------------------------- directions
def test_filter_normalized_direction_has_the_weight_filter_norms_and_no_bias_or_bn():
    land = landscape(CONFIGS["batch_norm"])
    direction = land.space.unflatten(random_direction(land.model, "filter", torch.Generator().manual_seed(3)))
    checked = 0
    for name, weight in land.model.named_parameters():
        d = direction[name]
        if weight.dim() <= 1:  # biases and batch-norm γ, β
            assert torch.count_nonzero(d) == 0, name
            continue
        for row_d, row_w in zip(d, weight):
            assert torch.linalg.vector_norm(row_d).item() == pytest.approx(torch.linalg.vector_norm(row_w).item(),
                                                                           rel=1e-5)
            checked += 1
    assert checked == 5 + 3 + 1  # one filter per unit of each layer
    assert {"norms.0.weight", "norms.1.bias"} <= set(direction)


def test_layer_normalized_and_raw_directions():
    land = landscape(CONFIGS["regression"])
    layer = land.space.unflatten(random_direction(land.model, "layer", torch.Generator().manual_seed(0)))
    raw_flat = random_direction(land.model, "none", torch.Generator().manual_seed(0))
    raw = land.space.unflatten(raw_flat)
    for name, weight in land.model.named_parameters():
        if weight.dim() == 2:
            assert layer[name].norm().item() == pytest.approx(weight.norm().item(), rel=1e-5)
            # the same draw, only rescaled as a whole: parallel to the raw direction
            cosine = torch.nn.functional.cosine_similarity(layer[name].flatten(), raw[name].flatten(), dim=0)
            assert cosine.item() == pytest.approx(1.0, abs=1e-6)
        else:
            assert torch.count_nonzero(layer[name]) == 0 and torch.count_nonzero(raw[name]) == 0
    # unnormalized: plain standard normal entries
    weights = torch.cat([raw[n].flatten() for n, w in land.model.named_parameters() if w.dim() == 2])
    assert abs(weights.mean().item()) < 0.2 and weights.std().item() == pytest.approx(1.0, abs=0.2)
    again = random_direction(land.model, "none", torch.Generator().manual_seed(0))
    assert torch.equal(raw_flat, again)


def test_unknown_normalization_is_refused():
    with pytest.raises(ValueError, match="normalization"):
        random_direction(landscape(CONFIGS["default"]).model, "batch")


# ----------------------------------------------------------------------------- PCA
def test_pca_of_a_planar_trajectory_is_orthonormal_and_reproduces_it():
    rng = np.random.default_rng(0)
    n, k = 40, 30
    origin = rng.normal(size=n)
    u, v = rng.normal(size=n), rng.normal(size=n)  # not orthogonal, not unit
    a, b = rng.normal(size=k) * 3, rng.normal(size=k)
    trajectory = origin + a[:, None] * u + b[:, None] * v
    plane = trajectory_pca(trajectory, origin)
    assert plane.directions.shape == (2, n)
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(origin + plane.coordinates @ plane.directions, trajectory, atol=1e-9)
    np.testing.assert_allclose(plane.off_plane, 0, atol=1e-9)
    assert plane.explained.sum() == pytest.approx(1.0)
    assert plane.explained[0] >= plane.explained[1]


def test_pca_explained_variance_and_projection_against_the_scatter_matrix():
    rng = np.random.default_rng(1)
    origin = rng.normal(size=12)
    trajectory = origin + np.cumsum(rng.normal(size=(25, 12)) * np.linspace(3, 0.1, 12), axis=0)
    plane = trajectory_pca(trajectory, origin)
    deltas = trajectory - origin
    eigenvalues, eigenvectors = np.linalg.eigh(deltas.T @ deltas)  # the oracle: uncentred scatter
    np.testing.assert_allclose(plane.explained, eigenvalues[::-1][:2] / eigenvalues.sum(), rtol=1e-9)
    for direction, vector in zip(plane.directions, eigenvectors[:, ::-1].T):
        assert abs(direction @ vector) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(plane.coordinates, deltas @ plane.directions.T, atol=1e-12)
    residual = deltas - plane.coordinates @ plane.directions
    np.testing.assert_allclose(plane.off_plane, np.linalg.norm(residual, axis=1), atol=1e-12)
    assert np.all(plane.coordinates[0] <= 0)  # the start sits at negative coordinates: a stable picture


def test_pca_of_a_straight_line_still_gives_a_plane():
    origin = np.zeros(5)
    trajectory = np.outer(np.linspace(-1, 0, 6), [1.0, 2.0, 0, 0, 0])
    plane = trajectory_pca(trajectory, origin)
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(plane.explained, [1.0, 0.0], atol=1e-12)


def test_a_real_trajectory_is_in_parameter_order_and_ends_at_the_current_weights(no_leaked_threads):
    job = PlaygroundJob(seed=2)
    try:
        job.wait_applied(job.step(40))
        snap = job.wait_for(lambda s: s.step == 40 and not s.busy)
    finally:
        job.stop()
    land = PlaygroundLandscape.from_state(snap.config, snap.visuals.state, snap.visuals.dataset)
    recorded_steps, recorded = snap.visuals.trajectory
    current = land.weights.double().numpy()
    np.testing.assert_allclose(np.asarray(recorded)[-1], current, rtol=0, atol=1e-7)
    steps, vectors = stacked_trajectory(recorded_steps, recorded, current, snap.step)
    assert steps[-1] == 40 and len(steps) == len(recorded_steps)
    plane = trajectory_pca(vectors, current)
    np.testing.assert_allclose(plane.coordinates[-1], 0, atol=1e-12)
    # a step that was not recorded is appended
    steps, vectors = stacked_trajectory(recorded_steps[:-1], recorded[:-1], current, snap.step)
    assert steps[-1] == 40 and np.array_equal(vectors[-1], current)


# ----------------------------------------------------------------------------- surfaces
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "vmap"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_surface_equals_the_naive_loop(name, fused):
    land = landscape(CONFIGS[name])
    d1, d2 = two_directions(land)
    alphas, betas = np.linspace(-1.2, 0.8, 6), np.linspace(-0.5, 1.0, 4)  # non-square and off-centre
    evaluator = land.evaluator(fused=fused)
    evaluator.chunk_size = 7  # several chunks, the last one partial
    surface = loss_surface(evaluator, land.weights, [d1, d2], alphas, betas)
    assert surface["train"].shape == surface["test"].shape == (4, 6)
    for which in ("train", "test"):
        naive = np.array([[naive_loss(land, land.weights + a * d1 + b * d2, which) for a in alphas] for b in betas])
        np.testing.assert_allclose(surface[which], naive, rtol=0, atol=1e-5)


def test_surface_centre_is_the_jobs_current_loss(no_leaked_threads):
    config = CONFIGS["batch_norm"]
    job = PlaygroundJob(config, seed=4)
    try:
        job.wait_applied(job.step(60))
        snap = job.wait_for(lambda s: s.step == 60 and not s.busy)
    finally:
        job.stop()
    land = PlaygroundLandscape.from_state(snap.config, snap.visuals.state, snap.visuals.dataset)
    d1, d2 = two_directions(land)
    grid = np.linspace(-1, 1, 11)
    surface = loss_surface(land.evaluator(), land.weights, [d1, d2], grid, grid)
    assert surface["train"][5, 5] == pytest.approx(snap.latest("train_loss"), abs=1e-6)
    assert surface["test"][5, 5] == pytest.approx(snap.latest("test_loss"), abs=1e-6)
    # evaluating left the network's batch-norm statistics alone
    for name, value in snap.visuals.state.items():
        assert torch.equal(land.model.state_dict()[name], value), name


def test_grid_orientation_rows_follow_beta_columns_alpha():
    land = landscape(CONFIGS["default"])
    d1, _ = two_directions(land)
    zero = torch.zeros_like(d1)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-1, 1, 3)
    along_alpha = loss_surface(land.evaluator(), land.weights, [d1, zero], alphas, betas)["train"]
    along_beta = loss_surface(land.evaluator(), land.weights, [zero, d1], alphas, betas)["train"]
    assert along_alpha.shape == along_beta.shape == (3, 5)
    assert np.ptp(along_alpha[:, 2]) == 0 and np.ptp(along_alpha[1]) > 0  # varies across columns only
    assert np.ptp(along_beta[1]) == 0 and np.ptp(along_beta[:, 2]) > 0  # varies down rows only
    np.testing.assert_allclose(along_alpha[0, [0, 2, 4]], along_beta[:, 2], atol=1e-6)


def test_one_direction_interpolates_between_two_weight_vectors():
    land = landscape(CONFIGS["multiclass_ce"])
    start = land.weights
    end = start + two_directions(land)[0]
    line = loss_surface(land.evaluator(), start, [end - start], np.array([0.0, 0.5, 1.0]))
    assert line["train"].shape == (3,)
    assert line["train"][0] == pytest.approx(naive_loss(land, start), abs=1e-6)
    assert line["train"][1] == pytest.approx(naive_loss(land, 0.5 * (start + end)), abs=1e-6)
    assert line["test"][2] == pytest.approx(naive_loss(land, end, "test"), abs=1e-6)


def test_loss_at_given_vectors_and_in_the_plane():
    land = landscape(CONFIGS["regression"])
    d1, d2 = two_directions(land, seed=5)
    vectors = torch.stack([land.weights + 0.3 * i * d1 - 0.2 * d2 for i in range(5)])
    at = loss_at(land.evaluator(), vectors.numpy())
    np.testing.assert_allclose(at["train"], [naive_loss(land, v) for v in vectors], atol=1e-5)
    coordinates = np.array([[0.3 * i, -0.2] for i in range(5)])
    in_plane = loss_in_plane(land.evaluator(), land.weights, [d1, d2], coordinates)
    np.testing.assert_allclose(in_plane["test"], [naive_loss(land, v, "test") for v in vectors], atol=1e-5)


def test_progress_is_reported_per_chunk_and_can_cancel():
    land = landscape(CONFIGS["default"])
    d1, d2 = two_directions(land)
    evaluator = land.evaluator(["train"])
    evaluator.chunk_size = 10
    seen = []
    grid = np.linspace(-1, 1, 9)
    loss_surface(evaluator, land.weights, [d1, d2], grid, grid, progress=lambda done, total: seen.append(done))
    assert seen == [10, 20, 30, 40, 50, 60, 70, 80, 81]
    calls = []
    with pytest.raises(Cancelled):
        loss_surface(evaluator, land.weights, [d1, d2], grid, grid,
                     progress=lambda done, total: calls.append(done) or done < 30)
    assert calls == [10, 20, 30]


def test_batched_data_loss_matches_data_loss_for_every_task_and_loss():
    generator = torch.Generator().manual_seed(0)
    cases = [("regression", "mse", 1), ("binary", "bce", 1), ("binary", "mse", 1), ("binary", "ce", 2),
             ("multiclass", "ce", 4), ("multiclass", "bce", 4), ("multiclass", "mse", 4)]
    for task, loss, classes in cases:
        config = PlaygroundConfig(loss=loss)
        output = torch.randn(3, 5, 17, classes, generator=generator, dtype=torch.float64)
        if task == "regression":
            target = torch.randn(17, generator=generator, dtype=torch.float64)
        else:
            target = torch.randint(0, max(classes, 2), (17,), generator=generator)
        batched = batched_data_loss(config, task)(output, target)
        assert batched.shape == (3, 5)
        expected = torch.tensor([[data_loss(config, task, output[i, j], target).item() for j in range(5)]
                                 for i in range(3)], dtype=torch.float64)
        # data_loss turns binary targets into float32, hence not 1e-12
        torch.testing.assert_close(batched, expected, rtol=1e-7, atol=1e-7, msg=f"{task}/{loss}")


def test_parameter_space_round_trip():
    land = landscape(CONFIGS["batch_norm"])
    space = ParameterSpace(land.model)
    flat = space.current(land.model)
    assert flat.shape == (sum(p.numel() for p in land.model.parameters()),)
    for (name, p), (name2, view) in zip(land.model.named_parameters(), space.unflatten(flat).items()):
        assert name == name2 and torch.equal(p, view)
    batch = space.unflatten(torch.stack([flat, 2 * flat]))
    assert torch.equal(batch["linears.1.weight"][1], 2 * land.model.linears[1].weight)


# ----------------------------------------------------------------------------- curvature
def exact_hessian_eigenvalues(land: PlaygroundLandscape) -> np.ndarray:
    x, y = land.data["train"]
    buffers = {n: b.double() if b.is_floating_point() else b for n, b in land.space.buffers.items()}

    def loss(flat):
        output = torch.func.functional_call(land.model, (land.space.unflatten(flat), buffers), (x.double(),))
        return data_loss(land.config, land.dataset.task, output, y.double() if y.is_floating_point() else y)

    hessian = torch.autograd.functional.hessian(loss, land.weights.double())
    return np.sort(np.linalg.eigvalsh(hessian.numpy()))[::-1]


@pytest.mark.parametrize("name", ["default", "batch_norm", "multiclass_ce", "regression"])
@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_top_hessian_eigenvalues_match_torchs_full_hessian(name, method):
    land = landscape(CONFIGS[name])
    exact = exact_hessian_eigenvalues(land)
    spectrum = land.hessian_eigenvalues(3, method)
    found = spectrum.eigenvalues
    assert spectrum.method == method and spectrum.products >= 3
    # Lanczos with fewer steps than parameters (regression: 141) still nails the extremes
    np.testing.assert_allclose(found, exact[:3], rtol=1e-5, atol=1e-8)


def test_eigen_solvers_on_a_known_matrix_with_a_dominant_negative_eigenvalue():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    values = np.r_[3.0, 2.0, 1.5, np.linspace(-0.5, 1.0, 16), -7.0]
    matrix = torch.tensor(q @ np.diag(values) @ q.T)
    for solver in (lanczos_eigenvalues, power_iteration_eigenvalues):
        found = solver(lambda v: matrix @ v, 20, 3, generator=torch.Generator().manual_seed(1))
        np.testing.assert_allclose(found, [3.0, 2.0, 1.5], rtol=1e-6)


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("momentum", 0.9), ("nesterov", 0.9)])
def test_stable_step_size_is_the_edge_of_divergence_for_torchs_optimizer(optimizer, momentum):
    curvature = 4.0
    threshold = stable_step_size(curvature, optimizer, momentum)

    def final_distance(lr):
        x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=optimizer == "nesterov")
        for _ in range(600):
            opt.zero_grad()
            (0.5 * curvature * x.square()).sum().backward()
            opt.step()
        return abs(x.item())

    assert final_distance(0.97 * threshold) < 1e-3
    assert final_distance(1.03 * threshold) > 1e3
    assert stable_step_size(curvature, "adam") is None
    assert stable_step_size(-1.0, "sgd") == math.inf


def test_step_size_verdict_compares_the_learning_rate_with_the_bound():
    bound, rule, verdict = step_size_verdict(4.0, "sgd", 0.0, lr=0.4)
    assert (bound, rule) == (0.5, "2/λmax") and "inside" in verdict
    bound, rule, verdict = step_size_verdict(4.0, "momentum", 0.9, lr=1.0)
    assert bound == pytest.approx(0.95) and "beyond" in verdict
    bound, rule, verdict = step_size_verdict(4.0, "adam", 0.9, lr=0.6)
    assert bound == 0.5 and "plain GD only" in verdict


def test_a_diverged_network_has_no_curvature_rather_than_a_wrong_one():
    land = landscape(CONFIGS["default"])
    with torch.no_grad():
        weights = land.model.linears[0].weight
        weights.fill_(float("nan"))
    for method in ("lanczos", "power"):
        with pytest.raises(FloatingPointError):
            land.hessian_eigenvalues(3, method)


def test_hessian_of_a_quadratic_model_is_exact():
    """Linear model + MSE: H = 2/n · Xᵀ X (with a bias column), a formula."""
    config = PlaygroundConfig(data=DataSpec(kind="plane", n_points=60), hidden=(), activations=(), loss="mse")
    land = landscape(config)
    x, y = land.data["train"]
    design = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    expected = np.sort(np.linalg.eigvalsh((2.0 / len(x) * design.T @ design).numpy()))[::-1]
    found = hessian_eigenvalues(land.model, land.loss_fn, x, y, k=3).eigenvalues
    np.testing.assert_allclose(found, expected, rtol=1e-9)


def test_the_spec_asks_for_one_loss_on_a_plane_and_both_along_a_line_or_the_curve_view():
    assert LandscapeSpec(dirs="pca", data="test", res=31).config() == \
        LandscapeRequest("pca", 0, 1.0, 31, False, ("test",))
    for spec in (LandscapeSpec(dirs="initial"), LandscapeSpec(view="curve", data="test")):
        assert spec.config().one_dimensional and spec.config().which == ("train", "test")
    assert LandscapeSpec(preset="xor_momentum").network()[0].optimizer == "momentum"
