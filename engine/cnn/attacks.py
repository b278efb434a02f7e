"""Input sensitivity and adversarial examples on the page's own networks.

FGSM (Goodfellow et al. 2015) moves every pixel by eps in the direction that *increases* the loss:

    x' = clip(x + eps · sign(∇_x L(f(x), y)), 0, 1)

(course note 004 writes a minus there, which would make the example easier, not harder). BIM / PGD (Kurakin
et al. 2017, Madry et al. 2018) takes `steps` such steps of eps/4 each, projecting back into the eps-box around
x after each one. Images live in [0, 1]; eps is given in those units (the page converts grey levels).
"""

from __future__ import annotations

import torch
from torch import nn

ATTACKS = ("fgsm", "bim")
ATTACK_LABELS = {"fgsm": "FGSM (one step)", "bim": "BIM / PGD (10 steps)"}
BIM_STEPS = 10


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇_x of the summed cross-entropy (each example's gradient is its own loss's: the sum keeps them apart)."""
    x = x.detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def saliency(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|∂L/∂x| per pixel: how much each pixel's change would change the loss."""
    return _input_gradient(model, x, y).abs()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    return (x + eps * _input_gradient(model, x, y).sign()).clamp(0, 1).detach()


def bim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = BIM_STEPS) -> torch.Tensor:
    step = eps / 4
    adversarial = x.detach()
    for _ in range(steps):
        adversarial = adversarial + step * _input_gradient(model, adversarial, y).sign()
        adversarial = torch.min(torch.max(adversarial, x - eps), x + eps).clamp(0, 1).detach()
    return adversarial


def attack(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """The adversarial examples of `name` ("fgsm" or "bim") at eps, with the model in evaluation mode (batch
    norm uses its running statistics, so one example's attack does not depend on the others)."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    was_training = model.training
    model.eval()
    try:
        if eps == 0:
            return x.detach().clone()
        return fgsm(model, x, y, eps) if name == "fgsm" else bim(model, x, y, eps)
    finally:
        model.train(was_training)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    was_training = model.training
    model.eval()
    try:
        return float((model(x).argmax(dim=1) == y).float().mean())
    finally:
        model.train(was_training)


def accuracy_under_attack(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                          eps_grid: torch.Tensor | list[float]) -> list[float]:
    """Held-out accuracy on each eps's adversarial examples (white box: the attack uses this model's gradient)."""
    return [accuracy(model, attack(name, model, x, y, float(eps)), y) for eps in eps_grid]
