"""The oracle for the hand-written backward pass: the same network and loss in torch, each example's δ (∂L/∂a of
every layer) and ∂L/∂W from autograd, float64. Tests and bench/backprop.py compare against it."""

from __future__ import annotations

import numpy as np
import torch

from engine.backprop.network import Architecture

TORCH_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda a: a}


def autograd_pass(arch: Architecture, flat, x: np.ndarray, y: np.ndarray) -> tuple[list, list]:
    """(per example: [δ of each layer], per example: [∂L/∂W of each layer]) for each example's own loss."""
    params = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in arch.unpack(flat)]
    deltas, weight_grads = [], []
    for n in range(len(y)):
        z = torch.tensor(np.asarray(x)[n:n + 1], dtype=torch.float64)
        pre = []
        for index, (w, b) in enumerate(params):
            a = z @ w.T + b
            a.retain_grad()
            pre.append(a)
            z = a if index == len(params) - 1 else TORCH_ACTIVATIONS[arch.activation](a)
        target = torch.tensor([float(y[n])], dtype=torch.float64)
        if arch.loss == "bce":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(pre[-1][:, 0], target)
        else:
            loss = 0.5 * (pre[-1][:, 0] - target).pow(2).sum()
        for w, b in params:
            w.grad = b.grad = None
        loss.backward()
        deltas.append([a.grad[0].numpy().copy() for a in pre])
        weight_grads.append([w.grad.numpy().copy() for w, _ in params])
    return deltas, weight_grads
