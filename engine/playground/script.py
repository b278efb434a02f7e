"""A Playground experiment as one self-contained Python script to take home (issue 22, "Take it home").

    text = playground_script(spec)                                   # a PlaygroundSpec: its config, hp and seed
    text = playground_script(config, hyperparameters, seed, steps=500)   # what a job runs (snapshot.config, ...)

The script needs only torch and numpy. It regenerates the same data (the same NumPy generator calls; an
uploaded CSV's points are embedded as a literal array, exact to the last bit), builds the same network with the
same initial weights (regenerated, not embedded: the same torch generator, seeded with the job's seed, makes
the same calls in the same order: each layer's init, then the first minibatch order, then at every step the
dropout masks and at every epoch end the next order), trains with the same optimizer, schedule, penalties,
clipping and minibatches, stops where the job stops (divergence, the perceptron's convergence, early stopping,
the stop-after-epoch and target-loss controls), and prints every step's training loss. On a CPU with one torch
thread they equal the job's (tests/test_engine_playground_script.py runs them against the trainer). What it
cannot replay: hyperparameters changed live while the job trained (it trains with the given values from step 0)
and a run on a GPU (other kernels, other rounding).

The script mirrors PlaygroundTrainer, data.make_dataset and model.PlaygroundNet line for line, as text: each
choice the Playground offers is one entry of a table (engine.playground.script_code), and a choice without an
entry is refused with ConfigError rather than exported wrong (a test checks every table covers what the page
offers).

Which other pages a script export fits, and why not the others:
- Optimizers: fits next: a 2-D test function, a start point and closed-form update rules, a few lines of NumPy.
- Gradient Flow: fits: a deep MLP or RNN on generated data with seeded init, like this Playground's network.
- Generalization: fits: NumPy least squares on polynomial or random features (the live MLP like this one).
- CNN: fits with care: generated shapes fit in the script; the digits data set would have to be embedded (~1 MB).
- Generative (VAE, GAN): fits with care: 2-D points are generated; digits as for the CNN; two optimizers' order.
- Diffusion: fits with care: 2-D data, a small network and a noise schedule; sampling needs its own streams.
- Attention: fits with care: generated sequence tasks and a small transformer (~200 lines of script).
- Words: not yet: tiny Shakespeare's text (1 MB) and the learned BPE merges would have to travel with it.
- Loss Landscape: no: it analyses the Playground's network; export the Playground's run and its weights.
- Backprop by hand: no: one forward and backward pass in float64 NumPy, already all on the page.
- Lessons, Home: no: they link to experiments and train nothing themselves.
"""

from __future__ import annotations

import dataclasses
import pprint
from typing import Any, Mapping

from engine.common.layers import INIT_SCHEMES
from engine.common.limits import ConfigError
from engine.common.optimizers import OPTIMIZERS
from engine.common.schedules import LearningRateSchedule
from engine.playground.config import DEFAULT_HYPERPARAMETERS, PlaygroundConfig, n_outputs
from engine.playground.data import VALIDATION_STREAM, Dataset, make_dataset
from engine.playground.script_code import (ACTIVATION_CODE, DATA_CODE, FEATURE_CODE, INIT_CODE, LOSS_CODE,
                                           OPTIMIZER_CODE, SCHEDULE_CODE)
from engine.playground.spec import PlaygroundSpec

DEFAULT_STEPS = 200
# The runtime's own stop rules (engine.runtime.job.Job.BASE_HYPERPARAMETERS), which the script keeps too.
JOB_STOP_RULES = {"stop_at_epoch": None, "target_loss": None}


def playground_script(experiment: PlaygroundSpec | PlaygroundConfig, hyperparameters: Mapping[str, Any] | None = None,
                      seed: int | None = None, steps: int = DEFAULT_STEPS) -> str:
    """The script of `experiment`: a PlaygroundSpec (its hyperparameters and seed unless given; an uploaded
    data set needs the config, `spec.config(uploaded)`) or a PlaygroundConfig with the job's `hyperparameters`
    and trainer `seed` (default: the data's seed, as the page uses one seed for both). `steps`: how many the
    script trains unless told `--steps`. Raises ConfigError for what the Playground cannot train."""
    if isinstance(experiment, PlaygroundSpec):
        config = experiment.config()
        hyperparameters = experiment.hyperparameters() if hyperparameters is None else hyperparameters
        seed = experiment.job_seed() if seed is None else seed
    else:
        config = experiment
    hp = {**DEFAULT_HYPERPARAMETERS, **JOB_STOP_RULES, **(hyperparameters or {})}
    seed = config.data.seed if seed is None else int(seed)
    dataset = _checked(config, hp)
    sections = [_header(config, hp, seed, steps, dataset), _constants(config, hp, seed, steps, dataset),
                _data_section(config, dataset, early_stopping=bool(hp["patience"])), _model_section(config, dataset),
                _training_section(config, hp, dataset), _MAIN]
    return "\n\n\n".join(section.strip("\n") for section in sections) + "\n"


def _checked(config: PlaygroundConfig, hp: Mapping[str, Any]) -> Dataset:
    """The data set, once the experiment is one the Playground trains and the script can write."""
    try:
        dataset = make_dataset(config.data)
        config.validate(dataset)
        LearningRateSchedule(hp["schedule"], float(hp["schedule_gamma"]), float(hp["schedule_period"]),
                             float(hp["schedule_power"]))
    except ValueError as error:
        raise ConfigError(f"The Playground cannot train this experiment, so there is no script of it: {error}") \
            from None
    size = int(hp["batch_size"])
    if not 1 <= size <= 1024:
        raise ConfigError(f"The batch size must be between 1 and 1024, not {size}.")
    if config.batch_norm and min(size, len(dataset.x_train)) < 2:
        raise ConfigError("Batch norm needs a batch of at least 2.")
    missing = [f"{what} {name!r}" for what, name, table in (
        ("data set", config.data.kind, {**DATA_CODE, "csv": ""}), ("weight init", config.init, INIT_CODE),
        ("optimizer", config.optimizer, OPTIMIZER_CODE), ("schedule", hp["schedule"], SCHEDULE_CODE),
        *(("activation", name, ACTIVATION_CODE) for name in config.activations),
        *(("feature", name, FEATURE_CODE) for name in config.features)) if name not in table]
    if missing:
        raise ConfigError(f"The script export does not know the {', '.join(missing)} yet.")
    return dataset


def _header(config: PlaygroundConfig, hp: Mapping[str, Any], seed: int, steps: int, dataset: Dataset) -> str:
    data = dataclasses.asdict(config.data)
    if config.data.uploaded:
        data["uploaded"] = f"{len(config.data.uploaded)} points, in POINTS below"
    experiment = {"config": {**dataclasses.asdict(config), "data": data}, "hyperparameters": dict(hp), "seed": seed}
    layers = " → ".join([f"{len(config.features)} features", *(f"{w} {a}" for w, a in zip(config.hidden,
                                                                                          config.activations)),
                         f"{n_outputs(config, dataset)} output"])
    return f'''"""A Gradscape Network Playground experiment as a script: {config.data.kind} data, {layers},
{INIT_SCHEMES[config.init].label} init, {OPTIMIZERS[config.optimizer]} at learning rate {hp["lr"]:g}, seed {seed}.

It regenerates the Playground's data, builds its network with the same initial weights (the same seeded
generator calls, in the same order) and trains it with the same optimizer, schedule and minibatches, printing
the training loss of every step. On a CPU with one torch thread (float32) they are the losses the Playground's
job computed. It trains with these hyperparameters from step 0: changes made live while the job ran are not in
it. Needs only torch and numpy:

    python this_script.py --steps {steps}
"""

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The experiment as Gradscape holds it (engine.playground: PlaygroundConfig, the job's hyperparameters, seed).
EXPERIMENT = {pprint.pformat(experiment, width=110, sort_dicts=False).replace(chr(10), chr(10) + " " * 13)}
'''


def _constants(config: PlaygroundConfig, hp: Mapping[str, Any], seed: int, steps: int, dataset: Dataset) -> str:
    perceptron = config.optimizer == "perceptron"
    values = {
        "STEPS": steps,
        "SEED": seed,  # the trainer's torch generator: initial weights, minibatch orders, dropout masks
        "DATA_SEED": config.data.seed, "TRAIN_FRACTION": config.data.train_fraction,
        "FEATURES": tuple(config.features), "HIDDEN": tuple(config.hidden), "BATCH_NORM": config.batch_norm,
        "DROPOUT": config.dropout, "N_OUTPUTS": n_outputs(config, dataset), "PERCEPTRON": perceptron,
        "LR": float(hp["lr"]), "MOMENTUM": float(hp["momentum"]), "L1": float(hp["l1"]),
        "L2": float(hp["l2"]), "BATCH_SIZE": int(hp["batch_size"]),
        "CLIP_NORM": float(hp["clip_norm"]) if hp["clip_norm"] else None,
        "GAMMA": float(hp["schedule_gamma"]), "PERIOD": float(hp["schedule_period"]),
        "POWER": float(hp["schedule_power"]), "PATIENCE": int(hp["patience"]) if hp["patience"] else None,
        "STOP_AT_EPOCH": int(hp["stop_at_epoch"]) if hp["stop_at_epoch"] else None,
        "TARGET_LOSS": float(hp["target_loss"]) if hp["target_loss"] is not None else None,
    }
    if config.data.kind != "csv":
        values |= {"N_POINTS": config.data.n_points, "NOISE": config.data.noise, "N_CLASSES": config.data.n_classes}
    return "\n".join(f"{name} = {value!r}" for name, value in values.items()) + "\n"


def _data_section(config: PlaygroundConfig, dataset: Dataset, early_stopping: bool) -> str:
    labels = "np.float32" if dataset.task == "regression" else "np.int64"
    if config.data.kind == "csv":
        rows = ",\n".join(f"    [{x1!r}, {x2!r}, {label!r}]" for x1, x2, label in config.data.uploaded)
        source = (f"# The uploaded CSV's points (x1, x2, label), exactly as read: an upload has no generator.\n"
                  f"POINTS = np.array([\n{rows},\n])\n\n\n")
        draw = "    x, y = POINTS[:, :2], POINTS[:, 2]\n"
        # An upload has no generator to draw more points from: a fifth of its training share validates.
        split = ("    n_train = max(2, n_train)\n    n_val = max(1, n_train // 5)\n"
                 "    train, val, test = order[:n_train - n_val], order[n_train - n_val:n_train], order[n_train:]\n"
                 "    return {'train': (x[train], y[train]), 'test': (x[test], y[test]), "
                 "'validation': (x[val], y[val])}\n")
    else:
        source = (f"def generate(rng, n):\n    \"\"\"n points of the {config.data.kind} data set.\"\"\"\n"
                  f"{DATA_CODE[config.data.kind]}\n\n")
        draw = "    x, y = generate(np.random.default_rng(DATA_SEED), N_POINTS)\n"
        split = "    data = {'train': (x[train], y[train]), 'test': (x[test], y[test])}\n"
        if early_stopping:
            split += ("    # Validation points for early stopping: as many again as the test points, from a\n"
                      "    # generator of their own, so the training and test points are the seed's without them.\n"
                      f"    x_val, y_val = generate(np.random.default_rng([DATA_SEED, {VALIDATION_STREAM:#x}]), "
                      "len(test))\n"
                      f"    data['validation'] = (x_val.astype(np.float32), y_val.astype({labels}))\n")
        split += "    return data\n"
    return (f"# ---------------------------------------------------------------------------------------------- data\n"
            f"{source}def make_data():\n"
            f"    \"\"\"{{'train': (x, y), 'test': (x, y){', ...' if early_stopping else ''}}}: x float32 (n, "
            f"{dataset.input_dim}), y {'float32 targets' if dataset.task == 'regression' else 'int64 labels'}.\"\"\"\n"
            f"{draw}"
            "    order = np.random.default_rng(DATA_SEED + 1).permutation(len(x))\n"
            "    n_train = max(1, min(len(x) - 1, round(TRAIN_FRACTION * len(x))))\n"
            "    train, test = order[:n_train], order[n_train:]\n"
            f"    x, y = x.astype(np.float32), y.astype({labels})\n{split}")


def _model_section(config: PlaygroundConfig, dataset: Dataset) -> str:
    x2 = "x[:, 1]" if dataset.input_dim > 1 else "torch.zeros_like(x1)  # 1-D data: there is no x2"
    features = ", ".join(FEATURE_CODE[name] for name in config.features)
    activations = ", ".join(ACTIVATION_CODE[name] for name in config.activations)
    init = INIT_CODE[config.init]
    per_layer = ["        for width, activation in zip(HIDDEN, [" + activations + "]):",
                 "            self.linears.append(nn.Linear(n_in, width))",
                 *(["            self.norms.append(nn.BatchNorm1d(width))"] if config.batch_norm else []),
                 "            self.activations.append(activation)",
                 *(["            self.dropouts.append(SeededDropout(DROPOUT, generator))"] if config.dropout else []),
                 "            n_in = width"]
    hidden_call = "activation(" + ("norm(linear(h))" if config.batch_norm else "linear(h)") + ")"
    hidden_call = f"dropout({hidden_call})" if config.dropout else hidden_call
    loops = ["linear", *(["norm"] if config.batch_norm else []), "activation", *(["dropout"] if config.dropout else [])]
    lists = ["linears", *(["norms"] if config.batch_norm else []), "activations",
             *(["dropouts"] if config.dropout else [])]
    task = "classes" if dataset.task != "regression" and n_outputs(config, dataset) > 1 else dataset.task
    loss = LOSS_CODE.get((task, n_outputs(config, dataset) == 1, config.loss))
    dropout = '''class SeededDropout(nn.Module):
    """Inverted dropout drawing its masks from the trainer's generator (torch's own uses the global one)."""

    def __init__(self, p, generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator) >= self.p
        return x * keep / (1.0 - self.p)


''' if config.dropout else ""
    perceptron = '''def perceptron_update(weight, bias, features, target, lr):
    """Rosenblatt's rule on a batch: w += lr·Σ(y − ŷ)x, b += lr·Σ(y − ŷ), ŷ = step(w·x + b). Returns the error rate."""
    predicted = (features @ weight[0] + bias[0] > 0).float()
    error = target.float() - predicted
    weight[0] += lr * (error[:, None] * features).sum(dim=0)
    bias[0] += lr * error.sum()
    return float((error != 0).float().mean())


''' if config.optimizer == "perceptron" else ""
    return f'''# --------------------------------------------------------------------------------------------- model
{dropout}class PlaygroundNet(nn.Module):
    """Features, then per hidden layer {' → '.join(loops)}, then a linear output.
    Its modules are named as the Playground's, so its exported weights load into it (load_state_dict)."""

    def __init__(self, generator):
        super().__init__()
        self.linears = nn.ModuleList()
{_line(config.batch_norm, "        self.norms = nn.ModuleList()")}        self.activations = nn.ModuleList()
{_line(config.dropout, "        self.dropouts = nn.ModuleList()")}        n_in = len(FEATURES)
{chr(10).join(per_layer)}
        self.output = nn.Linear(n_in, N_OUTPUTS)
        for layer in [*self.linears, self.output]:  # in this order: each draws from the generator in turn
            initialize(layer, generator)

    def featurize(self, x):
        x1 = x[:, 0]
        x2 = {x2}
        return torch.stack([{features}], dim=1)  # {", ".join(config.features)}

    def forward(self, x):
        h = self.featurize(x)
        for {", ".join(loops)} in zip({", ".join(f"self.{name}" for name in lists)}):
            h = {hidden_call}
        return self.output(h)

    def weight_matrices(self):
        return [layer.weight for layer in [*self.linears, self.output]]


def initialize(layer, generator):
    """{INIT_SCHEMES[config.init].label} weights; biases start at zero."""
    weight = layer.weight
    fan_out, fan_in = weight.shape
    with torch.no_grad():
        {init}
        layer.bias.zero_()


def data_loss(output, target):
    return {loss}


def predicted_class(output):
    return {"(output[:, 0] > 0).long()" if n_outputs(config, dataset) == 1 else "output.argmax(dim=1)"}


{perceptron}'''


def _training_section(config: PlaygroundConfig, hp: Mapping[str, Any], dataset: Dataset) -> str:
    perceptron = config.optimizer == "perceptron"
    plateau = hp["schedule"] == "plateau"
    l2_in_loss = bool(float(hp["l2"])) and config.optimizer != "adamw"  # AdamW decays the weights itself
    penalty = "".join([
        "def penalty(model):\n    \"\"\"L1 and L2 on the weight matrices (not the biases), added to the loss.\"\"\"\n",
        "    total = 0.0\n    for weight in model.weight_matrices():\n",
        "        total = total + L1 * weight.abs().sum()\n" if float(hp["l1"]) else "",
        "        total = total + L2 * (weight * weight).sum()\n" if l2_in_loss else "",
        "    return total\n\n\n"]) if not perceptron and (float(hp["l1"]) or l2_in_loss) else ""
    plateau_class = '''class Plateau:
    """Reduce-on-plateau: the rate shrinks by GAMMA after PERIOD epochs without a lower mean training loss."""

    def __init__(self):
        self.scale, self.best, self.bad_epochs = 1.0, math.inf, 0

    def end_of_epoch(self, mean_loss):
        if mean_loss < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = mean_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= PERIOD:
            self.scale *= GAMMA
            self.bad_epochs = 0


''' if plateau else ""
    measure = ("        error = float((predicted_class(output) != y).float().mean())\n"
               "        return error, 1.0 - error\n" if perceptron else
               "        loss = float(data_loss(output, y))\n" +
               ("        return loss, float((predicted_class(output) == y).float().mean())\n"
                if dataset.is_classification else "        return loss, None\n"))
    if perceptron:
        step = ("        with torch.no_grad():\n"
                "            loss = perceptron_update(model.output.weight, model.output.bias, model.featurize(x), y,\n"
                "                                     lr)\n")
    else:
        step = ("        for group in optimizer.param_groups:\n            group['lr'] = lr\n"
                "        loss = data_loss(model(x), y)\n"
                f"        total = loss{' + penalty(model)' if penalty else ''}\n"
                "        optimizer.zero_grad(set_to_none=True)\n        total.backward()\n" +
                ("        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)\n" if hp["clip_norm"] else "") +
                "        optimizer.step()\n        loss = loss.item()\n")
    optimizer = (f"    parameters = model.parameters()\n    optimizer = {OPTIMIZER_CODE[config.optimizer]}\n"
                 if not perceptron else "")
    epoch_end = ["            mean_loss = sum(epoch_losses) / max(1, len(epoch_losses))",
                 "            epoch_losses = []"]
    if plateau:
        epoch_end.append("            plateau.end_of_epoch(mean_loss)")
    if perceptron:
        epoch_end += ["            if mean_loss == 0:  # only mistakes move the weights: nothing changes from here",
                      "                report(f'converged: no mistake in epoch {epoch}')",
                      "                break"]
    if hp["patience"]:
        epoch_end += [
            "            validation, _ = measure(model, *validation_set)",
            "            if best_epoch is None or validation < best_validation:  # keep the best weights so far",
            "                best_epoch, best_validation = epoch, validation",
            "                best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}",
            "            elif epoch - best_epoch >= PATIENCE:",
            "                model.load_state_dict(best_state)",
            "                report(f'early stopping at epoch {epoch}: back to the weights of epoch {best_epoch}, '",
            "                       f'validation loss {best_validation:.4g}')",
            "                break"]
    epoch_end += ["            if TARGET_LOSS is not None and mean_loss <= TARGET_LOSS:",
                  "                report(f'reached the target loss: epoch {epoch} mean {mean_loss:.4g}')",
                  "                break",
                  "            if STOP_AT_EPOCH is not None and epoch >= STOP_AT_EPOCH:",
                  "                report(f'stopped after epoch {epoch}, as asked')",
                  "                break"]
    return f'''# ------------------------------------------------------------------------------------------ training
{plateau_class}{penalty}def learning_rate(epoch{", plateau" if plateau else ""}):
    """The {hp["schedule"]} schedule's rate after `epoch` epochs (fractional: counted after this step's batch)."""
    return {SCHEDULE_CODE[hp["schedule"]]}


def measure(model, x, y):
    """(loss, accuracy) of `model` on x, y, in eval mode (the perceptron's loss: its error rate)."""
    model.eval()
    with torch.no_grad():
        output = model(x)
{measure}

def train(steps=STEPS, report=print):
    """Train as the Playground's job does; `report` gets a line per step. Returns (model, data, losses)."""
    data = {{name: tuple(torch.tensor(a) for a in pair) for name, pair in make_data().items()}}
    x_train, y_train = data["train"]
{_line(hp["patience"], "    validation_set = data['validation']")}    n = len(x_train)
    generator = torch.Generator().manual_seed(SEED)
    model = PlaygroundNet(generator)
{optimizer}{_line(plateau, "    plateau = Plateau()")}    order = torch.randperm(n, generator=generator)
    cursor, samples_seen, epoch_losses, losses = 0, 0, [], []
{_line(hp["patience"], "    best_epoch, best_validation, best_state = None, math.inf, None")}\
    for step in range(1, steps + 1):
        epoch_before = math.floor(samples_seen / n + 1e-9)
        size = min(BATCH_SIZE, n)
        if cursor + size > n:  # a new epoch's permutation; batches stay full-sized
            rest = order[cursor:]
            order = torch.randperm(n, generator=generator)
            index = torch.cat([rest, order[:size - len(rest)]])
            cursor = size - len(rest)
        else:
            index = order[cursor:cursor + size]
            cursor += size
        samples_seen += size
        x, y = x_train[index], y_train[index]
        lr = learning_rate(samples_seen / n{", plateau" if plateau else ""})
        model.train()
{step}        losses.append(loss)
        epoch_losses.append(loss)
        report(f"step {{step}} loss {{loss!r}}")
        if not math.isfinite(loss):
            report(f"diverged: the loss became {{loss}} at step {{step}}; lower the learning rate")
            break
        epoch = math.floor(samples_seen / n + 1e-9)
        if epoch > epoch_before:
{chr(10).join(epoch_end)}
    return model, data, losses
'''


def _line(present: Any, text: str) -> str:
    """`text` as a line of the script where `present`, else nothing."""
    return text + "\n" if present else ""


_MAIN = '''
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 (the default) sums in the same order as the Playground's job")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, data, losses = train(args.steps)
    for name in ("train", "test"):
        loss, accuracy = measure(model, *data[name])
        print(f"{name} loss {loss!r}" + ("" if accuracy is None else f" accuracy {accuracy!r}"))


if __name__ == "__main__":
    main()
'''
