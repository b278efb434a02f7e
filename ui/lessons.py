"""Guided lessons that follow a deep-learning course: each is a few sentences, its key formula, links that open
a page on a preset experiment, and what to look for there.

A preset is a spec (engine.common.spec): the experiment itself, as data. Its link is the target page's address
with the spec's `to_query()` (what differs from the page's defaults, written as the page's widgets write it),
plus, rarely, view state the spec leaves to the page (`view`: a timestep to show). tests/test_lessons.py opens
each preset's link, checks the page opened exactly that spec, then runs its experiment and checks the lesson's
claim. Every link also carries `exact=1` (ui.sharing.EXACT_PARAM): what it does not name opens at the default,
whatever links the session opened before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping
from urllib.parse import urlencode

from engine.attention.spec import AttentionSpec
from engine.backprop.presets import PRESETS as HAND_BUILT
from engine.backprop.spec import BackpropSpec, weights_text
from engine.cnn.spec import CnnSpec
from engine.common.spec import Spec
from engine.diffusion.spec import DiffusionSpec
from engine.generalization.spec import GeneralizationSpec
from engine.generative.spec import GenerativeSpec
from engine.gradients.spec import GradientsSpec
from engine.landscape.presets import LANDSCAPE_PRESETS
from engine.landscape.spec import LandscapeSpec
from engine.optimizers.spec import OptimizersSpec
from engine.playground.spec import PlaygroundSpec
from engine.words.spec import WordsSpec
from ui.catalog import PAGES, PageInfo
from ui.sharing import EXACT_PARAM


@dataclass(frozen=True)
class Preset:
    """One link: a page opened on one experiment."""

    label: str
    spec: Spec
    view: Mapping[str, str] = field(default_factory=dict)  # the page's view state the link sets too

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", MappingProxyType(dict(self.view)))

    def __hash__(self) -> int:
        return hash((self.label, self.url))

    @property
    def target(self) -> PageInfo:
        return next(page for page in PAGES if page.spec is type(self.spec))

    @property
    def page(self) -> str:
        """The target page's url_path in ui.catalog."""
        return self.target.url_path

    @property
    def params(self) -> dict[str, str | list[str]]:
        """The link's settings: the spec's query, and the view state."""
        return {**self.spec.to_query(), **self.view}

    @property
    def query_params(self) -> dict[str, str | list[str]]:
        """As st.page_link and st.query_params take them (a repeated key as a list), marked exact: every
        setting the preset does not name opens at its default, also after an earlier link in the session."""
        return {**self.params, EXACT_PARAM: "1"}

    @property
    def url(self) -> str:
        """The link relative to the app's root, for a browser or a screenshot."""
        query = urlencode(self.query_params, doseq=True)
        return f"{self.page}?{query}" if query else self.page


@dataclass(frozen=True)
class Lesson:
    title: str
    text: str  # a few sentences of Markdown
    formula: str  # the key formula, LaTeX for st.latex
    presets: tuple[Preset, ...]
    look_for: tuple[str, ...]  # what to watch on the page, one point each


PERCEPTRON = PlaygroundSpec(layers=0, opt="perceptron")
PERCEPTRON_XOR = Preset("The perceptron rule on XOR", PERCEPTRON.replace(data="xor"))
RELU_FIT = PlaygroundSpec(data="sine", layers=1, act="relu", init="he", opt="adam", batch=50)
STEP_SIZE = OptimizersSpec(steps=50, opts=("gd", "newton"))
ADAPTIVE = ("gd", "adagrad", "rmsprop", "adam")
MOMENTUM_RACE = ("gd", "momentum", "nesterov")
ZERO_INIT_NET = PlaygroundSpec(act="sigmoid", opt="adam")
OVERFIT = PlaygroundSpec(data="gauss", points=100, noise=0.6, layers=3, w1=16, w2=16, w3=16, act="relu", init="he",
                         opt="adam", lr=0.01)
XAVIER_DEEP = GradientsSpec(init="xavier_normal")
SIGMOID_DEEP = XAVIER_DEEP.replace(act="sigmoid")
RELU_HE_DEEP = Preset("20 ReLU layers, He init", GradientsSpec())  # the page's default network
HALFWAY = {"df_t": "500"}  # the forward process at t = 500 (view state: the timestep shown)
CENTRED_SHAPES = CnnSpec(data="shapes_centred", dy=3, dx=0)
SHIFT_VIEW = {"cnn_view": "Shift"}
ATTACK_VIEW = {"cnn_view": "Saliency and attacks"}
VAE = GenerativeSpec()
VAE_SAMPLES = {"gen_view": "Samples and reconstructions"}
VAE_TRAINING = {"gen_view": "Training"}
GAN = GenerativeSpec(model="GAN", seed=1)  # the bench's seeds 0-2 average it; seed 1 shows both plainly
GAN_HEALTHY = Preset("A GAN on the ring of 8 Gaussians, non-saturating loss", GAN)
GAN_COLLAPSE = Preset("… the same game with the minimax loss", GAN.replace(loss="minimax"))
XOR_BY_HAND = BackpropSpec(weights=weights_text(HAND_BUILT["xor_bool"].weights))
MAX_BY_HAND = BackpropSpec(data="max", width=3, weights=weights_text(HAND_BUILT["max"].weights))
AND_BY_HAND = BackpropSpec(data="and", layers=0, weights=weights_text(HAND_BUILT["and"].weights))
TANH_CIRCLE = BackpropSpec(data="circle", layers=2, width=3, act="tanh")
SWEEP = GeneralizationSpec(view="Complexity sweep", family="relu")
SHRINKAGE = GeneralizationSpec(view="Regularization", family="relu", width=60, alpha=0.01)
EARLY_STOPPING = GeneralizationSpec(view="Early stopping")
TOY_DICTIONARY = "low low low low low lower lower newest newest newest newest newest newest widest widest widest"
VECTORS = WordsSpec(part="Word vectors")
CHAR_MODEL = WordsSpec(part="Character model")
INDUCTION = AttentionSpec(task="induction", vocab=32, len=24, train=8192, layers=2, heads=2, width=64, causal=True,
                          attn_only=True)

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "Perceptron and linear separability",
        "Rosenblatt's perceptron outputs 1 when w·x + b > 0 and 0 otherwise: its decision boundary is a straight "
        "line. Its learning rule changes the weights only on mistakes, by the misclassified point itself. If one "
        "straight line separates the classes, the rule finds such a line after finitely many mistakes (the "
        "perceptron convergence theorem). XOR's classes sit in opposite corners: no line separates them, and the "
        "rule never settles.",
        r"\hat y = \operatorname{step}(w \cdot x + b), \qquad w \leftarrow w + \eta\,(y - \hat y)\,x, \qquad "
        r"b \leftarrow b + \eta\,(y - \hat y)",
        (Preset("The perceptron rule on two blobs", PERCEPTRON.replace(data="gauss")),
         PERCEPTRON_XOR),
        ("On the blobs the error rate falls to 0 within a few hundred steps and the boundary is one straight line; "
         "training then stops by itself, since only mistakes move the weights and none are left.",
         "On XOR the accuracy wanders around 50% for ever: each correction that fixes one corner breaks another.",
         "The loss curve here is the error rate: the step function has no useful gradient, so the rule does not "
         "descend a loss."),
    ),
    Lesson(
        "XOR needs a hidden layer",
        "A hidden layer lets the network draw several lines and combine them. With two hidden units XOR is "
        "already solvable: one unit detects “x₁ and x₂ on the same side”, the output combines them. Four tanh "
        "units trained by gradient descent find such a solution by themselves; for a single layer none exists.",
        r"h = \tanh(W_1 x + b_1), \qquad \hat y = \sigma(w_2 \cdot h + b_2), \qquad "
        r"\mathrm{XOR}(x_1, x_2) = (x_1 \lor x_2) \land \lnot(x_1 \land x_2)",
        (PERCEPTRON_XOR,
         Preset("One hidden layer of 4 tanh units on XOR", PlaygroundSpec(data="xor", layers=1, lr=0.1))),
        ("With the hidden layer the test accuracy passes 95% within about 500 steps; the perceptron stays near "
         "50%.",
         "In the network diagram each hidden neuron's tile shows one soft line (a tanh ridge); the output tile "
         "adds them up into the XOR checker.",
         "Try Layer 1 = 2 neurons: still possible, but training gets stuck more often."),
    ),
    Lesson(
        "Universal approximation with ReLU units",
        "A network with one hidden layer of n ReLU units computes a sum of n hinges. Each hinge bends the "
        "output once, at x = −bᵢ/wᵢ, so the output is made of at most n + 1 straight pieces. With enough units "
        "those pieces follow any continuous function on an interval as closely as you like (universal "
        "approximation); depth multiplies the pieces instead of adding them.",
        r"f(x) = b + \sum_{i=1}^{n} v_i \,\max(0,\ w_i x + b_i) \quad\Rightarrow\quad "
        r"\text{at most } n + 1 \text{ linear pieces}",
        (Preset("3 ReLU units fit sin x", RELU_FIT.replace(w1=3)),
         Preset("32 ReLU units fit sin x", RELU_FIT.replace(w1=32))),
        ("The orange diamonds mark the joints; the headline counts the linear pieces, never more than units + 1.",
         "With 3 units four straight pieces cannot follow two periods of the sine: the test loss stays high. "
         "With 32 the curve hugs the sine within 2,000 steps.",
         "At step 0 every joint sits at x = 0 (the biases start at zero); watch them spread out as training "
         "moves them to where the sine bends."),
    ),
    Lesson(
        "Step size on a quadratic; Newton",
        "Near a minimum the loss is a quadratic ½wᵀAw. Along each eigenvector of A (curvature λ) one gradient "
        "step multiplies the distance to the minimum by 1 − ηλ. So η < 1/λ creeps in, η = 1/λ (η_opt) lands in "
        "one step, 1/λ < η < 2/λ overshoots and oscillates in, and η > 2/λ diverges. One η must serve every "
        "direction, so the steepest direction (λmax) caps it, while the flattest (λmin) sets the pace. "
        "Newton's method rescales by the inverse Hessian and reaches a quadratic's minimum in one step.",
        r"w_{k+1} - w^* = (I - \eta A)(w_k - w^*), \qquad \eta_\text{opt} = \frac{1}{\lambda}, \qquad "
        r"\text{diverges for } \eta > \frac{2}{\lambda_{\max}}, \qquad w_1 = w_0 - H^{-1}\nabla f(w_0) = w^*",
        (Preset("η = 1 = 1/λmax: the steep direction in one step", STEP_SIZE.replace(gd_lr=1.0)),
         Preset("η = 1.8: oscillating along the steep direction", STEP_SIZE.replace(gd_lr=1.8)),
         Preset("η = 2.1 > 2/λmax: diverging", STEP_SIZE.replace(gd_lr=2.1))),
        ("The quadratic has λ = 1 (steep, the y axis) and λ = 0.1 (flat, the x axis); the Step-size theory tab "
         "names the regime of η along each.",
         "η = 1 kills the y error in the first step, then crawls along x (factor 0.9 per step); η = 1.8 zigzags "
         "across the valley while still creeping along it; η = 2.1 zigzags outwards and leaves the plot.",
         "Newton jumps straight to the minimum in one step, whatever η GD uses."),
    ),
    Lesson(
        "Momentum and Nesterov in a ravine",
        "In a long narrow valley plain gradient descent must keep η small for the steep walls and then crawls "
        "along the flat floor. Momentum accumulates a velocity: across the valley successive gradients point in "
        "opposite directions and cancel, along it they agree and add up, up to 1/(1 − μ) times the plain step. "
        "Nesterov evaluates the gradient after the momentum step (a look-ahead), which damps the zigzag. "
        "(Course note 000 calls this look-ahead order “Newton's method”; it is Nesterov's, and uses no Hessian.)",
        r"v \leftarrow \mu v + \nabla f(w), \quad w \leftarrow w - \eta v; \qquad "
        r"\text{Nesterov: } w \leftarrow w - \eta\,(\nabla f(w) + \mu v)",
        (Preset("A winding ravine, 300 steps", OptimizersSpec(fn="ravine", steps=300, opts=MOMENTUM_RACE)),
         Preset("A long narrow bowl (condition number 100)", OptimizersSpec(kappa=100.0, opts=MOMENTUM_RACE))),
        ("In the ravine GD slides down a wall and then crawls: after 300 steps it is still far from the minimum at "
         "(0, 0), while momentum and Nesterov are several times closer (see the table at the bottom).",
         "Momentum overshoots and swings around the floor; Nesterov's swings are smaller.",
         "In the narrow bowl the effect is larger still: GD's pace along the floor is set by λmin = 0.01."),
    ),
    Lesson(
        "Adaptive methods: Adagrad, RMSProp, Adam",
        "Adaptive methods divide each coordinate's step by a running size of its gradients, so every coordinate "
        "moves at a similar pace whatever its scale. Adagrad sums all past squared gradients (its steps only "
        "shrink), RMSProp keeps a moving average, Adam adds momentum and corrects both averages for their start "
        "at zero. On Rosenbrock's curved valley that rescaling is what lets Adam follow the floor; at a saddle it "
        "lets them escape along the direction where the gradient is tiny. (Course note 000 writes the correction "
        "as m/(1 − δ) and v/(1 − γ), without the power k; it is 1 − β₁^k and 1 − β₂^k, which tend to 1 as the "
        "step k grows.)",
        r"m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad "
        r"w \leftarrow w - \eta\,\frac{m / (1-\beta_1^k)}{\sqrt{v / (1-\beta_2^k)} + \epsilon}",
        (Preset("Rosenbrock's banana valley, 500 steps", OptimizersSpec(fn="rosenbrock", steps=500, opts=ADAPTIVE)),
         Preset("A saddle, starting 0.001 off its ridge", OptimizersSpec(fn="saddle", y0=0.001, opts=ADAPTIVE))),
        ("On Rosenbrock all four reach the valley floor quickly; only Adam then follows it most of the way to the "
         "minimum at (1, 1) in 500 steps.",
         "At the saddle GD rolls straight to the saddle point and waits there until the tiny y component has "
         "grown; Adagrad and RMSProp turn away within a few steps, long before reaching it.",
         "The table at the bottom says when each run left the plot: leaving is success on a saddle."),
    ),
    Lesson(
        "Initialization: symmetry, Xavier and He",
        "If every weight starts equal (zero), every hidden unit of a layer computes the same thing and receives "
        "the same gradient, so they stay identical for ever: the layer acts like one unit, however wide. Random "
        "weights break the symmetry. Their scale matters too: Xavier/Glorot chooses Var(W) = 2/(n_in + n_out) "
        "to keep signals the same size through tanh layers, He/Kaiming 2/n_in to make up for ReLU zeroing half "
        "of them. (Course note 004 writes Glorot normal as N(0, √2/(f_in + f_out)); the variance is "
        "2/(f_in + f_out), the standard deviation √(2/(f_in + f_out)).)",
        r"\text{Xavier: } \operatorname{Var}(W) = \frac{2}{n_\text{in} + n_\text{out}}, \qquad "
        r"\text{He: } \operatorname{Var}(W) = \frac{2}{n_\text{in}}",
        (Preset("Zero init: every unit the same", ZERO_INIT_NET.replace(init="zeros")),
         Preset("The same network, Xavier init", ZERO_INIT_NET),
         Preset("20 ReLU layers, Xavier init", XAVIER_DEEP),
         RELU_HE_DEEP,
         Preset("20 tanh layers, Xavier init", XAVIER_DEEP.replace(act="tanh"))),
        ("With zero init the tiles of each layer in the network diagram stay identical while training, and the "
         "network learns no more than a single unit per layer could: the circle is out of reach.",
         "With Xavier init the same network, same optimizer, separates the circle.",
         "On Gradient Flow, before any training: with ReLU and Xavier the mean square of the pre-activations halves "
         "at every layer (the dashed theory line and the measured one fall together, 20 halvings in all); He's "
         "factor 2 keeps it level; tanh with Xavier shrinks it only slowly."),
    ),
    Lesson(
        "Vanishing gradients at depth 20",
        "Backpropagation multiplies, layer by layer, by each layer's weights and by the slope of its activation. "
        "The sigmoid's slope is at most ¼ (course note 003 writes 0.00025; it is 0.25, at z = 0), so through 20 "
        "sigmoid layers the gradient that reaches the first layers is many orders of magnitude smaller than at "
        "the last: the first layers barely learn. ReLU has "
        "slope 1 where it is active, and He init keeps the signal's size, so gradients arrive whole. Batch "
        "normalization re-centres and re-scales every layer's input, and residual connections add an identity "
        "path that the gradient can take around every layer.",
        r"\frac{\partial L}{\partial h_1} = \frac{\partial L}{\partial h_L} \prod_{l=2}^{L} W_l^\top "
        r"\operatorname{diag}\!\big(\sigma'(z_l)\big), \qquad \sigma'(z) \le \tfrac14, \qquad "
        r"\text{residual: } h_{l} = h_{l-1} + f(W_l h_{l-1})",
        (Preset("20 sigmoid layers, Xavier init", SIGMOID_DEEP),
         RELU_HE_DEEP,
         Preset("20 sigmoid layers with batch norm", SIGMOID_DEEP.replace(norm="batch")),
         Preset("20 sigmoid layers with residual connections", SIGMOID_DEEP.replace(res=True))),
        ("With sigmoid the gradient-norm profile falls by more than ten orders of magnitude from the last layer "
         "to the first (log axis); with ReLU and He init it stays within about a factor of ten.",
         "Batch norm and residual connections each bring the first layer's gradient back within a few orders "
         "of magnitude of the last, with the same sigmoid.",
         "Train each: the sigmoid network's loss hardly moves, the others learn the spiral."),
    ),
    Lesson(
        "RNN vs LSTM on a long-range dependency",
        "The task: read a symbol, then 50 distractors, then say which symbol came first. The gradient that "
        "teaches the network to keep the first symbol must flow back through all 50 steps. In a plain RNN each "
        "step multiplies it by the recurrent weights and the tanh slope, so it shrinks geometrically when W_hh's "
        "spectral radius is below 1. An LSTM carries a cell state that is only scaled by its forget gate: with "
        "the gate near 1 (a positive forget-gate bias) the gradient reaches the first step almost intact.",
        r"\frac{\partial h_T}{\partial h_t} = \prod_{k=t+1}^{T} \operatorname{diag}\!\big(\tanh'(a_k)\big) "
        r"W_{hh}, \qquad c_t = f_t \odot c_{t-1} + i_t \odot g_t \ \Rightarrow\ "
        r"\frac{\partial c_T}{\partial c_t} = \prod_{k=t+1}^{T} \operatorname{diag}(f_k)",
        (Preset("Recall the first of 50 tokens: RNN, LSTM, GRU", GradientsSpec(mode="time")),
         Preset("… of 100 tokens", GradientsSpec(mode="time", T=100))),
        ("Before training, ‖∂L/∂h_t‖ of the tanh RNN falls by orders of magnitude from the last step back to the "
         "first, while the LSTM's cell-state gradient stays nearly flat.",
         "Train: the LSTM and GRU reach 100% recall within a few hundred steps, the tanh RNN stays far below and "
         "the ReLU RNN near chance (25%).",
         "Raise the spectral radius ρ above 1 and watch the vanilla RNN's gradients explode instead."),
    ),
    Lesson(
        "Overfitting and regularization",
        "A big network on few noisy points can memorize them: the training loss goes to zero while the test "
        "loss, after an early minimum, climbs (high variance). Regularization trades a little bias for less "
        "variance: an L2 penalty keeps the weights small, dropout trains a random sub-network at every step so "
        "no unit can rely on another, and early stopping keeps the weights from the moment the held-out loss "
        "was lowest. (Course note 000 once writes the penalty as L(ω) − ½α‖ω‖²; it is added, + ½α‖ω‖², as the "
        "note's own L2 section has it.)",
        r"L = \frac{1}{N}\sum_i \ell(f(x_i), y_i) + \lambda \sum w^2, \qquad "
        r"\tilde h = \frac{m \odot h}{1 - p},\ m_j \sim \mathrm{Bernoulli}(1 - p), \qquad "
        r"\mathbb E\,(y - \hat f)^2 = \text{bias}^2 + \text{variance} + \sigma^2",
        (Preset("50 noisy points, 3 × 16 ReLU, no regularization", OVERFIT),
         Preset("… with L2 = 0.01", OVERFIT.replace(l2=0.01)),
         Preset("… with dropout 0.3", OVERFIT.replace(dropout=0.3)),
         Preset("… with early stopping (patience 20 epochs)", OVERFIT.replace(patience=20))),
        ("Without regularization the training accuracy reaches 100% and the boundary curls around single "
         "points, while the test loss rises far above its early minimum.",
         "L2 and dropout keep the boundary smooth and the test loss several times lower after 1,500 steps.",
         "Early stopping ends the run once the test loss has not improved for 20 epochs (its patience) and "
         "restores the weights from its lowest point. It watches validation points drawn apart from the training "
         "and the test points, so the test loss stays an honest estimate (the Generalization page shows the "
         "optimism of stopping on the test set itself)."),
    ),
    Lesson(
        "Loss landscapes and sharpness",
        "A network has thousands of weights, so a picture of its loss is a slice: the loss at θ + αd₁ + βd₂ for "
        "two directions. Random directions must be scaled like the weights they move, filter by filter (Li et "
        "al.): otherwise the picture shows the scale of each layer more than the loss, and the same network "
        "with rescaled (but equivalent) weights would look sharper or flatter. The minimum's curvature, the "
        "Hessian's largest eigenvalue λmax, is its sharpness; plain gradient descent with step η can only settle "
        "where λmax < 2/η. The training path itself lies almost entirely in a plane: the first two principal "
        "components of the weights it visited.",
        r"L(\theta^* + \alpha d_1 + \beta d_2), \qquad d_{i,j} \leftarrow \frac{d_{i,j}}{\lVert d_{i,j}\rVert}"
        r"\,\lVert \theta_{i,j} \rVert \ \text{(filter } j \text{ of layer } i\text{)}, \qquad "
        r"\lambda_{\max} < \frac{2}{\eta}",
        (Preset("Filter-normalized random directions", LandscapeSpec()),
         Preset("The PCA plane of the training path", LandscapeSpec(dirs="pca"))),
        (f"Press “Train 500 steps” twice ({LANDSCAPE_PRESETS['circle'][0]}): the trained weights, at the centre, "
         "are then the lowest point of the filter-normalized slice. Switch the directions to “not normalized” "
         "and compare.",
         "The curvature panel shows λmax well below 2/η: gradient descent could not stay in a minimum sharper "
         "than that.",
         "In the PCA plane the path curves down into the minimum; the axis titles show that the first two "
         "components hold over 99% of its movement."),
    ),
    Lesson(
        "Attention: reversal and induction heads",
        "Self-attention lets every position take a weighted average of every other position's value, with "
        "weights from query–key similarity. To reverse a sequence, position i must read position n − 1 − i: the "
        "attention matrix has to become the anti-diagonal, and a one-layer transformer learns exactly that. "
        "Induction (finding an earlier occurrence of the current token and copying what followed it) needs two "
        "layers working together, and it tends to appear suddenly after a long plateau.",
        r"\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}}\right) V",
        (Preset("Reverse a sequence of 8 tokens", AttentionSpec()),
         Preset("Induction heads (2 layers, attention only)", INDUCTION)),
        ("On reversal the heatmap turns from a blur into the anti-diagonal that the orange dots mark, and the "
         "held-out accuracy reaches 100% within a few hundred steps.",
         "On induction the loss sits on a plateau, then drops within a few hundred steps as a head in layer 2 "
         "starts attending to the token after the previous occurrence.",
         "Type your own sequence to check the model, or switch a head off to see which one does the work."),
    ),
    Lesson(
        "Diffusion: forward process, schedule, denoising",
        "A diffusion model learns to undo noise. The forward process adds a little Gaussian noise at each of T "
        "steps; in closed form x_t is the data scaled by √ᾱ_t plus noise scaled by √(1 − ᾱ_t), where ᾱ_t is the "
        "product of the (1 − β_s) so far. The schedule β_t decides how fast the signal fades, and it must end "
        "with ᾱ_T ≈ 0, so that x_T is pure N(0, I) noise: that is where sampling starts. A network ε_θ(x_t, t) "
        "is trained to tell which noise was added; sampling runs the chain backwards from fresh noise, removing "
        "the predicted noise step by step.",
        r"x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \quad "
        r"\bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s), \quad "
        r"L = \mathbb E_{t, x_0, \varepsilon} \big\lVert \varepsilon - \varepsilon_\theta(x_t, t) \big\rVert^2",
        (Preset("Two moons halfway through the linear schedule (t = 500 of 1000)", DiffusionSpec(), HALFWAY),
         Preset("… through the cosine schedule", DiffusionSpec(schedule="cosine"), HALFWAY),
         Preset("Only T = 50 steps of the same β range", DiffusionSpec(T=50))),
        ("Forward process tab: with the linear schedule less than a tenth of the signal variance is left at "
         "t = T/2 (ᾱ ≈ 0.08) and ᾱ_T ≈ 4·10⁻⁵; the cosine schedule fades more evenly and keeps about half at T/2.",
         "Train: samples drawn from the same noise each time turn from a round blob into two moons; the "
         "normalized MMD² falls from 1 (as far as noise) towards 0 (as close as a fresh sample of the data) "
         "within about a thousand steps.",
         "With T = 50 the page warns that ᾱ_T ≈ 0.6 is far from 0: sampling starts from noise the network never "
         "saw at t = T, and the samples come out distorted."),
    ),
    Lesson(
        "Convolution: shared weights, equivariance, invariance",
        "A convolutional layer is a dense layer with two constraints: each output sees only a k × k patch "
        "(locality) and every position uses the same kernel (weight sharing). So it needs k²·C_in·C_out weights "
        "whatever the image size, and it commutes with shifts: shifting the image shifts its feature maps "
        "(equivariance). Pooling then coarsens the map, and averaging it over all positions forgets where a "
        "feature was: the class scores barely move when the object does (invariance). An MLP with as many "
        "parameters has neither property: a shifted image is a new input to it.",
        r"(w * x)[i, j] = \sum_{a, b} w[a, b]\, x[i + a, j + b], \qquad "
        r"w * (\operatorname{shift}_\delta x) = \operatorname{shift}_\delta (w * x), \qquad "
        r"n_\text{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1",
        (Preset("Centred shapes, tested 3 pixels lower", CENTRED_SHAPES, SHIFT_VIEW),
         Preset("The same with circular padding", CENTRED_SHAPES.replace(pad="circular"), SHIFT_VIEW)),
        ("Train for a few hundred steps: both networks classify the centred shapes almost perfectly, with about "
         "2,600 parameters each.",
         "Shift tab: layer 1's equivariance error is 0 (to rounding): shift, then convolve, equals convolve, then "
         "shift. With zero padding it is measured away from the border; circular padding makes the whole map "
         "exact.",
         "Moved 3 pixels, the CNN still gets nearly every held-out shape right while the MLP falls towards "
         "chance: it never saw a shape there.",
         "Arithmetic tab: set your own stack and click an output unit to see what its receptive field covers."),
    ),
    Lesson(
        "Adversarial examples and adversarial training",
        "The gradient of the loss with respect to the input says which pixels matter (saliency). Moving every "
        "pixel a little in the direction that increases the loss, x + ε·sign(∇ₓL) (the fast gradient sign "
        "method), changes the image invisibly for a person and the prediction often completely: in many "
        "dimensions many small changes add up. (Course note 004 writes x − ε∇ₓJ; it is x + ε·sign(∇ₓJ): the "
        "minus sign would lower the loss and make the example easier.) Iterating smaller steps within the same "
        "ε-box (BIM / PGD) is stronger still. Training on such examples (adversarial training) buys robustness at "
        "that ε.",
        r"x' = \operatorname{clip}_{[0,1]}\big(x + \varepsilon \operatorname{sign}(\nabla_x L(f(x), y))\big), "
        r"\qquad \min_\theta\ \tfrac12 L(f(x), y) + \tfrac12 L(f(x'), y)",
        (Preset("Digits: FGSM at 2 grey levels, with an adversarially trained copy",
                CnnSpec(adv=True), ATTACK_VIEW),
         Preset("… the same under BIM / PGD", CnnSpec(adv=True, attack="bim"), ATTACK_VIEW)),
        ("The standard CNN gets about 99% of the held-out digits right; moved by 2 of 16 grey levels per pixel "
         "(FGSM), fewer than half. The copy trained on FGSM examples keeps well over twice as many.",
         "The perturbation is ±ε on almost every pixel (clipped where the digit is already black or white), yet "
         "the digit looks the same.",
         "BIM / PGD pushes every curve lower than FGSM at the same ε: the one-step attack is the weak one.",
         "The saliency maps show where the loss is sensitive: for the CNN mostly on and around the strokes."),
    ),
    Lesson(
        "Variational autoencoders: the ELBO and the reparameterization trick",
        "An autoencoder squeezes each example through a small code z and decodes it back; nothing makes its codes "
        "fill a known region, so a random z may decode to nothing in particular. A VAE encodes x as a Gaussian "
        "q(z|x) = N(μ(x), σ(x)²), decodes a sample of it, and pays the KL divergence from the prior N(0, I) for "
        "every bit of information it keeps: the negative ELBO, reconstruction + KL, bounds −log p(x) from above. "
        "Sampling z would block the gradient; writing z = μ + σ·ε with ε ~ N(0, I) (the reparameterization "
        "trick) makes z a differentiable function of the encoder's outputs. Weight the KL by a large β and the "
        "posterior collapses: every q(z|x) becomes the prior and the decoder ignores z.",
        r"-\mathrm{ELBO}(x) = \mathbb E_{q(z|x)}\big[-\log p(x \mid z)\big] + "
        r"\mathrm{KL}\big(q(z|x)\,\|\,\mathcal N(0, I)\big), \quad z = \mu(x) + \sigma(x) \odot \varepsilon, "
        r"\quad \mathrm{KL} = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)",
        (Preset("Digits in a 2-D latent space, beside a plain autoencoder", VAE),
         Preset("Their samples from the prior", VAE, VAE_SAMPLES),
         Preset("Without the reparameterization trick", VAE.replace(reparam=False), VAE_TRAINING),
         Preset("β = 20: posterior collapse", VAE.replace(beta=20.0), VAE_TRAINING)),
        ("Latent space: within a thousand steps the held-out digits sort themselves into clouds by class, nine in "
         "ten inside the prior's 2σ circle, and the decoded grid turns from one blur into all ten digits, morphing "
         "smoothly from one to the next. The −ELBO falls from about 54 to under 25.5 nats per digit (Bernoulli "
         "pixels).",
         "The autoencoder's codes sit wherever its training put them, off-centre and at their own scale; its "
         "decoder, fed the same prior samples z ~ N(0, I), draws some digits far more often than others and some "
         "hardly ever, where the VAE draws every digit about as often.",
         "Without the trick the reconstruction term sends the encoder exactly zero gradient: only the KL term "
         "trains it, every q(z|x) becomes N(0, I), the KL falls to 0, no latent unit stays active, and every "
         "decoded sample is the same average digit.",
         "At β = 20 the KL falls to 0 and the active units to 0 as well, though the gradient flows: the "
         "penalty for using z outweighs what z is worth to the reconstruction."),
    ),
    Lesson(
        "GANs: the minimax game and mode collapse",
        "A GAN trains two networks against each other. The discriminator D learns to tell real points from "
        "generated ones; the generator G learns to make D call its points real. At the game's optimum G draws the "
        "data's distribution and D(x) = ½ everywhere. The original generator loss, log(1 − D(G(z))), has almost "
        "no gradient exactly where D rejects G's points most surely; the non-saturating loss −log D(G(z)) has "
        "the same optimum and its strongest gradient there. Here G starts collapsed (all its noise mapped to one "
        "point) and D learns 2.5 times as fast as G, so D soon rejects G's points with confidence.",
        r"\min_G \max_D\ \mathbb E_{x}\big[\log D(x)\big] + \mathbb E_{z}\big[\log(1 - D(G(z)))\big], "
        r"\qquad D^*(x) = \frac{p_\text{data}(x)}{p_\text{data}(x) + p_G(x)}, \qquad "
        r"\text{non-saturating: } \min_G\ -\mathbb E_z\big[\log D(G(z))\big]",
        (GAN_HEALTHY, GAN_COLLAPSE),
        ("Non-saturating: the purple points leave the centre, reach the ring and spread along it: by step 5,000 "
         "seven or eight of the eight modes are covered, over 90% of the samples high quality. The warped latent "
         "grid shows how G stretches one plane over separate blobs.",
         "Minimax, same seed, same start: the points settle on at most three modes (or short of the ring), and "
         "five or more modes stay empty: a collapse. Where exactly they settle can differ from one "
         "computer to another: floating-point rounding differs between CPUs, and the game amplifies it.",
         "What D says: in the healthy game D(real) and D(G(z)) hover near ½; in the collapsed one D wins (about "
         "0.75 against 0.25), and that is exactly where the minimax loss gives G the least gradient.",
         "Press Step D and Step G to play the game one move at a time, or set the speed to 5 steps a second."),
    ),
    Lesson(
        "Bias, variance and double descent",
        "Refit a model on many fresh training sets and its predictions at a point scatter around their mean. The "
        "expected test error is then exactly three terms: the squared bias (how far the mean prediction is from "
        "the truth), the variance (how far single fits scatter around their mean), and the noise σ², which no "
        "model removes. A straight line for sin(πx) is all bias; a degree-12 polynomial through 40 noisy points "
        "is all variance. Past the interpolation threshold, where the features first reach rank N and least "
        "squares fits every point, the minimum-norm solution's test error falls again: the second descent. "
        "Random Fourier features are generic: N of them (give or take a few) reach rank N, and the test error "
        "peaks right there, the textbook picture. For ReLU hinges on 1-D inputs that threshold lies about six "
        "times above N (a new hinge adds a direction only where it separates two inputs no hinge separates yet), "
        "and the test error peaks well before it, where the hinges first number about as many as the points. "
        "Ridge flattens the peak.",
        r"\mathbb E\big[(y - \hat f(x))^2\big] = \big(\mathbb E \hat f(x) - f(x)\big)^2 + "
        r"\operatorname{Var} \hat f(x) + \sigma^2, \qquad \hat w = \Phi^\top (\Phi \Phi^\top)^{+} y "
        r"\ \text{(minimum norm)}, \qquad \hat w_\alpha = \Phi^\top (\Phi \Phi^\top + \alpha I)^{-1} y",
        (Preset("Degree 1: a line for sin(πx)", GeneralizationSpec(degree=1)),
         Preset("Degree 3", GeneralizationSpec()),
         Preset("Degree 12", GeneralizationSpec(degree=12)),
         Preset("The sweep over random Fourier features", SWEEP.replace(family="fourier")),
         Preset("The sweep over random ReLU features", SWEEP),
         Preset("… with ridge α = 0.001", SWEEP.replace(alpha=0.001))),
        ("Degree 1: bias² (about 0.2) is more than five times the variance; degree 12: the variance is more than "
         "ten times the bias², and the test error is hundreds of times σ². Degree 3 has the lowest test error of "
         "the three, about 0.11 against σ² = 0.09.",
         "In every setting the bars agree: bias² + variance + σ² equals the test error measured on noisy "
         "held-out labels within 3 standard errors.",
         "Fourier features: the interpolation threshold is within a quarter of N above N, and the median test "
         "error peaks there, at least ten times above its lowest point, then falls again.",
         "ReLU hinges: the training error reaches 0 at the interpolation threshold, between 4 and 8 times N, and "
         "stays there; the median test error first follows a U (lowest at a few hinges), rises to a peak at "
         "between 1 and 3 times N, and falls again past the threshold.",
         "With ridge α = 0.001 the dashed test error stays below 1 at every width: the peak is gone."),
    ),
    Lesson(
        "Regularization and early stopping",
        "Ridge regression (L2) shrinks the least-squares fit along each eigendirection of the data's features by "
        "λᵢ / (λᵢ + α): what the data pin down stays, the rest goes, and the sum of these factors is the "
        "model's effective number of parameters. Adding Gaussian noise of variance s² to a linear model's inputs "
        "is, in expectation, the same penalty with α = N s². L1 (the lasso) penalizes |w| instead: its corner at "
        "0 sets weights exactly to zero. Early stopping regularizes a network by time: keep the weights from the "
        "step where the error on validation points was lowest, and leave the test set out of every choice, or "
        "its error is no longer an honest estimate.",
        r"\hat w_\alpha = \sum_i \frac{\lambda_i}{\lambda_i + \alpha} (v_i^\top \hat w_\text{LS})\, v_i, "
        r"\qquad \mathbb E_E \|y - (\Phi + E) w\|^2 = \|y - \Phi w\|^2 + N s^2 \|w\|^2, \qquad "
        r"\min_w \|y - \Phi w\|^2 + \lambda \|w\|_1",
        (Preset("Ridge, input noise and L1 on 60 ReLU features", SHRINKAGE),
         Preset("An MLP trained past its best", EARLY_STOPPING),
         Preset("… choosing with 10 validation points", EARLY_STOPPING.replace(validation=10))),
        ("At α = 0.01 the 60 features keep about 4.5 effective parameters; the shrinkage chart shows each "
         "direction fading out as α passes its eigenvalue.",
         "Least squares on 1,000 noisy copies of the inputs (s = 0.1) lands within about 10% of ridge with "
         "α = N s² = 0.4, closing in like 1/√copies.",
         "At the same training error the lasso sets more than 50 of the 60 weights exactly to zero, ridge only "
         "the features that are zero on every training input.",
         "The MLP's test error falls to about 0.10, then climbs as it fits the noise (past 0.25 by step 3,000); "
         "the network kept at the validation minimum scores within 10% of the best test error at any step.",
         "With 10 validation points the validation curve is noisier and its minimum lands elsewhere; the test set "
         "is what would tell, and it must not be asked."),
    ),
    Lesson(
        "Backpropagation by hand",
        "A network computes forward: each unit sums its inputs times their weights, a = Σ w z + b, and applies its "
        "activation, z = h(a). Backpropagation runs the chain rule backward, one unit at a time: the output's "
        "δ = ∂L/∂a is p − y (sigmoid with cross-entropy, or a linear output with ½(z − y)²), a unit below gets "
        "δ = h′(a) Σ w δ from the units it feeds, and every weight's gradient is the δ above it times the z below "
        "it. Check a backward pass as the notes do: nudge each weight and compare the loss's change (a central "
        "finite difference) with the gradient. Small networks can be built by hand: XOR from two ReLU "
        "hyperplanes, max(a, b) = ReLU(a − b) + b, AND with a single unit. Swapping two hidden units with all "
        "their weights leaves the function unchanged: weight space is full of copies of every solution.",
        r"a_j = \sum_i w_{ji} z_i + b_j,\quad z_j = h(a_j), \qquad \delta_j = h'(a_j) \sum_k w_{kj} \delta_k, "
        r"\qquad \frac{\partial L}{\partial w_{ji}} = \delta_j z_i, \qquad "
        r"\frac{\partial L}{\partial w} \approx \frac{L(w + h) - L(w - h)}{2h}",
        (Preset("XOR from two ReLU hyperplanes", XOR_BY_HAND),
         Preset("max(a, b) = ReLU(a − b) + b", MAX_BY_HAND),
         Preset("AND with one unit", AND_BY_HAND),
         Preset("A 2 × 3 tanh network on the Playground's circle, from a random start", TANH_CIRCLE)),
        ("XOR: with no training every one of the four points is right; at (1, 1) the hidden units read a = 2 and "
         "a = 1, and the output's a = 10·2 − 20·1 − 5 = −5 gives p = 0.0067.",
         "max(a, b): three ReLU units and a linear output compute it exactly: the largest error over the grid is 0.",
         "AND needs no hidden layer: one unit, σ(10x₁ + 10x₂ − 15), is right on all four points.",
         "The tanh network: every gradient agrees with its finite difference to better than one part in a "
         "million, and 100 training steps (Train 100 steps) lower the loss. Step through it with ▶ and click any "
         "unit or edge for its formula with the numbers in."),
    ),
    Lesson(
        "Tokens: byte-pair encoding",
        "A network reads text as a sequence of tokens from a fixed vocabulary. Characters need a tiny vocabulary "
        "but make long sequences; whole words make short ones but need a vocabulary as large as the text's word "
        "list, and a word never seen in training has no token at all. Byte-pair encoding sits in between. Start "
        "from the characters; count every pair of adjacent symbols in a training text; merge the most frequent "
        "pair into one new symbol everywhere; repeat for as many merges as the vocabulary may grow. Frequent "
        "words end up as one token, rare ones as a few familiar pieces, and every word can still be spelled. "
        "Merges never cross a word boundary; here “▁” stands for the space before a word (as in SentencePiece), "
        "so “▁the” is the word and “the” only part of one.",
        r"(a, b)_k = \operatorname*{arg\,max}_{(a, b)}\ n_{k-1}(a\,b), \qquad a\ b \;\to\; ab "
        r"\ \text{everywhere}, \qquad |V_k| \le |V_0| + k, \qquad "
        r"\text{tokens per word} = \frac{\#\text{tokens}}{\#\text{words}}",
        (Preset("Tiny Shakespeare's 500 merges, applied to a sentence", WordsSpec()),
         Preset("A toy dictionary: low, lower, newest, widest, after 2 merges",
                WordsSpec(bpe_from="typed", bpe_text=TOY_DICTIONARY, merges=20), {"wd_step": "2"})),
        ("Tiny Shakespeare as characters is 1,108,153 tokens from a vocabulary of 64. As whole words it is "
         "252,639 tokens, but the vocabulary needs 14,321 words. After 500 merges BPE needs 460,875 tokens "
         "(1.82 per word) from a vocabulary of 564: each merge added one token.",
         "The first merge joins the space to the most frequent first letter (▁ + t, 24,133 times), the second "
         "makes “he”, and the eleventh makes “▁the”. Drag the slider back to 0 and forward again to watch them.",
         "The sample sentence is 184 tokens at step 0 (one per character, each space a ▁), 4.8 per word. After "
         "500 merges it is 79 tokens, 2.1 per word. “▁the”, “▁to”, “▁be” and “▁and” are one token each, while "
         "“Tokenizers” and “unfamiliar”, which Shakespeare never wrote, break into six pieces each.",
         "The toy dictionary (low ×5, lower ×2, newest ×6, widest ×3): the first two merges build “est”, the "
         "suffix that newest and widest share (9 times). Then come l + o, lo + w and ▁ + low. After 15 merges "
         "every word is one token, and learning stops by itself: no pair occurs twice any more."),
    ),
    Lesson(
        "Word vectors: skip-gram with negative sampling, and LSA",
        "A word is known by the company it keeps. Skip-gram gives each word two vectors: v when it is the "
        "centre word, u when it is a context word. For each centre word c and each word o within a few places "
        "of it, training raises σ(u_o·v_c), the model's belief that o occurs near c. It also lowers σ(u·v_c) "
        "for k noise words drawn from the word frequencies raised to the power ¾. That is negative sampling: k "
        "small logistic regressions instead of a softmax over the whole vocabulary. Frequent words such as "
        "“the” tell little about their neighbours, so each occurrence of a word with frequency f is dropped "
        "from a pass with probability 1 − √(t/f) (subsampling). Words that keep the same company get similar "
        "vectors, and a relation that many pairs share becomes one direction, so a − b + c lands near d (here "
        "3CosAdd, the three query words left out). Latent semantic analysis, the count-based baseline, gets "
        "vectors in one shot: an SVD of the positive pointwise mutual information (PPMI) between words and the "
        "words around them. Course note 000 factors a word–document matrix instead; word–context counts "
        "make the fair comparison with skip-gram.",
        r"\ell(c, o) = -\log \sigma(u_o^\top v_c) - \sum_{i=1}^{k} \log \sigma(-u_{n_i}^\top v_c), \quad "
        r"n_i \sim f(w)^{3/4}, \qquad P_\text{drop}(w) = 1 - \sqrt{t / f(w)}, \qquad "
        r"\mathrm{PPMI}(w, c) = \max\!\Big(0,\ \log \frac{p(w, c)}{p(w)\, p_{3/4}(c)}\Big)",
        (Preset("Planted relations in tiny Shakespeare: king − man + woman", VECTORS,
                {"wd_view": "Neighbours and analogies"}),
         Preset("Countries and capitals: paris − france + russia",
                VECTORS.replace(relation="country-capital", a="paris", b="france", c="russia")),
         Preset("… with subsampling off", VECTORS.replace(subsample=0.0), {"wd_view": "Training"})),
        ("Before training, skip-gram answers none of the 360 planted analogies (its vectors are random). After "
         "4,000 steps, about five passes over the corpus and some 10 s on one CPU thread, it answers more than "
         "90% of them top-1. PPMI + SVD, computed once from the same counts, answers 34%.",
         "king − man + woman: by step 4,000 skip-gram's first answer is queen. PPMI + SVD's is queen too, by a "
         "hair (proud scores 0.01 less), and of all the male–female analogies it gets about half.",
         "Countries and capitals: PPMI + SVD's first answer is a capital for 97% of the 90 country–capital "
         "analogies, but the right capital for only 10%. It knows which side of the relation the answer is on, "
         "not which pair. After 4,000 steps skip-gram gets about 80% right; paris − france + russia gives moscow, "
         "which PPMI + SVD ranks 3rd.",
         "Now try paris − france + italy. In tiny Shakespeare Paris is also Juliet's suitor and Rome the city of "
         "Caesar's senators, so after 4,000 steps skip-gram still ranks rome below its top five (9th). A word "
         "has one vector for all of its meanings.",
         "Subsampling at t = 10⁻³: “the” is 7.4% of the corpus's words, so each occurrence is dropped with "
         "probability 1 − √(0.001/0.074) ≈ 0.88; paris (0.08%) is never dropped. A pass keeps about 65% of the "
         "words. With subsampling off, the same 4,000 steps answer only about half of the analogies."),
    ),
    Lesson(
        "A character-level language model",
        "A language model predicts the next symbol from the ones before it, p(c_t | c_1 … c_{t−1}). A "
        "recurrent network reads the text one character at a time, carries what it has read in its hidden "
        "state, and outputs a softmax over the alphabet. Its cross-entropy in bits per character, measured on "
        "held-out text, is the number of yes/no questions the next character costs on average. The baselines "
        "are count models: the unigram knows only how frequent each character is, the bigram only the previous "
        "character. Backpropagating through a million characters at once is out of reach, so truncated "
        "backpropagation through time cuts the text into chunks of bptt characters. The hidden state flows on "
        "from chunk to chunk, but the gradient stops at the start of its own chunk. To generate text, draw "
        "each character from softmax(z/T) and feed it back in. A temperature T below 1 sharpens the "
        "distribution, and one above 1 flattens it.",
        r"\text{bits per character} = -\frac{1}{N} \sum_{t=1}^{N} \log_2 p_\theta(c_t \mid c_{<t}), \qquad "
        r"h_t = f(h_{t-1}, x_t), \qquad p_T(c) = \frac{\exp(z_c / T)}{\sum_{c'} \exp(z_{c'} / T)}",
        (Preset("An LSTM on tiny Shakespeare", CHAR_MODEL),
         Preset("… its samples at T = 0.1", CHAR_MODEL.replace(temperature=0.1)),
         Preset("… trained on chunks of 4 characters (bptt = 4)", CHAR_MODEL.replace(bptt=4))),
        ("Untrained, the LSTM pays about log₂ 65 ≈ 6.0 bits per character, a uniform guess over tiny "
         "Shakespeare's 65 symbols. The unigram costs 4.83 bits and the bigram 3.58. After 500 steps (about 15 s "
         "on one CPU thread) the LSTM is at about 3.0 bits on the held-out 10%, already below the bigram: it uses "
         "more than the previous character.",
         "At T = 0.1 about nine characters in ten are the model's single most likely next character, and the "
         "sample loops on a few words (“the have the have …”): fewer than a third of its words are distinct.",
         "At T = 1.5 only about one character in five is the most likely one, and most of the words are "
         "invented: fewer than a quarter of them occur in the training text, against about 70% at T = 0.5.",
         "bptt = 4: a step reads 16 times fewer characters, so 2,000 steps read a quarter of what 500 steps "
         "read at bptt = 64. Yet they reach lower held-out bits (about 2.9). Early on, more updates matter more "
         "than gradients that reach far back."),
    ),
)


def lesson_label(number: int) -> str:
    """How the lesson selector (and a link to a lesson) names lesson `number` (1-based)."""
    return f"{number}. {LESSONS[number - 1].title}"


def lesson_query(number: int) -> dict[str, str]:
    """The Lessons page's query string that opens lesson `number` (the first lesson is the page's default, which
    a link leaves out)."""
    return {} if number == 1 else {"lesson": lesson_label(number)}
