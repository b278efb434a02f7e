"""The optimizers the training pages offer: one table of names and labels, and the one function that builds
torch's optimizer for a name. (The Optimizers page's 2-D race has its own table, engine.optimizers, because
there each optimizer also carries its update rule and step-size theory.)"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch

OPTIMIZERS = {
    "sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov", "adagrad": "Adagrad",
    "rmsprop": "RMSProp", "adam": "Adam", "adamw": "AdamW", "rprop": "RProp", "perceptron": "Perceptron rule",
}
DEFAULT_MOMENTUM = 0.9
RMSPROP_ALPHA = 0.99  # torch's default decay of RMSProp's average of g² (course note 000 gives 0.9): pages say which


def make_optimizer(name: str, parameters: Iterable[torch.nn.Parameter],
                   hyperparameters: Mapping[str, Any]) -> torch.optim.Optimizer | None:
    """torch's optimizer `name` over `parameters`, with lr (and momentum, and the L2 rate as AdamW's decoupled
    weight decay) from `hyperparameters`. The perceptron rule has none: its update is written out by hand."""
    lr = hyperparameters["lr"]
    momentum = hyperparameters.get("momentum", DEFAULT_MOMENTUM)
    return {
        "perceptron": lambda: None,
        "sgd": lambda: torch.optim.SGD(parameters, lr=lr),
        "momentum": lambda: torch.optim.SGD(parameters, lr=lr, momentum=momentum),
        "nesterov": lambda: torch.optim.SGD(parameters, lr=lr, momentum=momentum, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad(parameters, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(parameters, lr=lr, alpha=RMSPROP_ALPHA),
        "adam": lambda: torch.optim.Adam(parameters, lr=lr),
        "adamw": lambda: torch.optim.AdamW(parameters, lr=lr, weight_decay=hyperparameters.get("l2", 0.0)),
        "rprop": lambda: torch.optim.Rprop(parameters, lr=lr),
    }[name]()
