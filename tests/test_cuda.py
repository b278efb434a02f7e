"""Every experiment that trains a network trains it on the GPU when there is one: its model and data on CUDA,
its losses those the CPU gets (to float tolerance: cuDNN and cuBLAS sum in other orders, and convolutions use
TF32), its visuals observed from the GPU's model, and a job reporting the GPU. Skipped where torch sees no CUDA
(this project's test machine); run on a machine with an NVIDIA GPU and PyTorch's CUDA build."""

from __future__ import annotations

import math

import pytest
import torch

from engine.attention.job import AttentionJob
from engine.attention.spec import AttentionSpec
from engine.cnn.spec import CnnSpec
from engine.cnn.trainer import CnnJob
from engine.diffusion.job import DiffusionJob
from engine.diffusion.spec import DiffusionSpec
from engine.generalization.mlp import MlpJob
from engine.generalization.spec import GeneralizationSpec
from engine.generative.gan_trainer import GanJob
from engine.generative.spec import GenerativeSpec
from engine.generative.vae_trainer import VaeJob
from engine.gradients.deep_trainer import DeepJob
from engine.gradients.recurrent_trainer import RecurrentJob
from engine.gradients.spec import DEEP, TIME, GradientsSpec
from engine.playground.spec import PlaygroundSpec
from engine.playground.trainer import PlaygroundJob
from engine.runtime.trainer import train
from engine.words.charlm import CharModelJob
from engine.words.spec import CHARACTERS, WordsSpec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

STEPS = 5
# Each page's default experiment and the job that trains it (the page's own pairing, app_pages/*).
EXPERIMENTS = {
    "playground": (PlaygroundJob, PlaygroundSpec()),
    "gradients-deep": (DeepJob, GradientsSpec(mode=DEEP)),
    "gradients-time": (RecurrentJob, GradientsSpec(mode=TIME)),
    "cnn": (CnnJob, CnnSpec()),
    "generalization": (MlpJob, GeneralizationSpec()),
    "vae": (VaeJob, GenerativeSpec(model="VAE")),
    "gan": (GanJob, GenerativeSpec(model="GAN")),
    # (Word vectors stay on the CPU by design: a step gathers and adds back a few thousand rows.)
    "char-model": (CharModelJob, WordsSpec(part=CHARACTERS)),
    "attention": (AttentionJob, AttentionSpec()),
    "diffusion": (DiffusionJob, DiffusionSpec()),
}


def _modules(trainer) -> list[torch.nn.Module]:
    """The networks a trainer holds: as attributes, or in a dict or list of them (a model beside its baseline)."""
    found = []
    for value in vars(trainer).values():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        found += [v for v in values if isinstance(v, torch.nn.Module)]
    return found


def _trained(job_type, spec, device: str):
    torch.manual_seed(spec.job_seed())  # as a job seeds torch's global generator before it builds the trainer
    trainer = job_type.trainer_type(spec.config(), spec.hyperparameters(), seed=spec.job_seed(), device=device)
    return trainer, train(trainer, STEPS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_trainer_trains_on_cuda_as_on_the_cpu(name):
    job_type, spec = EXPERIMENTS[name]
    cpu, cpu_metrics = _trained(job_type, spec, "cpu")
    gpu, gpu_metrics = _trained(job_type, spec, "cuda")
    parameters = [p for module in _modules(gpu) for p in module.parameters()]
    assert parameters and all(p.device.type == "cuda" for p in parameters), name
    assert len(gpu_metrics) == len(cpu_metrics) == STEPS
    # The first step's metrics are the initial model's (the same weights: the seeded generators are the CPU's).
    assert gpu_metrics[0].keys() == cpu_metrics[0].keys()
    for key, value in cpu_metrics[0].items():
        torch.testing.assert_close(torch.tensor(gpu_metrics[0][key]), torch.tensor(value), rtol=1e-3, atol=1e-4,
                                   msg=lambda text, key=key: f"{name} {key}: {text}")
    assert all(math.isfinite(value) for metrics in gpu_metrics for value in metrics.values()), gpu_metrics
    with torch.no_grad():
        assert gpu.observe() is not None or cpu.observe() is None, f"{name}: no visuals from the GPU's model"


@pytest.mark.parametrize("name", ["playground", "char-model", "diffusion"])
def test_a_job_picks_the_gpu_and_says_so(name):
    job_type, spec = EXPERIMENTS[name]
    job = job_type(spec.config(), spec.hyperparameters(), seed=spec.job_seed())
    try:
        assert job.device.type == "cuda"
        job.wait_applied(job.step(3))
        snapshot = job.wait_for(lambda s: s.step == 3 and not s.busy and s.visuals is not None, timeout=120)
        assert snapshot.status.name in ("PAUSED", "READY"), snapshot.message
        assert "cuda" in snapshot.device.lower() or "gpu" in snapshot.device.lower(), snapshot.device
    finally:
        job.stop()


def test_the_gpu_worker_trains_every_gpu_job_and_the_cpu_workers_see_no_gpu():
    """With worker processes (issue 16), the GPU belongs to one extra worker: a job that may use it trains there,
    a job kept on the CPU trains in a CPU worker, whose process is started with no GPU visible."""
    from engine.runtime.processes import ProcessHost

    job_type, spec = EXPERIMENTS["playground"]
    host = ProcessHost(2)
    jobs = []
    try:
        assert host.accelerator_worker is not None and "GPU" in host.description
        on_gpu = host.start(job_type, spec.config(), spec.hyperparameters(), seed=spec.job_seed())
        on_cpu = host.start(job_type, spec.config(), spec.hyperparameters(), seed=spec.job_seed(), force_cpu=True)
        jobs = [on_gpu, on_cpu]
        for job in jobs:
            job.wait_applied(job.step(3))
        gpu_snap = on_gpu.wait_for(lambda s: s.step == 3 and not s.busy, timeout=120)
        cpu_snap = on_cpu.wait_for(lambda s: s.step == 3 and not s.busy, timeout=120)
        assert on_gpu.where == "the GPU worker", on_gpu.where
        assert "CPU" in on_cpu.where, on_cpu.where
        assert "cuda" in gpu_snap.device.lower() or "gpu" in gpu_snap.device.lower(), gpu_snap.device
        assert "cuda" not in cpu_snap.device.lower() and "gpu" not in cpu_snap.device.lower(), cpu_snap.device
        with open(f"/proc/{host.workers[0].process.pid}/environ", "rb") as environ:
            assert b"CUDA_VISIBLE_DEVICES=\x00" in environ.read() + b"\x00"
    finally:
        for job in jobs:
            job.stop()
        host.shutdown()
