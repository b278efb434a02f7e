"""The garbage collector of a server process (engine.preload.tune_garbage_collector), in a fresh interpreter."""

import subprocess
import sys
import textwrap

from engine.preload import YOUNG_COLLECTION_AFTER


def test_tuned_collector_skips_the_imports_and_still_frees_later_cycles():
    script = textwrap.dedent("""
        import gc, weakref
        import engine.preload
        loaded = len(gc.get_objects())
        engine.preload.tune_garbage_collector()
        print(gc.get_freeze_count() >= loaded // 2, len(gc.get_objects()) < loaded // 10, gc.get_threshold()[0])

        class Node:
            pass
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after the freeze: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(gone() is None)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,  # noqa: S603
                         timeout=120)  # (this Python, a fixed script)
    frozen, few_left, young, freed = out.stdout.split()
    assert (frozen, few_left, young, freed) == ("True", "True", str(YOUNG_COLLECTION_AFTER), "True")
