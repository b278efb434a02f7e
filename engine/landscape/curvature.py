"""Curvature: the top Hessian eigenvalues of the loss at a network's weights, from Hessian-vector products
(double backpropagation), by Lanczos or power iteration."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from engine.common.device import limit_threads
from engine.landscape.directions import ParameterSpace, onto


class HessianOperator:
    """v -> H v for the loss at the model's current weights, by double backpropagation.

    Works in float64 where the device has it, so the eigenvalues are not limited
    by float32 round-off in the products."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 x: torch.Tensor, y: torch.Tensor):
        space = ParameterSpace(model)
        self.dtype = torch.float32 if space.device.type == "mps" else torch.float64
        buffers = {name: b.to(self.dtype) if b.is_floating_point() else b for name, b in space.buffers.items()}
        x = onto(torch.as_tensor(x), space.device, self.dtype)
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
    vector = onto(torch.randn(size, generator=generator, dtype=torch.float64), device, dtype)
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
        block = onto(torch.randn(size, width, generator=generator, dtype=torch.float64), device, dtype)
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
    limit_threads()
    operator = HessianOperator(model, loss_fn, x, y)
    solver = lanczos_eigenvalues if method == "lanczos" else power_iteration_eigenvalues
    values = solver(operator, operator.size, k, generator=torch.Generator().manual_seed(seed),
                    device=operator.theta.device, dtype=operator.dtype)
    return HessianSpectrum(values, operator.products, method, time.perf_counter() - started)
