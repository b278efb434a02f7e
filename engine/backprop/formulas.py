"""Each unit's and edge's formula with the actual numbers substituted, for one example of a pass: what a student
writes by hand (units: layer l = 0 for the inputs .. L for the output, unit j from 1)."""

from __future__ import annotations

from engine.backprop.network import ACTIVATION_LABELS, Architecture, Pass, slope

LISTED_EXAMPLES = 8  # a gradient's per-example values are listed up to this many examples (else their range)


def number(value: float) -> str:
    """Four significant digits, a minus sign that reads as one, parentheses for negatives inside sums."""
    return f"{float(value) + 0.0:.4g}".replace("-", "−")  # + 0.0: no "−0" for a gradient of exactly 0


def term(value: float) -> str:
    return f"({number(value)})" if value < 0 else number(value)


def unit_name(arch: Architecture, layer: int, j: int) -> str:
    if layer == 0:
        return f"x{j + 1}"
    if layer == len(arch.sizes) - 1:
        return "out"
    return f"h{layer}.{j + 1}"


def _activation(arch: Architecture, layer: int) -> str:
    return ACTIVATION_LABELS[arch.output_activation() if layer == len(arch.sizes) - 1 else arch.activation]


def forward(arch: Architecture, flat, p: Pass, example: int, layer: int, j: int) -> str:
    if layer == 0:
        return f"{unit_name(arch, 0, j)} = {number(p.z[0][example, j])} (an input)"
    w, b = arch.unpack(flat)[layer - 1]
    below = p.z[layer - 1][example]
    products = " + ".join(f"{term(w[j, i])} × {term(below[i])}" for i in range(len(below)))
    a, z = p.a[layer - 1][example, j], p.z[layer][example, j]
    return (f"a = Σᵢ wᵢ zᵢ + b = {products} + {term(b[j])} = {number(a)};  "
            f"z = {_activation(arch, layer)}(a) = {number(z)}")


def backward(arch: Architecture, flat, p: Pass, example: int, layer: int, j: int) -> str:
    if layer == 0:
        return "inputs have no δ: nothing below them learns"
    delta = p.delta[layer - 1][example, j]
    if layer == len(arch.sizes) - 1:
        y, out = p.y[example], p.output[example]
        which = "σ(a) − y (sigmoid with cross-entropy)" if arch.loss == "bce" else "z − y (linear with ½(z − y)²)"
        return f"δ = ∂L/∂a = {which} = {number(out)} − {term(y)} = {number(delta)}"
    w_above = arch.unpack(flat)[layer][0]
    deltas_above = p.delta[layer][example]
    h_slope = float(slope(arch.activation, p.a[layer - 1][example, j:j + 1])[0])
    sums = " + ".join(f"{term(w_above[k, j])} × {term(deltas_above[k])}" for k in range(len(deltas_above)))
    return f"δ = h′(a) × Σₖ wₖⱼ δₖ = {number(h_slope)} × ({sums}) = {number(delta)}"


def stages(arch: Architecture) -> list[tuple]:
    """The step-through's stages: ("start",), ("forward", l) for each layer, ("backward", l, j) for each unit from
    the output down, ("update",)."""
    layers = len(arch.sizes) - 1
    backward = [("backward", layer, j) for layer in range(layers, 0, -1) for j in range(arch.sizes[layer])]
    return [("start",), *[("forward", layer) for layer in range(1, layers + 1)], *backward, ("update",)]


def edge(arch: Architecture, p: Pass, example: int, layer: int, j: int, i: int | None) -> str:
    """The gradient of the weight from unit i below to unit j of `layer` (i None: the bias)."""
    delta = p.delta[layer - 1][example, j]
    each = p.delta[layer - 1][:, j] if i is None else p.grad_w[layer - 1][:, j, i]
    listed = (", ".join(number(g) for g in each) if len(each) <= LISTED_EXAMPLES else
              f"from {number(each.min())} to {number(each.max())}")
    batch = f"; the mean over the {len(p.y)} examples ({listed}), which the update uses: {number(each.mean())}"
    if i is None:
        return f"∂L/∂b = δ = {number(delta)} for this example{batch}"
    below = p.z[layer - 1][example, i]
    return (f"∂L/∂w = δ × z = {term(delta)} × {term(below)} = {number(delta * below)} for this example{batch}")


def stage_view(arch: Architecture, stages: list[tuple], index: int) -> tuple[int, set[tuple[int, int]], tuple | None]:
    """What stage `index` shows: the last layer whose a and z are out, the units (layer, j) whose δ is out, and the
    element in focus (("forward", l), ("unit", l, j), or None)."""
    stage, layers = stages[index], len(arch.sizes) - 1
    if stage[0] in ("start", "forward"):
        return (0 if stage[0] == "start" else stage[1]), set(), stage if stage[0] == "forward" else None
    reached = index - layers if stage[0] == "backward" else len(stages)
    deltas = {(s[1], s[2]) for s in stages[layers + 1:layers + 1 + reached] if s[0] == "backward"}
    return layers, deltas, ("unit", stage[1], stage[2]) if stage[0] == "backward" else None


def focus_lines(arch: Architecture, flat, p: Pass, example: int, focus: tuple | None, stage: tuple, lr: float,
                hidden_edge: tuple | None = None) -> list[str]:
    """Markdown lines for the element in focus (a layer, a unit or an edge), or for the stage when none is."""
    if focus is None and stage[0] == "update":
        return [f"w ← w − η · mean ∂L/∂w, with η = {lr:g}: every weight moves by the mean of its {len(p.y)} "
                "per-example gradients."]
    if focus is None:
        return ["Press ▶ to run the forward pass layer by layer, then the backward pass unit by unit."]
    if focus[0] == "forward":
        return [f"**{unit_name(arch, focus[1], j)}**: {forward(arch, flat, p, example, focus[1], j)}"
                for j in range(arch.sizes[focus[1]])]
    if focus[0] == "unit":
        _, layer, j = focus
        lines = [f"**{unit_name(arch, layer, j)}**, forward: {forward(arch, flat, p, example, layer, j)}",
                 f"backward: {backward(arch, flat, p, example, layer, j)}"]
        return lines + ([f"bias: {edge(arch, p, example, layer, j, None)}"] if layer > 0 else [])
    if focus == hidden_edge:
        return ["This is the quiz's weight: its gradient shows once you answer."]
    _, layer, j, i = focus
    return [f"**{unit_name(arch, layer - 1, i)} → {unit_name(arch, layer, j)}**: {edge(arch, p, example, layer, j, i)}"]
