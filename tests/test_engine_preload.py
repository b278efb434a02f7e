"""What a server or worker process does at its start (engine.preload): the garbage collector tuned for a server, and
the warm-up of the first jobs, each in a fresh interpreter."""

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


def test_the_first_words_jobs_find_their_corpora_made_by_the_warm_up():
    """What the Words page's default jobs make first (the word vectors' corpus and PPMI baseline, engine.words.
    vectors.corpus_and_baseline; the character model's text cut and counted, engine.words.charlm.
    corpus_and_baselines) is made by the warm-up thread: the jobs the page then starts, from the page's own spec,
    share those very arrays, and the word vectors' sets up faster than the warm-up took."""
    script = textwrap.dedent("""
        import time
        import engine.preload
        from engine.words.charlm import CharModelTrainer, corpus_and_baselines
        from engine.words.spec import CHARACTERS, VECTORS, WordsSpec
        from engine.words.vectors import WordVectorsTrainer, corpus_and_baseline
        started = time.perf_counter()
        engine.preload.warm_first_jobs().join()
        warm = time.perf_counter() - started
        made = corpus_and_baseline.cache_info().currsize, corpus_and_baselines.cache_info().currsize
        spec, refused = WordsSpec.from_query({"wd_part": VECTORS})  # the page opened on Word vectors
        started = time.perf_counter()
        trainer = WordVectorsTrainer(spec.config(), seed=spec.job_seed())
        setup = time.perf_counter() - started
        shared = trainer.tokens is corpus_and_baseline(spec.config(), spec.job_seed())[1]
        chars, chars_refused = WordsSpec.from_query({"wd_part": CHARACTERS})  # ... and on the character model
        model = CharModelTrainer(chars.config(), chars.hyperparameters(), seed=chars.job_seed())
        chars_shared = model.corpus is corpus_and_baselines(chars.config().source())[0]
        print(*made, corpus_and_baseline.cache_info().misses, corpus_and_baselines.cache_info().misses, shared,
              chars_shared, setup < warm / 2, not refused and not chars_refused)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,  # noqa: S603
                         timeout=120)  # (this Python, a fixed script)
    assert out.stdout.split() == ["1", "1", "1", "1", "True", "True", "True", "True"]
