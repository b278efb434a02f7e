"""The loss of one network at many weight vectors at once.

Every point of a surface is a linear combination of a few basis vectors, so grids, lines and arbitrary
weight vectors all go through one evaluator, `BatchedLoss`, that evaluates chunks of points at once with
one host transfer per chunk. For a `PlaygroundNet` a fused evaluator exploits that the first layer's
pre-activation is affine in the coefficients (computed once per basis vector, combined by one small matrix
product per chunk); any other module goes through `torch.func.functional_call` + `vmap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from engine.common.device import limit_threads
from engine.landscape.directions import ParameterSpace, onto
from engine.playground.config import PlaygroundConfig
from engine.playground.model import PlaygroundNet

# Bytes of activations one chunk of grid points may hold on a CPU: about half a
# core's L2 cache, so each elementwise pass reads what the previous one wrote
# from cache instead of from memory.
CPU_CHUNK_BYTES = 1 << 19
GPU_CHUNK_BYTES = 1 << 28

# (output, target) -> per-point loss, for outputs with leading batch dimensions:
# (..., n, classes) -> (...).
BatchedLossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int], object]


class Cancelled(Exception):
    """A progress callback asked the evaluation to stop."""


def _softplus(z: torch.Tensor) -> torch.Tensor:
    # torch's default switches to z at z > 20, an error of e⁻²⁰ ≈ 2e-9 that float64 would notice.
    return F.softplus(z, threshold=50.0)


def batched_data_loss(config: PlaygroundConfig, task: str) -> BatchedLossFn:
    """`engine.playground.model.data_loss` for a batch of outputs (..., n, classes) -> (...).

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
        self.basis = onto(basis, self.device, self.space.dtype)

    def __call__(self, coefficients: torch.Tensor, progress: Progress | None = None) -> dict[str, np.ndarray]:
        """Loss at each row of `coefficients` (p, m): {name: (p,)}. `progress(done, total)` is called
        after each chunk; if it returns False the evaluation stops with `Cancelled`."""
        limit_threads()
        coefficients = onto(torch.as_tensor(coefficients), self.device, self.space.dtype)
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
    vectors = onto(torch.as_tensor(np.asarray(vectors)), evaluator.device, evaluator.space.dtype)
    evaluator.set_basis(vectors)
    return evaluator(torch.eye(len(vectors), dtype=torch.float64))
