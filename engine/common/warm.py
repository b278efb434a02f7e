"""What the engine imports or loads only when it is first used, done once when a process starts.

The web server (ui.preload) and every worker process (engine.runtime.processes) call `warm_up` before they
serve anyone. Without it the first job of a kind in a process paid for it: the first VAE built in a fresh worker
took 3.2 s on this 2-core machine (scikit-learn's import and its digits 1.7 s, torch.optim's lazy import of
torch._dynamo ~1.5 s), and in a class every student who pressed Train on that page waited behind it (the
classroom bench's Train tail on the Generative models page). One thread imports the whole tree, before any
other thread imports anything: see ui.preload for the crashes that concurrent imports of one tree caused.
"""

import importlib
import pkgutil


def warm_up() -> None:
    import sklearn.datasets  # noqa: F401 - ~2 s: the digits and sample photos (CNN, Diffusion, VAE) load through it
    import torch._dynamo  # noqa: F401 - torch.optim imports it when a process builds its first optimizer

    import torch

    import engine

    for module in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(module.name)
    from engine.cnn.data import load_digits
    load_digits(torch.Generator())  # the files are read once per process (cached), for every page on the digits
