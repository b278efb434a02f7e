"""Which device trains: CUDA, then Apple MPS, then CPU, unless forced to CPU."""

from __future__ import annotations

import ctypes
import os
import sys

import torch
from threadpoolctl import ThreadpoolController


def pick_device(force_cpu: bool = False) -> torch.device:
    """The best device this machine has. `GRADSCAPE_FORCE_CPU=1` forces CPU server-wide."""
    if force_cpu or os.environ.get("GRADSCAPE_FORCE_CPU") == "1":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """A label for people: 'CUDA GPU: NVIDIA H100', 'Apple MPS', 'CPU (2 threads per job)'."""
    if device.type == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS (Metal GPU)"
    return f"CPU ({torch_threads_per_job()} torch thread(s) per job)"


def torch_threads_per_job() -> int:
    """Intra-op threads each training thread may use, so that a class of 30 shares a server fairly.

    Small networks gain nothing from more threads (their steps are dominated by
    per-op overhead), so the default is 1; `GRADSCAPE_TORCH_THREADS` overrides it.
    """
    try:
        return max(1, int(os.environ.get("GRADSCAPE_TORCH_THREADS", "1")))
    except ValueError:
        return 1


def limit_threads() -> None:
    """Give the calling thread as many intra-op threads as a training job gets, in torch and in NumPy's BLAS.

    OpenMP's thread count is per thread, and a web server runs each script in a
    fresh thread that starts with every core: a small Hessian there took 3 s
    instead of 20 ms, and crowded out other sessions' jobs. So every thread that
    runs torch calls this first (job threads, each script run, each live refresh).
    NumPy's and SciPy's OpenBLAS pool is one for the process and starts with every
    core too: an SVD of 60 × 5,000 word vectors took 0.5-1.9 s on two busy cores with
    two BLAS threads and 0.03-0.08 s with one, so it gets the same count (~0.01 ms a call: the
    libraries are found once, _blas_libraries).
    """
    torch.set_num_threads(torch_threads_per_job())
    _blas_libraries().limit(limits=torch_threads_per_job())


def name_os_thread(name: str) -> None:
    """Gives the calling thread `name` in the operating system too (its first 15 bytes, Linux's limit), where
    `top -H`, py-spy and /proc/<pid>/task/*/comm show which threads are training (Python 3.14 does this itself
    for every thread; 3.11 and 3.12 do not)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # 15: PR_SET_NAME


_blas: tuple[int, ThreadpoolController | None] = (-1, None)  # (len(sys.modules) at the scan, its BLAS libraries)


def _blas_libraries() -> ThreadpoolController:
    """The process's BLAS libraries. threadpoolctl finds them by walking every loaded shared library (2-15 ms in a
    web server; limit_threads runs at every page run and live refresh), and a new one arrives only with an import,
    so the walk is redone only when modules were imported since the last."""
    global _blas
    modules, controller = _blas
    if controller is None or modules != len(sys.modules):
        modules = len(sys.modules)  # (read before the walk: an import during it is caught next time)
        controller = ThreadpoolController().select(user_api="blas")
        _blas = modules, controller
    return controller
