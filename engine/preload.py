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

Once everything is imported, `tune_garbage_collector` sets Python's garbage collector for a long-running server.
"""

import gc
import importlib
import pkgutil
import threading

import sklearn.datasets  # noqa: F401 - the digits and sample photos (CNN, Diffusion) load through it
import torch._dynamo  # noqa: F401 - torch.optim's lazy import, see above

import engine

for _module in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(_module.name)


# Python's cyclic garbage collector, tuned for a server: the youngest objects are collected after 50,000
# allocations (Python's default: 700), so that most of what a page run or a training step makes and drops is freed
# by reference counting before a collection can promote it to an older generation, whose growth is what triggers
# full collections. Measured in the web server under a class of 40 (bench/classroom.py, 130 s tour): with the
# defaults, 20 full collections, each stopping every thread for 0.3-0.9 s (11 s in all; with the imports frozen alone,
# 32 of up to 0.5 s, 8 s), while clicks and their pages' messages waited; now 2-3 (1-1.5 s in all), and the young
# collections take 0.03-0.12 s each (1.4-1.7 s in all). Clicks' p95 in two interleaved pairs of runs: 5.2 and
# 4.4 s before, 3.4 and 2.3 s after.
YOUNG_COLLECTION_AFTER = 50_000


def tune_garbage_collector() -> None:
    """Called once a process has imported everything (ui.preload, a worker's start): what it has loaded so far
    (modules, their classes and tables: ~440,000 objects with torch, scikit-learn, Plotly and Streamlit) is
    exempt from the collector, which would otherwise walk it all in every full collection (0.2 s on a quiet
    machine), and the youngest generation is collected less often (see YOUNG_COLLECTION_AFTER)."""
    gc.collect()  # what is garbage now is freed, not kept for good
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, oldest)


def warm_first_jobs() -> threading.Thread:
    """Makes, in a background thread, what a process's first jobs of the Words page would otherwise make while
    their users wait: the default template corpus and its PPMI + SVD baseline for the word vectors (0.35 s in a new
    quiet process, the background text counted; a trainer on it then sets up in 0.02 s), and tiny Shakespeare cut
    and counted for the character model (0.05-0.3 s, more while a browser loads the page beside it).
    Kept per process (`engine.words.vectors.corpus_and_baseline`, `engine.words.charlm.corpus_and_baselines`), so
    call it where the jobs train: the web server with jobs in threads (ui.preload), each worker process
    (engine.runtime.processes). The other pages' first jobs cost their users no more than later ones."""
    from engine.words.charlm import CharModelConfig, corpus_and_baselines
    from engine.words.spec import VECTORS, WordsSpec
    from engine.words.vectors import WordVectorsTrainer, corpus_and_baseline

    def warm() -> None:
        # The corpora first, outside the trainer: every trainer's setup holds one lock (engine.runtime.trainer,
        # for torch's global generator), and a server's first session's Playground job waited for this thread's
        # corpus under it (its trainer made in 0.28-0.33 s beside this thread, 0.11-0.15 s now).
        spec = WordsSpec(part=VECTORS)
        corpus_and_baseline(spec.config(), spec.job_seed())
        corpus_and_baselines(CharModelConfig().source())
        WordVectorsTrainer(spec.config(), seed=spec.job_seed())

    thread = threading.Thread(target=warm, name="warm-first-jobs", daemon=True)
    thread.start()
    return thread
