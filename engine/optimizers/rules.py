"""The optimizers torch lacks, written as `torch.optim.Optimizer` subclasses so they run exactly like
torch's own: `Newton` (with Levenberg damping) and Fahlman's `Quickprop`."""

from __future__ import annotations

from typing import Callable

import torch


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
