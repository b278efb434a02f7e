"""limit_threads: every thread that runs torch gets a training job's thread count, in torch and in BLAS."""

from __future__ import annotations

import threading

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from engine.common.device import limit_threads, torch_threads_per_job


def test_limit_threads_sets_every_blas_library_again_after_someone_changed_it():
    want = torch_threads_per_job()
    limit_threads()  # (the libraries found once)
    threadpool_limits(want + 1, user_api="blas")  # a library changed behind our back
    limit_threads()
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]  # a fresh scan: the oracle
    assert blas and all(lib["num_threads"] == want for lib in blas), blas


def test_limit_threads_gives_a_fresh_thread_the_job_count_in_torch():
    seen = []

    def script_run():  # as a web server's new script thread: it starts with every core
        limit_threads()
        seen.append(torch.get_num_threads())

    thread = threading.Thread(target=script_run)
    thread.start()
    thread.join()
    assert seen == [torch_threads_per_job()]
