"""The Generative models page's experiments as data: its control table and the spec it defines
(engine.common.spec). The open tab is the spec's `model`: a VAE (with a plain autoencoder beside it) or a GAN,
each with its data, networks and live training settings. Only the open model's job runs."""

from __future__ import annotations

from typing import Any

from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class
from engine.generative.data import POINT_SETS, POINT_SET_LABELS
from engine.generative.gan import LOSS_LABELS, LOSSES
from engine.generative.gan_trainer import GanConfig
from engine.generative.vae import VaeConfig

MODELS = ("VAE", "GAN")  # the tabs' labels, which the address holds
VAE_DATA = ("digits", *POINT_SETS)
VAE_DATA_LABELS = {"digits": "Handwritten digits (8×8)", **POINT_SET_LABELS}
LATENTS = (1, 2, 3, 4, 8, 16)
WIDTHS = (16, 32, 64, 128, 256, 512)
BETAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 20.0, 50.0)
VAE_LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01)
GAN_LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.002, 0.0025, 0.003, 0.01)
BATCH_SIZES = (32, 64, 128, 256, 512)
SMOOTHING = (0.0, 0.1, 0.2, 0.3)
SPEEDS = ("max", 100, 20, 5, 1)  # steps per second: 5 and 1 are slow motion
EXAMPLES_SHOWN = 60
GAN_LAYERS = ("warp", "arrows", "modes")
GAN_LAYER_LABELS = {"warp": "G's warp of the latent grid", "arrows": "G's gradient", "modes": "Modes"}
VAE_DEFAULT, GAN_DEFAULT = VaeConfig(), GanConfig()


CONTROLS: tuple[Control, ...] = (
    Control("model", "tabs", "Model", "VAE", options=MODELS),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the data, the initial weights, the batches and the latent draws."),
    # The VAE (and its plain autoencoder)
    Control("vae_data", "select", "Data", VAE_DEFAULT.data, options=VAE_DATA, labels=VAE_DATA_LABELS,
            help="scikit-learn's 1,797 digits, or 2-D points whose whole latent map can be seen."),
    Control("vae_word", "text", "Word", VAE_DEFAULT.word, max_chars=16,
            shown=lambda before: before["vae_data"] == "word"),
    Control("latent", "select_slider", "Latent dimensions", VAE_DEFAULT.latent, options=LATENTS,
            help="Above 2, the latent charts show the first two principal components."),
    Control("vae_width", "select_slider", "Width of each hidden layer", VAE_DEFAULT.width, options=WIDTHS),
    Control("ae", "toggle", "Also train a plain autoencoder", VAE_DEFAULT.autoencoder,
            help="The same encoder and decoder without the KL term or the noise: its latent space has holes."),
    Control("beta", "select_slider", "β (weight of the KL term)", 1.0, options=BETAS,
            help="β = 1 is the VAE's ELBO; larger β trades reconstruction for a tidier latent space, and too "
                 "large a β collapses the posterior. Changes live."),
    Control("reparam", "toggle", "Reparameterization trick", True,
            help="Off: z is drawn as a plain sample, so the reconstruction term sends the encoder no gradient. "
                 "Changes live."),
    Control("vae_lr", "select_slider", "Learning rate", 0.003, options=VAE_LEARNING_RATES,
            help="Adam; changes live."),
    Control("vae_batch", "select_slider", "Batch size", 128, options=BATCH_SIZES, help="Changes live."),
    Control("vae_speed", "select_slider", "Speed limit (steps/s)", "max", options=SPEEDS),
    Control("first", "slider", "Held-out example A", 1, low=1, high=EXAMPLES_SHOWN,
            help="Its posterior is drawn as an ellipse; the interpolation runs from A to B."),
    Control("second", "slider", "Held-out example B", 3, low=1, high=EXAMPLES_SHOWN),
    # The GAN
    Control("gan_data", "select", "Data", GAN_DEFAULT.data, options=POINT_SETS, labels=POINT_SET_LABELS,
            help="The ring and the grid are the mode-coverage benchmarks of the VEEGAN and PacGAN papers."),
    Control("gan_word", "text", "Word", GAN_DEFAULT.word, max_chars=16,
            shown=lambda before: before["gan_data"] == "word"),
    Control("loss", "select", "Loss", GAN_DEFAULT.loss, options=LOSSES, labels=LOSS_LABELS,
            help="Changing it starts again from the same seed, so runs compare."),
    Control("g_width", "select_slider", "Generator width", GAN_DEFAULT.g_width, options=WIDTHS),
    Control("g_depth", "slider", "Generator hidden layers", GAN_DEFAULT.g_depth, low=1, high=5, limit="gan.depth"),
    Control("d_width", "select_slider", "Discriminator width", GAN_DEFAULT.d_width, options=WIDTHS),
    Control("d_depth", "slider", "Discriminator hidden layers", GAN_DEFAULT.d_depth, low=1, high=5,
            limit="gan.depth"),
    Control("lr_g", "select_slider", "Generator learning rate", 0.001, options=GAN_LEARNING_RATES,
            help="Adam (β₁ = 0.5); changes live."),
    Control("lr_d", "select_slider", "Discriminator learning rate", 0.0025, options=GAN_LEARNING_RATES,
            help="Changes live."),
    Control("d_steps", "slider", "D steps per G step", 1, low=1, high=5, help="Changes live."),
    Control("smooth", "select_slider", "One-sided label smoothing", 0.0, options=SMOOTHING,
            help="Real points' target becomes 1 − s, so D is never asked to be certain. Changes live."),
    Control("gan_batch", "select_slider", "Batch size", 256, options=BATCH_SIZES, help="Changes live."),
    Control("gan_speed", "select_slider", "Speed limit (steps/s)", "max", options=SPEEDS,
            help="5 or 1 step a second is slow motion: watch each step move the points."),
    Control("show", "pills", "Draw", GAN_LAYERS, options=GAN_LAYERS, labels=GAN_LAYER_LABELS,
            help="G's gradient: an arrow from each of some generated points along −∂(G's loss)/∂x, the way G's "
                 "loss pushes that point (D's verdict, through D's gradient)."),
)
VAE_FIELDS = ("vae_data", "vae_word", "latent", "vae_width", "ae", "beta", "reparam", "vae_lr", "vae_batch",
              "vae_speed", "first", "second")
GAN_FIELDS = ("gan_data", "gan_word", "loss", "g_width", "g_depth", "d_width", "d_depth", "lr_g", "lr_d",
              "d_steps", "smooth", "gan_batch", "gan_speed", "show")


def _speed(value: Any) -> int | None:
    return None if value == "max" else int(value)


@spec_class
class GenerativeSpec(Spec):
    """One Generative models page: a field per control (see CONTROLS); `model` is the open tab."""

    PREFIX = "gen_"
    CONTROLS = CONTROLS
    VIEW_KEYS = ("gen_view",)  # the VAE tab's open view

    def config(self) -> VaeConfig | GanConfig:
        """The open model's experiment."""
        try:
            if self.model == "VAE":
                return VaeConfig(data=self.vae_data, word=self.vae_word, latent=self.latent, width=self.vae_width,
                                 autoencoder=self.ae)
            return GanConfig(data=self.gan_data, word=self.gan_word, loss=self.loss, g_width=self.g_width,
                             g_depth=self.g_depth, d_width=self.d_width, d_depth=self.d_depth)
        except ValueError as error:
            raise ConfigError(str(error)) from error

    def fallback_config(self) -> VaeConfig | GanConfig:
        return type(self)(model=self.model).config()  # the open tab's default model, not the VAE's

    def hyperparameters(self) -> dict[str, Any]:
        if self.model == "VAE":
            return {"lr": float(self.vae_lr), "batch_size": int(self.vae_batch), "beta": float(self.beta),
                    "reparameterize": bool(self.reparam), "example_a": int(self.first) - 1,
                    "example_b": int(self.second) - 1, "max_steps_per_second": _speed(self.vae_speed)}
        return {"lr_g": float(self.lr_g), "lr_d": float(self.lr_d), "d_steps": int(self.d_steps),
                "smoothing": float(self.smooth), "batch_size": int(self.gan_batch),
                "max_steps_per_second": _speed(self.gan_speed)}
