"""Every module a page uses, imported before any page runs: app.py imports this module first.

Streamlit runs each session's script in a thread of its own, and a class opens pages at the same
moment. Two threads that import modules which import each other, in different orders, can make
Python hand one of them a half-initialized module (its import deadlock avoidance), and Plotly looks
up optional modules such as pandas in sys.modules without waiting for an import under way. Both
crashed first page loads of a class ("partially initialized module 'pandas' has no attribute
'Series'", "cannot import name 'Charts' from 'ui.exports'"). This module's own import lock lets one
thread import the whole tree while the sessions that arrive with it wait.

It also imports what torch and scikit-learn import only when first used (engine.preload says what and
why): a server pays that once, at its start, instead of the first user who opens a training page.
"""

import contextlib
import importlib
import pkgutil

import pandas  # noqa: F401 - Plotly uses it when it is in sys.modules: it must be whole by then
import PIL.Image  # noqa: F401 - likewise

with contextlib.suppress(ImportError):  # Streamlit's emoji table (a ~1 s regex), imported at the first widget
    import streamlit.emojis  # noqa: F401 - whose label or icon is not plain ASCII (the Playground's x₁, x₂)

import engine.preload  # every engine module, and torch's and scikit-learn's lazy imports
import ui
import viz

for _package in (viz, ui):
    for _module in pkgutil.walk_packages(_package.__path__, f"{_package.__name__}."):
        importlib.import_module(_module.name)

# The Words page's merges on tiny Shakespeare (~1 s), learned in the background now, not when a class opens it.
import threading  # noqa: E402 - after the tree, as everything else here

from engine.words.bpe import MOST_MERGES, learned_on_bundled  # noqa: E402

threading.Thread(target=learned_on_bundled, args=("shakespeare", MOST_MERGES), name="learn-bpe", daemon=True).start()

# Where jobs train (engine.runtime.hosts): a pool of worker processes starts now, not at the first Train.
from engine.runtime.hosts import current_host  # noqa: E402 - after the tree, as everything else here

with contextlib.suppress(ValueError, RuntimeError):  # a wrong setting: app.py says so on the page
    if current_host().name == "threads":  # jobs train in this process: its first word vectors are made now
        engine.preload.warm_first_jobs()

# Last: everything above stays for the server's life, and the garbage collector need not walk it again.
engine.preload.tune_garbage_collector()
