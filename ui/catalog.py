"""The pages of Gradscape: one entry each, in menu order. app.py and the home page read this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.attention.spec import AttentionSpec
from engine.backprop.spec import BackpropSpec
from engine.cnn.spec import CnnSpec
from engine.diffusion.spec import DiffusionSpec
from engine.generalization.spec import GeneralizationSpec
from engine.generative.spec import GenerativeSpec
from engine.landscape.spec import LandscapeSpec
from engine.optimizers.spec import OptimizersSpec
from engine.gradients.spec import GradientsSpec
from engine.playground.spec import PlaygroundSpec
from engine.words.spec import WordsSpec

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"


@dataclass(frozen=True)
class PageInfo:
    file: str  # relative to the project root
    title: str
    icon: str  # a Material icon, ":material/NAME:"
    url_path: str
    summary: str
    key_prefix: str = ""  # every widget key of the page starts with it (URL parameters, exports, hiding)
    spec: Any = None  # the page's experiment as data (an engine.common.spec.Spec subclass)

    @property
    def screenshot(self) -> Path:
        return SCREENSHOTS / f"{self.url_path}.png"


HOME = PageInfo("app_pages/home.py", "Home", ":material/home:", "home",
                "What Gradscape is and where to start.")

# The teacher's view of a class room (ui.rooms): in the menu, but not an experiment (no spec, no link of its own).
CLASS_VIEW = PageInfo("app_pages/classroom.py", "Class view", ":material/groups:", "class",
                      "Every student's run in your class: results against the learning rate, all loss curves, "
                      "which runs diverged; open any run big.")

PAGES: list[PageInfo] = [
    PageInfo("app_pages/lessons.py", "Lessons", ":material/school:", "lessons",
             "Guided lessons that follow a deep-learning course: the idea in a few sentences, its formula, a link "
             "that opens the experiment showing it, and what to look for.",
             key_prefix="lesson"),
    PageInfo("app_pages/playground.py", "Network Playground", ":material/hub:", "playground",
             "Build a network, pick data, and watch it learn: decision boundary, every neuron, weights, "
             "loss and accuracy, live.",
             key_prefix="pg_", spec=PlaygroundSpec),
    PageInfo("app_pages/optimizers.py", "Optimizer Trajectories", ":material/route:", "optimizers",
             "Race GD, momentum, Adam, Newton and more on 2-D test functions from one start point: paths, "
             "loss, and the step-size theory (η_opt = 1/λ) on screen.",
             key_prefix="opt_", spec=OptimizersSpec),
    PageInfo("app_pages/backprop.py", "Backprop by hand", ":material/calculate:", "backprop",
             "Every number of a small network: a, z and δ of every unit and ∂L/∂w of every edge for one example, "
             "step by step, with the formulas; edit any weight, check the gradients, predict one yourself.",
             key_prefix="bp_", spec=BackpropSpec),
    PageInfo("app_pages/landscape.py", "Loss Landscape", ":material/landscape:", "landscape",
             "The loss around the network you train, live: filter-normalized and PCA directions, contour and "
             "3-D surface, the path's off-plane error, Hessian eigenvalues and 2/λmax.",
             key_prefix="ls_", spec=LandscapeSpec),
    PageInfo("app_pages/gradients.py", "Gradient Flow", ":material/water:", "gradients",
             "Watch gradients vanish or explode through depth and through time: per-layer probes at init and "
             "live, init variance theory, RNN/LSTM/GRU gradients over 200 steps, W_hh eigenvalues.",
             key_prefix="gf_", spec=GradientsSpec),
    PageInfo("app_pages/cnn.py", "Convolutional networks", ":material/grid_on:", "cnn",
             "Your own CNN trained live beside an MLP of its size: filters, feature maps, mistakes, shifts measured, "
             "saliency and adversarial attacks; the output-size arithmetic, kernels and transposed convolutions.",
             key_prefix="cnn_", spec=CnnSpec),
    PageInfo("app_pages/words.py", "Words and sequences", ":material/text_fields:", "words",
             "Text as numbers: byte-pair encoding merge by merge, word vectors (skip-gram) trained live against an "
             "SVD of the PPMI matrix with analogies scored, and a character-level LSTM that learns to write.",
             key_prefix="wd_", spec=WordsSpec),
    PageInfo("app_pages/attention.py", "Attention", ":material/visibility:", "attention",
             "Watch attention appear as a small transformer learns reverse, sort, copy or induction: every "
             "layer × head, token lines, your own sequences, a training scrubber, head ablation, RNN attention.",
             key_prefix="at_", spec=AttentionSpec),
    PageInfo("app_pages/diffusion.py", "Diffusion", ":material/blur_on:", "diffusion",
             "Train a denoising diffusion model live and watch noise become data: the forward process and its "
             "schedule, samples scored as they improve, DDPM and DDIM side by side, the learned noise field.",
             key_prefix="df_", spec=DiffusionSpec),
    PageInfo("app_pages/generative.py", "Generative models", ":material/auto_awesome:", "generative",
             "A VAE and a GAN trained live: the latent space and its decoded manifold, the ELBO's two terms, the "
             "reparameterization trick, posterior collapse; the GAN's game over D's heatmap, mode collapse measured.",
             key_prefix="gen_", spec=GenerativeSpec),
    PageInfo("app_pages/generalization.py", "Generalization", ":material/stacked_line_chart:", "generalization",
             "Bias² + variance + σ² measured over hundreds of refits, the complexity sweep's U-curve and second "
             "descent past the interpolation threshold, ridge's shrinkage, input noise as L2, L1 against L2, and an "
             "MLP's early stopping on a validation set.",
             key_prefix="gl_", spec=GeneralizationSpec),
]
