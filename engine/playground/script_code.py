"""The code tables of the Playground's script export (engine.playground.script): each choice the Playground offers,
as the lines of the script that make it (its data set's generator, a feature, an activation, an initialization, an
optimizer, a schedule, a loss). A choice without an entry is refused by the exporter rather than exported wrong;
tests/test_engine_playground_script.py checks every table covers what the page offers."""

from __future__ import annotations

from engine.common.layers import CONSTANT_VALUE, LARGE_NORMAL_STD, NORMAL_STD, SMALL_NORMAL_STD, UNIFORM_LIMIT
from engine.common.optimizers import RMSPROP_ALPHA
from engine.playground.data import EXTENT

_TWO_CLASSES = "    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]\n"
_ONE_D = ("    x = np.sort(rng.uniform({lo}, {hi}, n))\n    y = {y}\n    y = y + rng.normal(0, NOISE * 0.5, len(x))\n"
          "    return x[:, None], y\n")
# Each data set's generator (engine.playground.data), as the body of `generate(rng, n)`: n points, noise NOISE.
DATA_CODE = {
    "circle": ("    radius = 5.0\n"
               "    inner = np.r_[rng.uniform(0, 0.5 * radius, n // 2),\n"
               "                  rng.uniform(0.7 * radius, radius, n - n // 2)]\n"
               "    angle = rng.uniform(0, 2 * np.pi, n)\n"
               "    x = np.c_[inner * np.cos(angle), inner * np.sin(angle)]\n"
               "    x += rng.normal(0, NOISE * radius * 0.3, x.shape)\n"
               "    y = (np.linalg.norm(x, axis=1) > 0.6 * radius).astype(int)\n    return x, y\n"),
    "xor": ("    x = rng.uniform(-5, 5, (n, 2))\n"
            "    x += np.sign(x) * 0.3  # a small margin off the axes, as TensorFlow Playground has\n"
            "    label_x = x + rng.normal(0, NOISE * 2.0, x.shape)  # noise flips labels near the axes\n"
            "    y = (label_x[:, 0] * label_x[:, 1] > 0).astype(int)\n    return x, y\n"),
    "gauss": (_TWO_CLASSES + "    centers = np.where(y[:, None] == 1, 2.0, -2.0)\n"
              "    x = centers + rng.normal(0, 1.0 + 2.5 * NOISE, (n, 2))\n    return x, y\n"),
    "spiral": (_TWO_CLASSES + "    t = np.r_[np.linspace(0, 1, n // 2), np.linspace(0, 1, n - n // 2)]\n"
               "    r = 5.0 * t\n    angle = 1.75 * 2 * np.pi * t + np.pi * y\n"
               "    x = np.c_[r * np.sin(angle), r * np.cos(angle)] + rng.normal(0, NOISE * 1.0, (n, 2))\n"
               "    return x, y\n"),
    "moons": (_TWO_CLASSES + "    angle = rng.uniform(0, np.pi, n)\n"
              "    x = np.where(y[:, None] == 0, np.c_[np.cos(angle), np.sin(angle)],\n"
              "                 np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])\n"
              "    x = (x - [0.5, 0.25]) * 3.0 + rng.normal(0, NOISE * 1.2, (n, 2))\n    return x, y\n"),
    "checkerboard": ("    x = rng.uniform(-5.5, 5.5, (n, 2))\n"
                     "    cells = np.floor((x + rng.normal(0, NOISE * 1.0, x.shape)) / 2.75).astype(int)\n"
                     "    y = (cells.sum(axis=1) % 2).astype(int)\n    return x, y\n"),
    "multiclass": ("    y = np.arange(n) % N_CLASSES\n    angle = 2 * np.pi * y / N_CLASSES + np.pi / 2\n"
                   "    centers = 3.5 * np.c_[np.cos(angle), np.sin(angle)]\n"
                   "    x = centers + rng.normal(0, 0.8 + 2.0 * NOISE, (n, 2))\n    return x, y\n"),
    "plane": ("    x = rng.uniform(-5, 5, (n, 2))\n"
              "    y = (x[:, 0] + x[:, 1]) / 10.0 + rng.normal(0, NOISE * 0.5, n)\n    return x, np.clip(y, -1, 1)\n"),
    "bumps": ("    x = rng.uniform(-5, 5, (n, 2))\n"
              "    centers = np.array([[-2.5, -2.5], [2.5, 2.5], [-2.5, 2.5], [2.5, -2.5]])\n"
              "    signs = np.array([1.0, 1.0, -1.0, -1.0])\n"
              "    d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)\n"
              "    y = (signs * np.exp(-d2 / 4.0)).sum(axis=1) + rng.normal(0, NOISE * 0.5, n)\n"
              "    return x, np.clip(y, -1, 1)\n"),
    **{kind: _ONE_D.format(lo=-EXTENT, hi=EXTENT, y=y) for kind, y in (
        ("sine", "np.sin(x)"), ("step", "np.where(x > 0, 1.0, -1.0)"), ("abs", "np.abs(x) / 3.0 - 1.0"))},
}
FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1_sq": "x1 * x1", "x2_sq": "x2 * x2", "x1x2": "x1 * x2",
                "sin_x1": "torch.sin(x1)", "sin_x2": "torch.sin(x2)"}
# "step" is no entry: the Playground refuses it except for the perceptron rule, which has no hidden layer.
ACTIVATION_CODE = {"linear": "nn.Identity()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "relu": "nn.ReLU()",
                   "leaky_relu": "nn.LeakyReLU(0.01)", "elu": "nn.ELU()", "selu": "nn.SELU()", "gelu": "nn.GELU()"}
INIT_CODE = {  # engine.common.layers.init_linear_, with `weight`, `fan_in`, `fan_out` and `generator`
    "zeros": "weight.zero_()",
    "constant": f"weight.fill_({CONSTANT_VALUE!r})",
    "uniform": f"weight.uniform_(-{UNIFORM_LIMIT!r}, {UNIFORM_LIMIT!r}, generator=generator)",
    "normal": f"weight.normal_(0.0, {NORMAL_STD!r}, generator=generator)",
    "small_normal": f"weight.normal_(0.0, {SMALL_NORMAL_STD!r}, generator=generator)",
    "large_normal": f"weight.normal_(0.0, {LARGE_NORMAL_STD!r}, generator=generator)",
    "xavier_uniform": "limit = math.sqrt(6.0 / (fan_in + fan_out))\n"
                      "        weight.uniform_(-limit, limit, generator=generator)",
    "xavier_normal": "weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)",
    "he": "weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)",
    "lecun": "weight.normal_(0.0, math.sqrt(1.0 / fan_in), generator=generator)",
    "orthogonal": "nn.init.orthogonal_(weight, generator=generator)",
}
# engine.common.optimizers.make_optimizer. RMSProp's momentum: the job sets the momentum control's value on
# every optimizer whose parameter groups have one (PlaygroundTrainer.apply_hyperparameters, called when the
# job is built), RMSProp's too, though the page shows that control for momentum and Nesterov only.
OPTIMIZER_CODE = {
    "sgd": "torch.optim.SGD(parameters, lr=LR)",
    "momentum": "torch.optim.SGD(parameters, lr=LR, momentum=MOMENTUM)",
    "nesterov": "torch.optim.SGD(parameters, lr=LR, momentum=MOMENTUM, nesterov=True)",
    "adagrad": "torch.optim.Adagrad(parameters, lr=LR)",
    "rmsprop": f"torch.optim.RMSprop(parameters, lr=LR, alpha={RMSPROP_ALPHA!r}, momentum=MOMENTUM)",
    "adam": "torch.optim.Adam(parameters, lr=LR)",
    "adamw": "torch.optim.AdamW(parameters, lr=LR, weight_decay=L2)  # L2 is decoupled weight decay here",
    "rprop": "torch.optim.Rprop(parameters, lr=LR)",
    "perceptron": "",  # none: the perceptron rule updates the weights by hand (perceptron_update)
}
SCHEDULE_CODE = {  # engine.common.schedules: the rate at `epoch` (fractional, counted after this step's batch)
    "constant": "LR",
    "step": "LR * GAMMA ** math.floor(epoch / PERIOD)",
    "exponential": "LR * GAMMA**epoch",
    "power": "LR * (1.0 + epoch / PERIOD) ** -POWER",
    "cosine": "LR * (0.5 * (1.0 + math.cos(math.pi * min(epoch, PERIOD) / PERIOD)))",
    "plateau": "LR * plateau.scale",
}
LOSS_CODE = {  # model.data_loss, by (task, number of outputs is one, loss)
    ("regression", True, "mse"): "F.mse_loss(output[:, 0], target)",
    ("binary", True, "bce"): "F.binary_cross_entropy_with_logits(output[:, 0], target.float())",
    ("binary", True, "mse"): "F.mse_loss(torch.sigmoid(output[:, 0]), target.float())",
    ("classes", False, "ce"): "F.cross_entropy(output, target)",
    ("classes", False, "bce"): "F.binary_cross_entropy_with_logits(output, F.one_hot(target, N_OUTPUTS).float())",
    ("classes", False, "mse"): "F.mse_loss(torch.softmax(output, dim=1), F.one_hot(target, N_OUTPUTS).float())",
}
