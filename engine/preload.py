"""Every engine module, and what torch and scikit-learn import only when first used, imported when a process
starts: the web server (ui.preload, before any page runs) and each training worker (engine.runtime.processes,
before it takes a request).

Two reasons. Threads that import modules which import each other, in different orders, can get a
half-initialized module from Python's import deadlock avoidance: a class's first page loads crashed that way in
the server, and a worker creates each job in a thread of its own (forty students opening the CNN page at once).
And the lazy imports are slow: torch.optim imports torch._dynamo (~1.3 s on a 2-core machine) when a process
builds its first optimizer, and the CNN and Diffusion pages load scikit-learn's digits through sklearn.datasets
(~1.2 s). In a worker those imports took the interpreter from every job it trained: its first CNN job took
2.6 s to set up, 0.03 s once they are done at the start. They also start threads a process then keeps for good
(pyarrow's allocator, imported through scikit-learn), which a worker now has from its start.
"""

import importlib
import pkgutil

import sklearn.datasets  # noqa: F401 - the digits and sample photos (CNN, Diffusion) load through it
import torch._dynamo  # noqa: F401 - torch.optim's lazy import, see above

import engine

for _module in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(_module.name)
