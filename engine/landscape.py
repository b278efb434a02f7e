"""Loss landscapes of a live network: directions, batched surfaces, curvature.

After Li et al., "Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018),
but live and in seconds rather than GPU-hours:

- Directions live in the flat space of the trainable parameters, in
  `model.parameters()` order (the order `WeightTrajectory` records). Random
  Gaussian directions are filter-, layer- or not normalized; as in Li et al.
  the entries of biases and batch-norm parameters (every parameter with at
  most one dimension) are left out (zero). Trajectory PCA and the line between
  two weight vectors give the other directions.
- A surface is the loss at θ = θ₀ + α·d₁ + β·d₂ on a grid. Every point is a
  linear combination of a few basis vectors, so grids, lines and arbitrary
  weight vectors all go through one evaluator, `BatchedLoss`, that evaluates
  chunks of points at once with one host transfer per chunk. For a
  `PlaygroundNet` a fused evaluator exploits that the first layer's
  pre-activation is affine in the coefficients (computed once per basis
  vector, combined by one small matrix product per chunk); any other module
  goes through `torch.func.functional_call` + `vmap`.
- Curvature: the top Hessian eigenvalues from Hessian-vector products, by
  Lanczos or power iteration, and the step size 2/λmax beyond which gradient
  descent on the local quadratic diverges.

Networks are evaluated in eval mode: batch norm uses its running statistics
(and never updates them, which `vmap` could not do anyway), dropout is off.
Results come back as NumPy arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from engine.common.device import limit_torch_threads
from engine.common.limits import check, check_choice
from engine.common.optimizers import OPTIMIZERS
from engine.playground import PlaygroundConfig, PlaygroundNet, n_outputs
from engine.playground_data import Dataset, DataSpec

NORMALIZATIONS = {"filter": "filter-normalized", "layer": "layer-normalized", "none": "not normalized"}

# Bytes of activations one chunk of grid points may hold on a CPU: about half a
# core's L2 cache, so each elementwise pass reads what the previous one wrote
# from cache instead of from memory.
CPU_CHUNK_BYTES = 1 << 19
GPU_CHUNK_BYTES = 1 << 28

# (output, target) -> per-point loss, for outputs with leading batch dimensions:
# (..., n, classes) -> (...).
BatchedLossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int], object]


def _onto(tensor: torch.Tensor, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Cast on the CPU first, then move: Apple's MPS has no float64 to arrive in."""
    return tensor.to(dtype).to(device)


class Cancelled(Exception):
    """A progress callback asked the evaluation to stop."""


# ----------------------------------------------------------------------------- parameters
class ParameterSpace:
    """A model's trainable parameters as one flat vector, and back."""

    def __init__(self, model: nn.Module):
        named = list(model.named_parameters())
        self.names = [name for name, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.size = int(self.offsets[-1])
        self.device = named[0][1].device
        self.dtype = named[0][1].dtype
        self.buffers = {name: b.detach() for name, b in model.named_buffers()}

    def flatten(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.detach().reshape(-1) for t in tensors]).to(self.device, self.dtype)

    def current(self, model: nn.Module) -> torch.Tensor:
        """A flat copy of the model's weights now."""
        return self.flatten(list(model.parameters()))

    def slice(self, name: str) -> slice:
        index = self.names.index(name)
        return slice(self.offsets[index], self.offsets[index + 1])

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of `flat` (n,) or (k, n) shaped as the parameters, with the leading k kept."""
        lead = flat.shape[:-1]
        return {name: flat[..., start:stop].reshape(*lead, *shape)
                for name, shape, start, stop in zip(self.names, self.shapes, self.offsets, self.offsets[1:])}

    def from_numpy(self, vector: np.ndarray) -> torch.Tensor:
        if vector.shape != (self.size,):
            raise ValueError(f"a weight vector of this network has {self.size} entries, not {vector.shape}")
        return torch.as_tensor(np.asarray(vector), dtype=self.dtype).to(self.device)


# ----------------------------------------------------------------------------- directions
def random_direction(model: nn.Module, normalization: str = "filter",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """A Gaussian direction scaled to the weights, flat, on the model's device.

    filter: each filter (row of a linear layer's weight: everything feeding one
            unit) gets the norm of the matching weight filter (Li et al.);
    layer:  each weight tensor gets the norm of the whole weight tensor;
    none:   the raw Gaussian.
    Biases and batch-norm parameters (tensors with at most one dimension) are
    zero, so the picture does not depend on their scale.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}")
    pieces = []
    for weight in model.parameters():
        weight = weight.detach()
        # Drawn on the CPU so a seed gives the same direction on every device.
        direction = torch.randn(weight.shape, generator=generator, dtype=torch.float64)
        direction = _onto(direction, weight.device, weight.dtype)
        if weight.dim() <= 1:
            direction.zero_()
        elif normalization == "filter":
            rows, filters = direction.reshape(len(direction), -1), weight.reshape(len(weight), -1)
            rows.mul_(filters.norm(dim=1, keepdim=True) / (rows.norm(dim=1, keepdim=True) + 1e-10))
        elif normalization == "layer":
            direction.mul_(weight.norm() / (direction.norm() + 1e-10))
        pieces.append(direction.reshape(-1))
    return torch.cat(pieces)


@dataclass(frozen=True)
class TrajectoryPlane:
    """The plane through the current weights that best fits the training trajectory."""

    directions: np.ndarray  # (2, n) orthonormal rows
    explained: np.ndarray  # (2,) share of the trajectory's squared distance from the origin along each
    coordinates: np.ndarray  # (k, 2) each recorded weight vector projected onto the plane
    off_plane: np.ndarray  # (k,) distance of each recorded weight vector from the plane


def trajectory_pca(vectors: np.ndarray, origin: np.ndarray) -> TrajectoryPlane:
    """Principal directions of the trajectory's displacements from `origin` (the current weights).

    Li et al. fit the PCA to θᵢ − θ_final as well. The displacements are not
    mean-centred: the plane has to pass through the current weights (that is
    where the surface is drawn), and among such planes the leading right
    singular vectors of the displacement matrix are the least-squares best fit,
    i.e. they leave the smallest off-plane error. Signs are fixed so the start
    of training lies at negative coordinates, which keeps the picture from
    flipping as training goes on.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    origin = np.asarray(origin, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != origin.shape[0]:
        raise ValueError("vectors must be (k, n) with n the length of origin")
    n = origin.shape[0]
    if n < 2:
        raise ValueError("a plane needs at least two parameters")
    deltas = vectors - origin
    _, singular, vt = np.linalg.svd(deltas, full_matrices=False)
    total = float(np.sum(singular**2))
    scale = max(float(singular[0]) if len(singular) else 0.0, 1e-300)
    basis = [vt[i] for i in range(min(2, len(singular))) if singular[i] > 1e-9 * scale and total > 0]
    for axis in range(n):  # a trajectory of fewer than two independent moves: complete the plane
        if len(basis) == 2:
            break
        candidate = np.zeros(n)
        candidate[axis] = 1.0
        for b in basis:
            candidate -= (candidate @ b) * b
        if np.linalg.norm(candidate) > 1e-6:
            basis.append(candidate / np.linalg.norm(candidate))
    directions = np.stack(basis)
    start = deltas[0] if len(deltas) else np.zeros(n)
    for row in directions:
        if row @ start > 0 or (row @ start == 0 and row[np.argmax(np.abs(row))] < 0):
            row *= -1.0
    coordinates = deltas @ directions.T
    explained = np.sum(coordinates**2, axis=0) / total if total > 0 else np.zeros(2)
    off_plane = np.linalg.norm(deltas - coordinates @ directions, axis=1)
    return TrajectoryPlane(directions, explained, coordinates, off_plane)


def stacked_trajectory(steps: Sequence[int], vectors: Sequence[np.ndarray] | np.ndarray, current: np.ndarray,
                       current_step: int) -> tuple[np.ndarray, np.ndarray]:
    """The recorded trajectory as ((k,) steps, (k, n) vectors), ending at the current weights."""
    steps = np.asarray(steps, dtype=np.int64)
    current = np.asarray(current, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float64).reshape(len(steps), len(current))
    if len(steps) and steps[-1] == current_step:
        vectors = vectors.copy()
        vectors[-1] = current
        return steps, vectors
    return np.r_[steps, current_step], np.vstack([vectors, current])


# ----------------------------------------------------------------------------- losses
def _softplus(z: torch.Tensor) -> torch.Tensor:
    # torch's default switches to z at z > 20, an error of e⁻²⁰ ≈ 2e-9 that float64 would notice.
    return F.softplus(z, threshold=50.0)


def batched_data_loss(config: PlaygroundConfig, task: str) -> BatchedLossFn:
    """`engine.playground.data_loss` for a batch of outputs (..., n, classes) -> (...).

    The same formulas as data_loss, written for leading batch dimensions,
    because `vmap(data_loss)` costs three times as much per element."""
    if task == "regression":
        return lambda output, target: (output[..., 0] - target).square().mean(-1)

    def binary(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logit, target = output[..., 0], target.to(output.dtype)
        if config.loss == "bce":  # softplus(z) − z·y is BCE-with-logits
            return (_softplus(logit) - logit * target).mean(-1)
        return (torch.sigmoid(logit) - target).square().mean(-1)

    def multiclass(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if config.loss == "ce":
            picked = output.gather(-1, target.expand(*output.shape[:-1]).unsqueeze(-1))[..., 0]
            return (torch.logsumexp(output, dim=-1) - picked).mean(-1)
        one_hot = F.one_hot(target, output.shape[-1]).to(output.dtype)
        if config.loss == "bce":
            return (_softplus(output) - output * one_hot).mean((-2, -1))
        return (torch.softmax(output, dim=-1) - one_hot).square().mean((-2, -1))

    return lambda output, target: (binary if output.shape[-1] == 1 else multiclass)(output, target)


# ----------------------------------------------------------------------------- evaluation
class BatchedLoss:
    """The loss of one network at many weight vectors θₖ = Σ_c C[k, c]·B[c], chunk by chunk.

    `data` maps a name ("train", "test") to (x, y); every name gets its own
    loss. Subclasses supply `_chunk(coefficient_chunk) -> (k, len(data))`.
    """

    def __init__(self, model: nn.Module, loss_fn: BatchedLossFn, data: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                 chunk_size: int | None = None):
        self.model = model.eval()
        self.space = ParameterSpace(model)
        self.device = self.space.device
        self.loss_fn = loss_fn
        self.names = list(data)
        xs = [torch.as_tensor(x).to(self.device) for x, _ in data.values()]
        self.x = torch.cat(xs)
        bounds = np.cumsum([0, *[len(x) for x in xs]])
        self.groups = [(slice(int(a), int(b)), torch.as_tensor(y).to(self.device))
                       for a, b, (_, y) in zip(bounds, bounds[1:], data.values())]
        self.chunk_size = chunk_size or self._default_chunk_size()
        self.basis: torch.Tensor | None = None

    def _default_chunk_size(self) -> int:
        widths = [p.shape[0] for p in self.model.parameters() if p.dim() == 2] or [1]
        budget = CPU_CHUNK_BYTES if self.device.type == "cpu" else GPU_CHUNK_BYTES
        per_point = 4 * len(self.x) * max(max(widths), 1)
        return int(np.clip(budget // per_point, 4, 65536))

    def set_basis(self, basis: torch.Tensor) -> None:
        """The (m, n) vectors that coefficients combine; precomputes what depends only on them."""
        if basis.dim() != 2 or basis.shape[1] != self.space.size:
            raise ValueError(f"the basis must be (m, {self.space.size})")
        self.basis = _onto(basis, self.device, self.space.dtype)

    def __call__(self, coefficients: torch.Tensor, progress: Progress | None = None) -> dict[str, np.ndarray]:
        """Loss at each row of `coefficients` (p, m): {name: (p,)}. `progress(done, total)` is called
        after each chunk; if it returns False the evaluation stops with `Cancelled`."""
        limit_torch_threads()
        coefficients = _onto(torch.as_tensor(coefficients), self.device, self.space.dtype)
        total = len(coefficients)
        result = np.empty((total, len(self.names)))
        with torch.no_grad():
            for start in range(0, total, self.chunk_size):
                stop = min(start + self.chunk_size, total)
                result[start:stop] = self._chunk(coefficients[start:stop]).cpu().numpy()  # the chunk's one sync
                if progress is not None and progress(stop, total) is False:
                    raise Cancelled(f"stopped after {stop} of {total} points")
        return {name: result[:, i] for i, name in enumerate(self.names)}

    def _losses(self, output: torch.Tensor) -> torch.Tensor:
        """(k, n_all, classes) -> (k, groups)."""
        return torch.stack([self.loss_fn(output[:, part], y) for part, y in self.groups], dim=1)

    def _chunk(self, coefficients: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class VmapLoss(BatchedLoss):
    """Any module: `functional_call` over a chunk of weight vectors under `vmap`."""

    def _chunk(self, coefficients: torch.Tensor) -> torch.Tensor:
        params = self.space.unflatten(coefficients @ self.basis)
        buffers = self.space.buffers

        def forward(point_params):
            return functional_call(self.model, (point_params, buffers), (self.x,))

        output = vmap(forward)(params)
        return self._losses(output.reshape(len(coefficients), len(self.x), -1))


@dataclass
class _Layer:
    weight: torch.Tensor  # (m, out, in): the basis' weights, activation folds applied
    bias: torch.Tensor  # (m, out)
    norm_scale: torch.Tensor | None  # (m, out): batch norm in eval mode is z·scale + shift, both affine in θ
    norm_shift: torch.Tensor | None
    activation: Callable[[torch.Tensor], torch.Tensor] | None  # in place where it can be; None: output layer


class FusedPlaygroundLoss(BatchedLoss):
    """A PlaygroundNet in eval mode, computed layer by layer for a whole chunk at once.

    - The first layer's pre-activation Z(θ) = W·features + b is linear in θ, so
      it is computed once per basis vector; a chunk's is one (k, m) @ (m, units·n)
      product.
    - Activations are laid out (k, units, n) so each later layer is a batched
      matrix product with a long inner dimension.
    - tanh(z) = 2σ(2z) − 1 with σ about four times cheaper than tanh on a CPU;
      the factor 2 inside goes into the pre-activation and the affine map
      outside into the next layer's weights, so it costs nothing extra.
    """

    def __init__(self, model: PlaygroundNet, loss_fn: BatchedLossFn,
                 data: Mapping[str, tuple[torch.Tensor, torch.Tensor]], chunk_size: int | None = None):
        super().__init__(model, loss_fn, data, chunk_size)
        self.features = model.featurize(self.x).T.contiguous()  # (f, n)
        self.first_layer: torch.Tensor | None = None
        self.layers: list[_Layer] = []

    def set_basis(self, basis: torch.Tensor) -> None:
        super().set_basis(basis)
        model, space, m = self.model, self.space, len(self.basis)
        params = space.unflatten(self.basis)
        linears = [*model.linears, model.output]
        names = [f"linears.{i}" for i in range(len(model.linears))] + ["output"]
        self.layers = []
        in_scale, out_scale, out_shift = 1.0, 1.0, 0.0  # the previous activation's fold
        for index, name in enumerate(names):
            weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]
            bias = bias + out_shift * weight.sum(-1)
            weight = weight * out_scale
            hidden = index < len(model.linears)
            activation, in_scale, out_scale, out_shift = self._activation(model.activations[index]) \
                if hidden else (None, 1.0, 1.0, 0.0)
            norm_scale = norm_shift = None
            norm = model.norms[index] if hidden else None
            if isinstance(norm, nn.BatchNorm1d):
                inv_std = torch.rsqrt(norm.running_var + norm.eps)
                gamma = params[f"norms.{index}.weight"]
                beta = params[f"norms.{index}.bias"]
                norm_scale = gamma * inv_std * in_scale
                norm_shift = (beta - norm.running_mean * gamma * inv_std) * in_scale
            elif in_scale != 1.0:
                weight, bias = weight * in_scale, bias * in_scale
            self.layers.append(_Layer(weight.reshape(m, *linears[index].weight.shape).contiguous(),
                                      bias.reshape(m, -1).contiguous(), norm_scale, norm_shift, activation))
        first = self.layers[0]
        # (m, units, n): the first pre-activation of every basis vector.
        self.first_layer = (torch.einsum("cuf,fn->cun", first.weight, self.features)
                            + first.bias[:, :, None]).reshape(m, -1)

    @staticmethod
    def _activation(module: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, float, float]:
        """(in-place function g, a, b, c) with activation(z) = b·g(a·z) + c."""
        if isinstance(module, nn.Tanh):
            return torch.sigmoid_, 2.0, 2.0, -1.0
        if isinstance(module, nn.Sigmoid):
            return torch.sigmoid_, 1.0, 1.0, 0.0
        if isinstance(module, nn.ReLU):
            return torch.relu_, 1.0, 1.0, 0.0
        if isinstance(module, nn.Identity):
            return lambda z: z, 1.0, 1.0, 0.0
        return module, 1.0, 1.0, 0.0

    def _chunk(self, coefficients: torch.Tensor) -> torch.Tensor:
        k, n = len(coefficients), len(self.x)
        h = None
        for index, layer in enumerate(self.layers):
            if index == 0:
                z = (coefficients @ self.first_layer).view(k, -1, n)
            else:
                weight = (coefficients @ layer.weight.flatten(1)).view(k, *layer.weight.shape[1:])
                z = torch.baddbmm((coefficients @ layer.bias).unsqueeze(2), weight, h)
            if layer.norm_scale is not None:
                z = z.mul_((coefficients @ layer.norm_scale).unsqueeze(2))
                z = z.add_((coefficients @ layer.norm_shift).unsqueeze(2))
            h = layer.activation(z) if layer.activation is not None else z
        return self._losses(h.transpose(1, 2))


def batched_loss(model: nn.Module, loss_fn: BatchedLossFn, data: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                 chunk_size: int | None = None, fused: bool = True) -> BatchedLoss:
    """The fastest evaluator that handles `model`."""
    if fused and isinstance(model, PlaygroundNet):
        return FusedPlaygroundLoss(model, loss_fn, data, chunk_size)
    return VmapLoss(model, loss_fn, data, chunk_size)


def grid_coefficients(alphas: np.ndarray, betas: np.ndarray | None) -> torch.Tensor:
    """Rows [1, α, β] in row-major (β, α) order: row i·len(α) + j is (α_j, β_i)."""
    alphas = torch.as_tensor(np.asarray(alphas, dtype=np.float64))
    if betas is None:
        return torch.stack([torch.ones_like(alphas), alphas], dim=1)
    betas = torch.as_tensor(np.asarray(betas, dtype=np.float64))
    beta_grid, alpha_grid = torch.meshgrid(betas, alphas, indexing="ij")
    return torch.stack([torch.ones_like(alpha_grid), alpha_grid, beta_grid], dim=-1).reshape(-1, 3)


def loss_surface(evaluator: BatchedLoss, origin: torch.Tensor, directions: Sequence[torch.Tensor],
                 alphas: np.ndarray, betas: np.ndarray | None = None,
                 progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Loss at origin + α·d₁ (+ β·d₂): {name: (len(α),)} for one direction, {name: (len(β), len(α))}
    for two, rows following β and columns α (as a contour plot's z)."""
    if len(directions) != (1 if betas is None else 2):
        raise ValueError("give one direction for a line (no betas) and two for a grid")
    evaluator.set_basis(torch.stack([origin, *directions]))
    losses = evaluator(grid_coefficients(alphas, betas), progress)
    shape = (len(alphas),) if betas is None else (len(betas), len(alphas))
    return {name: values.reshape(shape) for name, values in losses.items()}


def loss_in_plane(evaluator: BatchedLoss, origin: torch.Tensor, directions: Sequence[torch.Tensor],
                  coordinates: np.ndarray) -> dict[str, np.ndarray]:
    """Loss at origin + Σ coordinates[k, i]·directions[i] for each row k."""
    evaluator.set_basis(torch.stack([origin, *directions]))
    coordinates = np.asarray(coordinates, dtype=np.float64).reshape(len(coordinates), len(directions))
    return evaluator(torch.as_tensor(np.c_[np.ones(len(coordinates)), coordinates]))


def loss_at(evaluator: BatchedLoss, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Loss at each weight vector (k, n) itself (e.g. a recorded trajectory)."""
    vectors = _onto(torch.as_tensor(np.asarray(vectors)), evaluator.device, evaluator.space.dtype)
    evaluator.set_basis(vectors)
    return evaluator(torch.eye(len(vectors), dtype=torch.float64))


# ----------------------------------------------------------------------------- curvature
class HessianOperator:
    """v -> H v for the loss at the model's current weights, by double backpropagation.

    Works in float64 where the device has it, so the eigenvalues are not limited
    by float32 round-off in the products."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 x: torch.Tensor, y: torch.Tensor):
        space = ParameterSpace(model)
        self.dtype = torch.float32 if space.device.type == "mps" else torch.float64
        buffers = {name: b.to(self.dtype) if b.is_floating_point() else b for name, b in space.buffers.items()}
        x = _onto(torch.as_tensor(x), space.device, self.dtype)
        y = torch.as_tensor(y).to(space.device)
        if y.is_floating_point():
            y = y.to(self.dtype)
        self.size = space.size
        self.theta = space.current(model).to(self.dtype).requires_grad_(True)
        model.eval()
        with torch.enable_grad():  # functional_call swaps in these float64 weights and buffers
            output = functional_call(model, (space.unflatten(self.theta), buffers), (x,))
            self.loss = loss_fn(output, y)
            (self.gradient,) = torch.autograd.grad(self.loss, self.theta, create_graph=True)
        self.products = 0

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        self.products += 1
        with torch.enable_grad():
            (product,) = torch.autograd.grad(self.gradient, self.theta, vector.to(self.dtype), retain_graph=True)
        return product.detach()


def lanczos_eigenvalues(hvp: Callable[[torch.Tensor], torch.Tensor], size: int, k: int = 3, steps: int | None = None,
                        generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                        dtype: torch.dtype = torch.float64) -> np.ndarray:
    """The k largest eigenvalues (descending) of a symmetric operator, by Lanczos with full
    reorthogonalization. With steps >= size they are exact up to round-off."""
    steps = min(size, steps or max(3 * k, 30))
    vector = _onto(torch.randn(size, generator=generator, dtype=torch.float64), device, dtype)
    vector /= vector.norm()
    basis = [vector]
    alphas, betas = [], []
    for _ in range(steps):
        w = hvp(basis[-1]).to(dtype)
        alpha = float(w @ basis[-1])
        if not math.isfinite(alpha):
            raise FloatingPointError("the loss is not finite around these weights, nor is its curvature")
        alphas.append(alpha)
        w = w - alpha * basis[-1] - (betas[-1] * basis[-2] if betas else 0.0)
        stacked = torch.stack(basis)
        for _ in range(2):  # twice is enough (Kahan, Parlett)
            w = w - stacked.T @ (stacked @ w)
        beta = float(w.norm())
        if len(alphas) == steps or beta <= 1e-10 * max(1.0, max(abs(a) for a in alphas)):
            break
        betas.append(beta)
        basis.append(w / beta)
    tridiagonal = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
    return np.sort(np.linalg.eigvalsh(tridiagonal))[::-1][:k]


def power_iteration_eigenvalues(hvp: Callable[[torch.Tensor], torch.Tensor], size: int, k: int = 1,
                                iterations: int = 150, tolerance: float = 1e-10,
                                generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                                dtype: torch.dtype = torch.float64) -> np.ndarray:
    """The k largest eigenvalues (descending) of a symmetric operator by power iteration.

    Plain power iteration finds the eigenvalue of largest magnitude ρ, which
    can be a negative one away from a minimum. So: first ρ, then power
    iteration on H + ρI (eigenvalues >= 0, the largest ones first) with a block
    of a few more vectors than wanted, orthonormalized and Rayleigh–Ritz
    rotated each round (subspace iteration): a lone vector would crawl where
    two eigenvalues are close."""

    def apply(block: torch.Tensor, shift: float) -> torch.Tensor:
        return torch.stack([hvp(v).to(dtype) + shift * v for v in block.T], dim=1)

    def iterate(width: int, shift: float) -> np.ndarray:
        block = _onto(torch.randn(size, width, generator=generator, dtype=torch.float64), device, dtype)
        block, _ = torch.linalg.qr(block)
        previous = None
        for _ in range(iterations):
            product = apply(block, shift)
            if not torch.isfinite(product).all():
                raise FloatingPointError("the loss is not finite around these weights, nor is its curvature")
            ritz, rotation = torch.linalg.eigh(block.T @ product)
            values = ritz.flip(0).cpu().numpy()
            block, _ = torch.linalg.qr(product @ rotation.flip(1))
            if previous is not None and np.all(np.abs(values[:k] - previous[:k])
                                               <= tolerance * max(1e-12, float(np.abs(values).max()))):
                break
            previous = values
        return values

    radius = abs(float(iterate(1, 0.0)[0]))
    width = min(size, k + 3)
    return iterate(width, radius)[:k] - radius


@dataclass(frozen=True)
class HessianSpectrum:
    eigenvalues: np.ndarray  # the top k, descending
    products: int  # Hessian-vector products it took
    method: str
    seconds: float = 0.0


def hessian_eigenvalues(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                        x: torch.Tensor, y: torch.Tensor, k: int = 3, method: str = "lanczos",
                        seed: int = 0) -> HessianSpectrum:
    """The top-k Hessian eigenvalues of the loss at the model's weights."""
    if method not in ("lanczos", "power"):
        raise ValueError(f"unknown method {method!r}: lanczos or power")
    started = time.perf_counter()
    limit_torch_threads()
    operator = HessianOperator(model, loss_fn, x, y)
    solver = lanczos_eigenvalues if method == "lanczos" else power_iteration_eigenvalues
    values = solver(operator, operator.size, k, generator=torch.Generator().manual_seed(seed),
                    device=operator.theta.device, dtype=operator.dtype)
    return HessianSpectrum(values, operator.products, method, time.perf_counter() - started)


STABILITY_RULES = {"sgd": "2/λmax", "momentum": "(2+2β)/λmax", "nesterov": "(2+2β)/((1+2β)λmax)"}


def stable_step_size(lambda_max: float, optimizer: str, momentum: float = 0.0) -> float | None:
    """The largest step size for which (momentum) gradient descent on the local quadratic converges.

    GD: 2/λ. Heavy-ball momentum β: (2 + 2β)/λ. Nesterov: (2 + 2β)/((1 + 2β)·λ)
    (Cohen et al. 2021, "Gradient descent on neural networks typically occurs at
    the edge of stability"). None for adaptive methods, whose step is preconditioned."""
    if not lambda_max > 0:
        return math.inf
    if optimizer == "sgd":
        return 2.0 / lambda_max
    if optimizer == "momentum":
        return (2.0 + 2.0 * momentum) / lambda_max
    if optimizer == "nesterov":
        return (2.0 + 2.0 * momentum) / ((1.0 + 2.0 * momentum) * lambda_max)
    return None


def step_size_verdict(lambda_max: float, optimizer: str, momentum: float, lr: float) -> tuple[float, str, str]:
    """(the step-size bound to set η against, its formula, a sentence saying where η stands)."""
    stable = stable_step_size(lambda_max, optimizer, momentum)
    if stable is None:
        return (stable_step_size(lambda_max, "sgd"), "2/λmax",
                f"{OPTIMIZERS.get(optimizer, optimizer)} rescales its steps, so this bound is for plain GD only.")
    rule = STABILITY_RULES[optimizer]
    if lr < stable:
        return stable, rule, f"η = {lr:.4g} is inside the stable range."
    return stable, rule, f"η = {lr:.4g} is **beyond** it: on this quadratic each step would overshoot and grow."


# ----------------------------------------------------------------------------- the playground's network
@dataclass
class PlaygroundLandscape:
    """Everything needed to draw the landscape of a playground network, rebuilt from a snapshot."""

    config: PlaygroundConfig
    dataset: Dataset
    model: PlaygroundNet
    data: dict[str, tuple[torch.Tensor, torch.Tensor]]
    loss_fn: BatchedLossFn
    space: ParameterSpace

    @classmethod
    def from_state(cls, config: PlaygroundConfig, state: Mapping[str, torch.Tensor], dataset: Dataset,
                   device: torch.device | str = "cpu") -> "PlaygroundLandscape":
        model = PlaygroundNet(config, n_outputs(config, dataset), torch.Generator())
        model.load_state_dict(state)
        model = model.to(device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        data = {"train": (torch.tensor(dataset.x_train, device=device), torch.tensor(dataset.y_train, device=device)),
                "test": (torch.tensor(dataset.x_test, device=device), torch.tensor(dataset.y_test, device=device))}
        return cls(config, dataset, model, data, batched_data_loss(config, dataset.task), ParameterSpace(model))

    @property
    def weights(self) -> torch.Tensor:
        return self.space.current(self.model)

    def evaluator(self, which: Sequence[str] = ("train", "test"), fused: bool = True) -> BatchedLoss:
        return batched_loss(self.model, self.loss_fn, {name: self.data[name] for name in which}, fused=fused)

    def hessian_eigenvalues(self, k: int = 3, method: str = "lanczos", seed: int = 0) -> HessianSpectrum:
        x, y = self.data["train"]
        return hessian_eigenvalues(self.model, self.loss_fn, x, y, k, method, seed)


# ----------------------------------------------------------------------------- what the page asks for
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
PRESETS: dict[str, tuple[str, PlaygroundConfig, dict]] = {
    "circle": ("Circle · 2-4-2-1 tanh · SGD η=0.1", PlaygroundConfig(), {"lr": 0.1}),
    "spiral_bn": ("Spiral · 3×8 ReLU + batch norm · Adam",
                  PlaygroundConfig(data=DataSpec(kind="spiral", noise=0.1), features=("x1", "x2", "sin_x1", "sin_x2"),
                                   hidden=(8, 8, 8), activations=("relu",) * 3, batch_norm=True, optimizer="adam"),
                  {"lr": 0.01}),
    "xor_momentum": ("XOR · 2-6-1 tanh · momentum",
                     PlaygroundConfig(data=DataSpec(kind="xor"), hidden=(6,), activations=("tanh",),
                                      optimizer="momentum"), {"lr": 0.03}),
}


@dataclass(frozen=True)
class LandscapeRequest:
    """One picture's settings: plain data, so it can key a cache."""

    directions: str = "filter"
    seed: int = 0
    span: float = 1.0  # ± grid half-width; for PCA in units of the trajectory's extent, for lines beyond 0 and 1
    resolution: int = 51
    one_dimensional: bool = False
    which: tuple[str, ...] = ("train",)

    def __post_init__(self) -> None:
        check_choice("direction kind", self.directions, DIRECTIONS)
        check("landscape.resolution", self.resolution)
        check("landscape.span", self.span)


@dataclass(frozen=True)
class PathOnPlane:
    """The recorded trajectory against the PCA plane it is drawn on."""

    steps: np.ndarray
    coordinates: np.ndarray  # (k, 2)
    true_loss: dict[str, np.ndarray]  # at the recorded weights
    plane_loss: dict[str, np.ndarray]  # at their projections onto the plane
    off_plane: np.ndarray  # distance from the plane


@dataclass(frozen=True)
class LandscapeView:
    alphas: np.ndarray
    betas: np.ndarray | None  # None for a line
    losses: dict[str, np.ndarray]  # (len(betas), len(alphas)) or (len(alphas),)
    axis_titles: tuple[str, str]
    marks: dict[str, float]  # points on a line worth labelling: {"current": 1.0, ...}
    path: PathOnPlane | None = None
    explained: np.ndarray | None = None
    seconds: float = 0.0


class NeedsTraining(ValueError):
    """The directions need a trajectory (or a pinned network) that is not there yet."""


def compute_view(land: PlaygroundLandscape, request: LandscapeRequest,
                 trajectory: tuple[Sequence[int], Sequence[np.ndarray]], current_step: int,
                 pinned: np.ndarray | None = None, progress: Progress | None = None) -> LandscapeView:
    """The surface (or line) that `request` asks for, around the network's current weights."""
    started = time.perf_counter()
    origin = land.weights
    current = origin.double().cpu().numpy()
    steps, vectors = stacked_trajectory(*trajectory, current, current_step)
    evaluator = land.evaluator(request.which)
    grid = np.linspace(-request.span, request.span, request.resolution)
    if request.directions in LINE_KINDS:
        start = vectors[0] if request.directions == "initial" else pinned
        if start is None:
            raise NeedsTraining("Pin a network first: press “Pin current weights”, train on, then compare.")
        if start.shape != current.shape:
            raise NeedsTraining("The pinned network has another architecture; pin the current one again.")
        if not np.any(start != current):
            raise NeedsTraining("The two weight vectors are the same: train a few steps first.")
        start_tensor = land.space.from_numpy(start)
        # about `resolution` points over [-span/2, 1 + span/2], with both ends of the segment on the grid
        per_unit = max(2, round((request.resolution - 1) / (1 + request.span)))
        beyond = round(request.span / 2 * per_unit)
        alphas = np.arange(-beyond, per_unit + beyond + 1) / per_unit
        losses = loss_surface(evaluator, start_tensor, [origin - start_tensor], alphas, progress=progress)
        name = "initial" if request.directions == "initial" else "pinned"
        return LandscapeView(alphas, None, losses, ("α: (1 − α)·start + α·current", "loss"),
                             {name: 0.0, "current": 1.0}, seconds=time.perf_counter() - started)
    path = explained = None
    if request.directions == "pca":
        if len(steps) < 3:
            raise NeedsTraining("PCA needs a training trajectory: train a few steps first.")
        plane = trajectory_pca(vectors, current)
        directions = [land.space.from_numpy(row) for row in plane.directions]
        extent = float(np.abs(plane.coordinates).max()) or 1e-3
        grid = grid * extent * 1.1
        explained = plane.explained
        titles = tuple(f"PC{i + 1} ({share:.1%} of the path)" for i, share in enumerate(explained))
        path = PathOnPlane(steps, plane.coordinates, loss_at(evaluator, vectors),
                           loss_in_plane(evaluator, origin, directions, plane.coordinates), plane.off_plane)
    else:
        generator = torch.Generator().manual_seed(request.seed)
        directions = [random_direction(land.model, request.directions, generator) for _ in range(2)]
        titles = (f"α · d₁ ({NORMALIZATIONS[request.directions]})", f"β · d₂ ({NORMALIZATIONS[request.directions]})")
    if request.one_dimensional:
        losses = loss_surface(evaluator, origin, directions[:1], grid, progress=progress)
        return LandscapeView(grid, None, losses, (titles[0], "loss"), {"current": 0.0}, path, explained,
                             time.perf_counter() - started)
    losses = loss_surface(evaluator, origin, directions, grid, grid, progress=progress)
    return LandscapeView(grid, grid, losses, titles, {"current": 0.0}, path, explained,
                         time.perf_counter() - started)
