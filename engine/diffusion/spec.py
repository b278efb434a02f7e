"""The Diffusion page's experiment as data: its control table and the spec it defines (engine.common.spec).

The controls start from the moons' tuned defaults whatever the data set is. Choosing a data set on the page fills
in the network and training settings known to learn it (a callback of the page's data set control); a link that
names a data set sets only what it names, as links always did.
"""

from __future__ import annotations

from typing import Any

from engine.common.spec import Control, Spec, spec_class
from engine.diffusion.config import DiffusionConfig, default_config
from engine.diffusion.data import DATASET_LABELS, DATASETS, MAX_WORD_LENGTH
from engine.diffusion.noise_schedule import MAX_T, MIN_T, NOISE_SCHEDULES

DEFAULT = default_config("moons")
WIDTHS = (16, 32, 64, 128, 256, 512)
DEPTHS = (1, 2, 3, 4, 5, 6)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2)
BATCH_SIZES = (32, 64, 128, 256, 512, 1024)
BETA_MINS = (1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
BETA_MAXS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5)
POINT_COUNTS = (1000, 2000, 4000, 8000, 16000)
SAMPLER_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
SPEEDS = ("max", 500, 200, 100, 20)
SAMPLER_LABELS = {"ddpm": "DDPM (stochastic, all T steps)", "ddim": "DDIM (deterministic, fewer steps)"}

CONTROLS: tuple[Control, ...] = (
    # Data
    Control("data", "select", "Data set", DATASETS[0], options=DATASETS, labels=DATASET_LABELS,
            help="Choosing one also fills in a network and learning rate known to learn it. Everything is "
                 "standardized; nothing is downloaded."),
    Control("word", "text", "Word to fill with points", DEFAULT.word, max_chars=MAX_WORD_LENGTH,
            help="Drawn with the font that ships with Pillow."),
    Control("points", "select_slider", "Training points", DEFAULT.n_points, options=POINT_COUNTS),
    # Noise schedule
    Control("schedule", "radio", "Schedule", NOISE_SCHEDULES[0], options=NOISE_SCHEDULES,
            help="Linear β (Ho et al. 2020) or cosine ᾱ (Nichol & Dhariwal 2021)."),
    Control("T", "number", "Diffusion steps T", DEFAULT.T, low=MIN_T, high=MAX_T, limit="diffusion.T"),
    Control("bmin", "select_slider", "β_min (β₁)", DEFAULT.beta_start, options=BETA_MINS),
    Control("bmax", "select_slider", "β_max (β_T)", DEFAULT.beta_end, options=BETA_MAXS),
    # Network
    Control("width", "select_slider", "Width", DEFAULT.width, options=WIDTHS),
    Control("depth", "select_slider", "Residual blocks", DEFAULT.depth, options=DEPTHS),
    # Training
    Control("lr", "select_slider", "Learning rate", DEFAULT.lr, options=LEARNING_RATES,
            help="Adam, warmed up and then decayed by a cosine; changes live."),
    Control("batch", "select_slider", "Batch size", DEFAULT.batch_size, options=BATCH_SIZES, help="Changes live."),
    Control("speed", "select_slider", "Speed limit (steps/s)", 200, options=SPEEDS,
            help="A limit leaves the server time to draw samples and the page; 'max' trains as fast as it can."),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the data, the initial weights, the batches and the sampling noise."),
    # Sampling
    Control("sampler", "radio", "Sampler", DEFAULT.sampler, options=tuple(SAMPLER_LABELS), labels=SAMPLER_LABELS,
            help="Draws the samples that are shown and scored; the reverse-process tab shows both."),
    Control("steps", "select_slider", "DDIM steps", DEFAULT.sampler_steps, options=SAMPLER_STEPS,
            help="At most T; DDPM always takes all T steps."),
)


@spec_class
class DiffusionSpec(Spec):
    """One diffusion experiment: a field per control of the page (see CONTROLS).

    The word and the β range are kept whatever the data set and schedule (their controls are only disabled);
    the config uses them where they apply. The timestep shown (`df_t`, at most the shown model's T) and the open
    tab are the page's view state: a range bounded by another field is no control of a table."""

    PREFIX = "df_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("df_tab", "df_t")

    def config(self) -> DiffusionConfig:
        """The data set's tuned config with this spec's choices (ConfigError for a combination the engine refuses,
        such as an empty word or a schedule whose ᾱ does not fall)."""
        overrides: dict[str, Any] = dict(n_points=self.points, word=self.word, schedule=self.schedule, T=self.T,
                                         width=self.width, depth=self.depth, seed=self.seed,
                                         sampler_steps=min(DEFAULT.sampler_steps, self.T))
        if self.schedule == "linear":
            overrides.update(beta_start=float(self.bmin), beta_end=float(self.bmax))
        return default_config(self.data, **overrides)

    def hyperparameters(self) -> dict[str, Any]:
        """The live hyperparameters (changed without rebuilding the model)."""
        return {"lr": float(self.lr), "batch_size": int(self.batch), "sampler": self.sampler,
                "sampler_steps": min(int(self.steps), self.T),
                "max_steps_per_second": None if self.speed == "max" else int(self.speed)}
