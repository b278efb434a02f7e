"""The Generalization page's experiments as data: its control table and the spec it defines (engine.common.spec).
The open tab is the spec's `view`: three views computed in closed form from the data and the least-squares model
(bias and variance, the complexity sweep, regularization), and the MLP trained live (early stopping)."""

from __future__ import annotations

from typing import Any

from engine.common.limits import ConfigError
from engine.common.spec import Control, Spec, spec_class
from engine.generalization.data import TRUE_FUNCTION_LABELS, TRUE_FUNCTIONS
from engine.generalization.experiment import Problem
from engine.generalization.features import FAMILIES, FAMILY_LABELS
from engine.generalization.mlp import ACTIVATIONS, MlpConfig

VIEWS = ("Bias and variance", "Complexity sweep", "Regularization", "Early stopping")
NOISE_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
POINTS = (5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200)
WIDTHS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000,
          4000)
ALPHAS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
ALPHA_LABELS = {0.0: "0 (least squares)"}
REFITS = (10, 20, 50, 100, 200, 500)
INPUT_NOISE = (0.01, 0.03, 0.1, 0.3)
MLP_WIDTHS = (16, 32, 64, 128, 256, 512)
MLP_LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03)
MLP_L2 = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
VALIDATION_POINTS = (10, 20, 40, 100, 200)
PATIENCE = ("off", 100, 300, 1000)
MAX_STEPS = (1000, 3000, 10000, 30000)
MLP_DEFAULT = MlpConfig()

CONTROLS: tuple[Control, ...] = (
    Control("view", "tabs", "View", VIEWS[0], options=VIEWS),
    # The data
    Control("function", "select", "True function", "sine", options=TRUE_FUNCTIONS, labels=TRUE_FUNCTION_LABELS,
            help="What the data are drawn from: y = f(x) + ε, x uniform on [-1, 1]."),
    Control("sigma", "select_slider", "Noise σ", 0.3, options=NOISE_LEVELS,
            help="ε ~ N(0, σ²): σ² is the part of the test error no model can remove."),
    Control("n", "select_slider", "Training points N", 40, options=POINTS),
    Control("seed", "number", "Seed", 0, low=0, high=99_999,
            help="Fixes the training sets, the test noise, the random features (hinges, frequencies) and the MLP's "
                 "weights."),
    # The least-squares model
    Control("family", "select", "Model", "poly", options=FAMILIES, labels=FAMILY_LABELS,
            help="All three are linear in their weights, so every fit is exact linear algebra. Random Fourier "
                 "features: √2·cos(ωx + b), ω ~ N(0, (2N)²), b uniform on [0, 2π)."),
    Control("degree", "slider", "Degree D", 3, low=0, high=200, shown=lambda before: before["family"] == "poly"),
    Control("width", "select_slider", "Width W (features)", 20, options=WIDTHS,
            shown=lambda before: before["family"] != "poly"),
    Control("alpha", "select_slider", "Ridge α", 0.0, options=ALPHAS, labels=ALPHA_LABELS,
            help="0: least squares, the minimum-norm solution once the features can fit every point. α > 0 adds "
                 "α‖w‖² to the squared error, and the sweep draws both."),
    Control("refits", "select_slider", "Refits R", 100, options=REFITS,
            help="Fresh training sets (fresh inputs, fresh noise) the model is refitted on. The sweep uses at "
                 "most 50 (fewer above N = 40: each refit's cost grows as N³)."),
    Control("input_noise", "select_slider", "Input noise s", 0.1, options=INPUT_NOISE,
            help="The standard deviation of the Gaussian noise added to each feature in the input-noise panel."),
    # The MLP
    Control("mlp_width", "select_slider", "Width of each hidden layer", MLP_DEFAULT.width, options=MLP_WIDTHS),
    Control("mlp_depth", "slider", "Hidden layers", MLP_DEFAULT.depth, low=1, high=4),
    Control("activation", "segmented", "Activation", MLP_DEFAULT.activation, options=ACTIVATIONS,
            labels={"tanh": "Tanh", "relu": "ReLU"}),
    Control("validation", "select_slider", "Validation points", MLP_DEFAULT.validation, options=VALIDATION_POINTS,
            help="Drawn in addition to the N training points. Early stopping watches only them."),
    Control("lr", "select_slider", "Learning rate", 0.01, options=MLP_LEARNING_RATES,
            help="Adam, full batch; changes live."),
    Control("l2", "select_slider", "L2 penalty λ", 0.0, options=MLP_L2,
            help="λ·Σw² added to the loss (weights, not biases); changes live."),
    Control("patience", "select_slider", "Stop after no better validation for", "off", options=PATIENCE,
            labels={"off": "off", 100: "100 steps", 300: "300 steps", 1000: "1,000 steps"},
            help="Off: train on and watch the validation error turn up. Changes live."),
    Control("max_steps", "select_slider", "Train at most", 3000, options=MAX_STEPS,
            labels={m: f"{m:,} steps" for m in MAX_STEPS}, help="Changes live."),
)
DATA_FIELDS = ("function", "sigma", "n", "seed")
MODEL_FIELDS = ("family", "degree", "width", "alpha", "refits")
MLP_FIELDS = ("mlp_width", "mlp_depth", "activation", "validation", "lr", "l2", "patience", "max_steps")


@spec_class
class GeneralizationSpec(Spec):
    """One Generalization page: a field per control (see CONTROLS); `view` is the open tab."""

    PREFIX = "gl_"
    CONTROLS = CONTROLS

    @property
    def complexity(self) -> int:
        return int(self.degree if self.family == "poly" else self.width)

    def problem(self) -> Problem:
        """The data and the least-squares model of the closed-form views."""
        return Problem(function=self.function, sigma=float(self.sigma), n=int(self.n), family=self.family,
                       complexity=self.complexity, alpha=float(self.alpha), seed=int(self.seed))

    def config(self) -> MlpConfig:
        """The MLP's experiment (the early-stopping view's job)."""
        try:
            return MlpConfig(function=self.function, sigma=float(self.sigma), n=int(self.n),
                             validation=int(self.validation), width=int(self.mlp_width), depth=int(self.mlp_depth),
                             activation=self.activation)
        except ValueError as error:
            raise ConfigError(str(error)) from error

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": float(self.lr), "weight_decay": float(self.l2),
                "patience": None if self.patience == "off" else int(self.patience),
                "max_steps": int(self.max_steps)}
