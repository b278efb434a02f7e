"""The GAN tab's experiment as a plain trainer: a generator and a discriminator MLP playing the game on a 2-D
point distribution, with everything the page shows about them (D's heatmap, G's warp of a latent grid, the
generator's gradient on its points, mode coverage).

One training step = `d_steps` discriminator updates, then one generator update. "Step D" and "Step G" ask for
the next step to update only that network (`one_part`, a one-shot request the trainer consumes).
A bench or a test drives it with `engine.runtime.train`; a live `GanJob` runs it in its thread.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.common.layers import relu_mlp
from engine.common.limits import ConfigError, check, check_choice
from engine.common.seeding import stream
from engine.generative.coverage import SAMPLES, Coverage, mode_coverage
from engine.generative.data import POINT_SETS, PointSet
from engine.generative.gan import LOSSES, discriminator_loss, generator_loss, probability_real
from engine.runtime import Job, Trainer

INITIAL_SPREAD = 0.02  # G's first points lie this close to one point (start_as_a_point)
PROBE = 2000  # noise samples that measure G's initial spread
AVERAGE_DECAY = 0.99  # G's weights are averaged over its last ~100 updates (Yazici et al. 2019)
LATENT = 2  # two latent dimensions, so the page can draw G's image of the latent plane
BETAS = (0.5, 0.999)  # Adam's momentum lowered, as in DCGAN: a game's gradients turn, a long memory overshoots
HEATMAP_CELLS = 64  # D(x) is drawn on a 64 x 64 grid
POINTS_SHOWN = 600
ARROWS_SHOWN = 60
WARP_LINES = 13  # latent grid lines per direction, over [-WARP_EXTENT, WARP_EXTENT]
WARP_EXTENT = 3.0
WARP_POINTS = 48  # points along each line
PARTS = ("d", "g")
FILM_FRAMES = 96  # the GIF export's frames: the film keeps at most this many, evenly spaced over the run
FILM_POINTS = 300
FILM_CELLS = 40


@dataclass(frozen=True)
class GanConfig:
    """The data, the loss, and both networks' shapes (a change restarts training from the seed)."""

    data: str = "ring"
    word: str = "GAN"
    loss: str = "non_saturating"
    g_width: int = 128
    g_depth: int = 3
    d_width: int = 128
    d_depth: int = 3

    def __post_init__(self) -> None:
        check_choice("data set", self.data, POINT_SETS)
        check_choice("loss", self.loss, LOSSES)
        for name in ("g_width", "d_width"):
            check("gan.width", getattr(self, name))
        for name in ("g_depth", "d_depth"):
            check("gan.depth", getattr(self, name))
        try:
            PointSet(self.data, self.word)
        except ValueError as error:
            raise ConfigError(str(error)) from error


DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lr_g": 1e-3, "lr_d": 2.5e-3, "batch_size": 256, "d_steps": 1,
    "smoothing": 0.0,  # one-sided: real points' target 1 - smoothing
    "one_part": None,  # "d" or "g": the next step updates only that network (Step D / Step G)
}


def check_hyperparameters(hp: dict[str, Any]) -> None:
    for name in ("lr_g", "lr_d"):
        if name in hp:
            check("gan.lr", hp[name])
    if "batch_size" in hp:
        check("gan.batch_size", hp["batch_size"])
    if "d_steps" in hp:
        check("gan.d_steps", hp["d_steps"])
    if "smoothing" in hp:
        check("gan.smoothing", hp["smoothing"])
    if hp.get("one_part") is not None:
        check_choice("network to step", hp["one_part"], PARTS)


@dataclass(frozen=True)
class GanVisuals:
    """What the GAN tab draws, as NumPy arrays (points in the data's own coordinates)."""

    extent: float  # the square [-extent, extent]² the page draws
    real: np.ndarray  # (n, 2) fresh data points
    fake: np.ndarray  # (n, 2) G(z) for a fixed z
    arrows: np.ndarray  # (m, 2) for the first m fake points: -∂(G's loss)/∂x, where G wants them to go
    heatmap: np.ndarray  # (cells, cells) D(x) over the square, row = y
    warp: np.ndarray  # (2, lines, points, 2): G's image of the latent grid's horizontal and vertical lines
    centres: np.ndarray | None  # a mixture's modes
    coverage: Coverage | None
    loss: str
    film: tuple[Frame, ...]  # the run so far, for the GIF export


@dataclass(frozen=True)
class Frame:
    """One frame of a run's film: D(x) on a coarse grid and some generated points, at one step."""

    step: int
    heatmap: np.ndarray  # (FILM_CELLS, FILM_CELLS) float16
    fake: np.ndarray  # (FILM_POINTS, 2) float16


def start_as_a_point(generator: torch.nn.Sequential, probe: torch.Tensor) -> None:
    """Scale G's last layer so that it maps all the noise to within about INITIAL_SPREAD of the origin.

    G then starts fully collapsed, the same for every loss, and the game must spread it: the non-saturating
    loss's gradient does (it is strongest where D rejects most surely), the minimax loss's fades exactly there.
    """
    last = generator[-1]
    with torch.no_grad():
        spread = float(generator(probe).std(dim=0).mean())
        last.weight.mul_(INITIAL_SPREAD / spread)
        last.bias.zero_()


class GanTrainer(Trainer):
    DEFAULT_HYPERPARAMETERS = DEFAULT_HYPERPARAMETERS

    def setup(self) -> None:
        config: GanConfig = self.config
        self.points = PointSet(config.data, config.word)
        weights = stream(self.seed, "weights")
        with torch.random.fork_rng(devices=[]):  # nn.Linear draws from torch's global generator
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=weights)))
            self.generator = relu_mlp(LATENT, config.g_width, config.g_depth, 2).to(self.device)
            self.discriminator = relu_mlp(2, config.d_width, config.d_depth, 1).to(self.device)
        start_as_a_point(self.generator, torch.randn(PROBE, LATENT, generator=weights).to(self.device))
        # What the page draws and measures: G's weights averaged over its last ~1/(1 - AVERAGE_DECAY) updates.
        self.averaged = copy.deepcopy(self.generator).requires_grad_(False)
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=self.hp["lr_g"], betas=BETAS)
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.hp["lr_d"], betas=BETAS)
        self.rng = stream(self.seed, "batches")
        self.measure_rng = stream(self.seed, "measure")
        shown = stream(self.seed, "shown")
        self.shown_z = torch.randn(POINTS_SHOWN, LATENT, generator=shown).to(self.device)
        self.shown_real = self.points.draw(POINTS_SHOWN, shown)
        self.film: list[Frame] = []
        self._measured: tuple[int, Coverage | None] = (-1, None)  # (step, coverage) of the last evaluate
        self.film_every = 1  # steps between frames: doubled (and every other frame dropped) when the film is full
        self.apply_hyperparameters(self.hp)
        self._record(0)

    CHECKPOINTED = ("generator", "discriminator", "averaged", "g_optimizer", "d_optimizer", "rng", "measure_rng",
                    "film_every")

    def state(self) -> dict[str, Any]:
        # The film's frames never change once recorded (read-only arrays): checkpoints share them, uncopied.
        return {**super().state(), "film": tuple((frame.step, frame.heatmap, frame.fake) for frame in self.film)}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.film = [Frame(*frame) for frame in state["film"]]
        self._measured = (-1, None)  # of other weights

    def apply_hyperparameters(self, changes: dict[str, Any]) -> None:
        check_hyperparameters(changes)
        for name, optimizer in (("lr_g", self.g_optimizer), ("lr_d", self.d_optimizer)):
            if name in changes:
                for group in optimizer.param_groups:
                    group["lr"] = float(changes[name])

    # ------------------------------------------------------------- training
    def _latent(self, n: int) -> torch.Tensor:
        return torch.randn(n, LATENT, generator=self.rng).to(self.device)

    def train_step(self) -> dict[str, float]:
        part, self.hp["one_part"] = self.hp.get("one_part"), None  # a one-shot request
        batch, loss = int(self.hp["batch_size"]), self.config.loss
        metrics: dict[str, float] = {}
        if part != "g":
            for _ in range(1 if part == "d" else int(self.hp["d_steps"])):
                real = self.points.draw(batch, self.rng).to(self.device)
                with torch.no_grad():
                    fake = self.generator(self._latent(batch))
                real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
                d_loss = discriminator_loss(loss, real_logits, fake_logits, float(self.hp["smoothing"]))
                self.d_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                self.d_optimizer.step()
            metrics.update(d_loss=d_loss.item(),
                           d_real=float(probability_real(loss, real_logits.detach()).mean()),
                           d_fake=float(probability_real(loss, fake_logits.detach()).mean()))
        if part != "d":
            fake_logits = self.discriminator(self.generator(self._latent(batch)))
            g_loss = generator_loss(loss, fake_logits)
            self.g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()  # D's gradients too, cleared before its next update
            self.g_optimizer.step()
            with torch.no_grad():
                for average, weight in zip(self.averaged.parameters(), self.generator.parameters()):
                    average.lerp_(weight, 1.0 - AVERAGE_DECAY)
            metrics.update(g_loss=g_loss.item())
            metrics.setdefault("d_fake", float(probability_real(loss, fake_logits.detach()).mean()))
        done = self.steps_done + 1  # this step included
        if done % self.film_every == 0:
            self._record(done)
        return metrics

    def _record(self, step: int) -> None:
        if len(self.film) == FILM_FRAMES:
            self.film, self.film_every = self.film[::2], 2 * self.film_every
            if step % self.film_every:
                return
        with torch.no_grad():
            heatmap = self.heatmap(FILM_CELLS)
            fake = self.averaged(self.shown_z[:FILM_POINTS])
        frame = Frame(step, heatmap.cpu().numpy().astype(np.float16), fake.cpu().numpy().astype(np.float16))
        frame.heatmap.setflags(write=False)
        frame.fake.setflags(write=False)
        self.film.append(frame)

    def heatmap(self, cells: int) -> torch.Tensor:
        """D(x) on a cells × cells grid over the square shown (row = y, ascending)."""
        extent = self.points.extent
        ticks = torch.linspace(-extent, extent, cells)
        grid_y, grid_x = torch.meshgrid(ticks, ticks, indexing="ij")
        points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1).to(self.device)
        return probability_real(self.config.loss, self.discriminator(points)).reshape(cells, cells)

    def explain_divergence(self, step: int, name: str, value: float) -> str:
        return (f"The {name} became {value} at step {step}: a learning rate ({self.hp['lr_g']:g} for G, "
                f"{self.hp['lr_d']:g} for D) is too large. Lower it and press Reset.")

    @torch.no_grad()
    def samples(self, n: int = SAMPLES) -> torch.Tensor:
        """`n` samples straight from G(z), z ~ N(0, I): no filtering."""
        return self.averaged(torch.randn(n, LATENT, generator=self.measure_rng).to(self.device)).cpu()

    def coverage(self) -> Coverage | None:
        """Modes covered and the high-quality share of 2,500 fresh samples (mixtures only)."""
        if self.points.centres is None:
            return None
        return mode_coverage(self.samples(), self.points.centres, self.points.std)

    def evaluate(self) -> dict[str, float]:
        self._measured = self.steps_done, self.coverage()
        coverage = self._measured[1]
        if coverage is None:
            return {}
        return {"modes_covered": float(coverage.modes_covered), "high_quality": coverage.high_quality}

    def _latest_coverage(self) -> Coverage | None:
        """The coverage `evaluate` measured at this step (the curve and the numbers shown then agree), else anew."""
        step, coverage = self._measured
        return coverage if step == self.steps_done else self.coverage()

    # ------------------------------------------------------------- what the page shows
    def observe(self) -> GanVisuals:
        lines = torch.linspace(-WARP_EXTENT, WARP_EXTENT, WARP_LINES)
        along = torch.linspace(-WARP_EXTENT, WARP_EXTENT, WARP_POINTS)
        horizontal = torch.stack(torch.broadcast_tensors(along[None, :], lines[:, None]), dim=-1)
        warp = torch.stack([horizontal, horizontal.flip(-1)])  # (2, lines, points, 2) in z
        with torch.no_grad():
            heatmap = self.heatmap(HEATMAP_CELLS)
            fake = self.averaged(self.shown_z)
            warped = self.averaged(warp.reshape(-1, LATENT).to(self.device)).reshape(warp.shape)
        with torch.enable_grad():  # the job observes under no_grad
            moved = fake[:ARROWS_SHOWN].clone().requires_grad_(True)
            gradient, = torch.autograd.grad(generator_loss(self.config.loss, self.discriminator(moved)) * len(moved),
                                            moved)
        centres = self.points.centres
        return GanVisuals(self.points.extent, self.shown_real.numpy(), fake.cpu().numpy(), -gradient.cpu().numpy(),
                          heatmap.cpu().numpy(), warped.cpu().numpy(),
                          None if centres is None else centres.numpy(), self._latest_coverage(), self.config.loss,
                          tuple(self.film))


class GanJob(Job):
    """A GAN's two networks playing live."""

    trainer_type = GanTrainer
    trainer: GanTrainer

    def __init__(self, config: GanConfig | None = None, hyperparameters: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(config or GanConfig(), {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}, **kwargs)
