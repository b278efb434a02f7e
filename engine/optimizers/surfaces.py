"""Two-dimensional test functions for watching optimizers move.

Each `Surface` is a formula written in torch, broadcast over a `(..., 2)`
tensor (values on a plotting grid, or at every optimizer's point at once),
with its gradient and Hessian written out by hand: a race takes thousands of
steps, and the closed forms cost a fraction of autograd's double backward
(tests check them against autograd and central differences). A surface also
knows what a page needs to show it well: its known minima (and saddle points),
a plot range, a default start point, whether its values span so many orders
of magnitude that they are best drawn on a log scale, and learning rates that
make a sensible first picture for gradient-scaled and for step-scaled
optimizers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

DTYPE = torch.float64
Point = tuple[float, float]


@dataclass(frozen=True)
class Surface:
    key: str
    title: str
    formula: str  # LaTeX, for the page
    fn: Callable[[torch.Tensor], torch.Tensor]  # (..., 2) -> (...)
    grad: Callable[[torch.Tensor], torch.Tensor]  # (..., 2) -> (..., 2)
    hess: Callable[[torch.Tensor], torch.Tensor]  # (..., 2) -> (..., 2, 2)
    x_range: Point
    y_range: Point
    start: Point
    minima: tuple[Point, ...]
    saddles: tuple[Point, ...] = ()
    log_scale: bool = False  # values span decades: draw log10(f - f*)
    gd_lr: float = 0.1  # a stable, instructive step for GD-like optimizers
    adaptive_lr: float = 0.1  # a step length, in x/y units, for Adam-like optimizers
    note: str = ""
    lr_overrides: tuple[tuple[str, float], ...] = ()  # optimizer kind -> default lr, where the generic rule is poor

    def value(self, xy: torch.Tensor) -> torch.Tensor:
        return self.fn(xy)

    def value_at(self, point) -> float:
        return float(self.fn(torch.as_tensor(point, dtype=DTYPE)))

    def gradient(self, point) -> np.ndarray:
        return self.grad(torch.as_tensor(point, dtype=DTYPE)).numpy()

    def hessian(self, point) -> np.ndarray:
        return self.hess(torch.as_tensor(point, dtype=DTYPE)).numpy()

    def grid(self, resolution: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Axis vectors xs, ys and values Z[i, j] = f(xs[j], ys[i]) (Plotly's contour layout)."""
        xs = torch.linspace(*self.x_range, resolution, dtype=DTYPE)
        ys = torch.linspace(*self.y_range, resolution, dtype=DTYPE)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        with torch.no_grad():
            z = self.fn(torch.stack([gx, gy], dim=-1))
        return xs.numpy(), ys.numpy(), z.numpy()

    @property
    def f_min(self) -> float | None:
        """The global minimum value, or None when the function is unbounded below."""
        return min(self.value_at(m) for m in self.minima) if self.minima else None

    @property
    def reference_points(self) -> tuple[Point, ...]:
        """What "distance to the minimum" measures against: the minima, else the saddle points."""
        return self.minima or self.saddles

    def distance_to_reference(self, points: np.ndarray) -> np.ndarray:
        """Distance of each point (n, 2) to the nearest minimum (or saddle, when there is no minimum)."""
        refs = np.asarray(self.reference_points, dtype=float)
        return np.min(np.linalg.norm(points[:, None, :] - refs[None, :, :], axis=-1), axis=1)

    def nearest_reference(self, point) -> Point:
        refs = self.reference_points
        return refs[int(np.argmin([math.dist(point, r) for r in refs]))]

    def bound(self, margin: float = 0.5) -> tuple[Point, Point]:
        """The box outside which a trajectory counts as diverged: the plot range grown by `margin` each side."""
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
        return (x0 - dx, x1 + dx), (y0 - dy, y1 + dy)


def _xy(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return t[..., 0], t[..., 1]


def _vector(gx, gy) -> torch.Tensor:
    return torch.stack(torch.broadcast_tensors(gx, gy), dim=-1)


def _matrix(hxx, hxy, hyy) -> torch.Tensor:
    """The symmetric 2 x 2 matrices [[hxx, hxy], [hxy, hyy]], broadcast over the leading dimensions."""
    hxx, hxy, hyy = torch.broadcast_tensors(hxx, hxy, hyy)
    return torch.stack([torch.stack([hxx, hxy], -1), torch.stack([hxy, hyy], -1)], -2)


def quadratic_hessian(condition: float, angle_deg: float) -> np.ndarray:
    """A = R diag(1/κ, 1) Rᵀ: curvature 1/κ along the rotated x axis, 1 along the rotated y axis."""
    theta = math.radians(angle_deg)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return rotation @ np.diag([1.0 / condition, 1.0]) @ rotation.T


def quadratic(condition: float = 10.0, angle_deg: float = 0.0) -> Surface:
    hessian = torch.tensor(quadratic_hessian(condition, angle_deg), dtype=DTYPE)

    def fn(t: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.einsum("...i,ij,...j->...", t, hessian, t)

    return Surface(
        key="quadratic", title="Ill-conditioned quadratic",
        formula=r"f(w) = \tfrac12\, w^\top A\, w,\quad A = R_\theta\,\mathrm{diag}(1/\kappa,\ 1)\,R_\theta^\top",
        fn=fn, grad=lambda t: t @ hessian, hess=lambda t: hessian.expand(*t.shape[:-1], 2, 2),
        x_range=(-3.0, 3.0), y_range=(-3.0, 3.0), start=(-2.6, 1.6), minima=((0.0, 0.0),),
        gd_lr=1.6, adaptive_lr=0.2,
        note="The Hessian is the same everywhere, so the step-size theory below is exact.",
    )


def _rosenbrock(t):
    x, y = _xy(t)
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(t):
    x, y = _xy(t)
    return _vector(-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2))


def _rosenbrock_hess(t):
    x, y = _xy(t)
    return _matrix(2 - 400 * y + 1200 * x**2, -400 * x, torch.tensor(200.0, dtype=t.dtype))


# Beale is a sum of squares of a_i = c_i - x + x y^i (i = 1, 2, 3).
BEALE_C = (1.5, 2.25, 2.625)


def _beale(t):
    x, y = _xy(t)
    return sum((c - x + x * y**i) ** 2 for i, c in enumerate(BEALE_C, start=1))


def _beale_grad(t):
    x, y = _xy(t)
    gx = gy = 0
    for i, c in enumerate(BEALE_C, start=1):
        a = c - x + x * y**i
        gx, gy = gx + 2 * a * (y**i - 1), gy + 2 * a * i * x * y ** (i - 1)
    return _vector(gx, gy)


def _beale_hess(t):
    """Σ 2 (∇a ∇aᵀ + a ∇²a), with ∇a = (y^i - 1, i x y^(i-1)), ∂²a/∂x∂y = i y^(i-1), ∂²a/∂y² = i(i-1) x y^(i-2)."""
    x, y = _xy(t)
    hxx = hxy = hyy = 0
    for i, c in enumerate(BEALE_C, start=1):
        a, ax, ay = c - x + x * y**i, y**i - 1, i * x * y ** (i - 1)
        hxx = hxx + 2 * ax * ax
        hxy = hxy + 2 * (ax * ay + a * i * y ** (i - 1))
        hyy = hyy + 2 * (ay * ay + (a * i * (i - 1) * x * y ** (i - 2) if i > 1 else 0))
    return _matrix(hxx, hxy, hyy)


def _himmelblau(t):
    x, y = _xy(t)
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _himmelblau_grad(t):
    x, y = _xy(t)
    a, b = x**2 + y - 11, x + y**2 - 7
    return _vector(4 * x * a + 2 * b, 2 * a + 4 * y * b)


def _himmelblau_hess(t):
    x, y = _xy(t)
    a, b = x**2 + y - 11, x + y**2 - 7
    return _matrix(8 * x**2 + 4 * a + 2, 4 * x + 4 * y, 2 + 8 * y**2 + 4 * b)


def _rastrigin(t):
    return 20 + (t**2 - 10 * torch.cos(2 * math.pi * t)).sum(-1)


def _rastrigin_grad(t):
    return 2 * t + 20 * math.pi * torch.sin(2 * math.pi * t)


def _rastrigin_hess(t):
    return torch.diag_embed(2 + 40 * math.pi**2 * torch.cos(2 * math.pi * t))


def _saddle(t):
    x, y = _xy(t)
    return x**2 - y**2


def _saddle_grad(t):
    return t * torch.tensor([2.0, -2.0], dtype=t.dtype)


def _saddle_hess(t):
    return torch.diag(torch.tensor([2.0, -2.0], dtype=t.dtype)).expand(*t.shape[:-1], 2, 2)


PLATEAU_CENTER, PLATEAU_WIDTH = (2.5, 2.5), 1.5


def _plateau_well(t):
    """d = w - c and e = exp(-|d|² / 2σ²): f = 1 - e, ∇f = e d / σ², ∇²f = e (I / σ² - d dᵀ / σ⁴)."""
    d = t - torch.tensor(PLATEAU_CENTER, dtype=t.dtype)
    return d, torch.exp(-(d**2).sum(-1) / (2 * PLATEAU_WIDTH**2))


def _plateau(t):
    return 1 - _plateau_well(t)[1]


def _plateau_grad(t):
    d, e = _plateau_well(t)
    return e[..., None] * d / PLATEAU_WIDTH**2


def _plateau_hess(t):
    d, e = _plateau_well(t)
    eye = torch.eye(2, dtype=t.dtype) / PLATEAU_WIDTH**2
    return e[..., None, None] * (eye - d[..., :, None] * d[..., None, :] / PLATEAU_WIDTH**4)


def _ravine(t):
    x, y = _xy(t)
    return 0.1 * x**2 + 10 * (y - torch.sin(x)) ** 2


def _ravine_grad(t):
    x, y = _xy(t)
    u = y - torch.sin(x)
    return _vector(0.2 * x - 20 * u * torch.cos(x), 20 * u)


def _ravine_hess(t):
    x, y = _xy(t)
    u = y - torch.sin(x)
    return _matrix(0.2 + 20 * torch.cos(x) ** 2 + 20 * u * torch.sin(x), -20 * torch.cos(x),
                   torch.tensor(20.0, dtype=t.dtype))


# Himmelblau's three irrational minima, to double precision (the fourth is (3, 2)).
HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286170),
    (3.584428340330492, -1.848126526964404),
)

FIXED_SURFACES = {
    s.key: s
    for s in (
        Surface("rosenbrock", "Rosenbrock (banana valley)", r"f = (1-x)^2 + 100\,(y-x^2)^2",
                _rosenbrock, _rosenbrock_grad, _rosenbrock_hess,
                (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), ((1.0, 1.0),), log_scale=True, gd_lr=1e-3,
                adaptive_lr=0.05, note="A curved, flat-bottomed valley: easy to reach, slow to follow.",
                lr_overrides=(("momentum", 1e-3), ("nesterov", 1e-3), ("adam", 0.1))),
        Surface("beale", "Beale", r"f = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2",
                _beale, _beale_grad, _beale_hess,
                (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),), log_scale=True, gd_lr=1e-2,
                adaptive_lr=0.1, note="Sharp corners, flat arms: gradients differ by orders of magnitude."),
        Surface("himmelblau", "Himmelblau (four minima)", r"f = (x^2+y-11)^2 + (x+y^2-7)^2",
                _himmelblau, _himmelblau_grad, _himmelblau_hess,
                (-5.0, 5.0), (-5.0, 5.0), (-0.3, -0.9), HIMMELBLAU_MINIMA, log_scale=True, gd_lr=1e-2,
                adaptive_lr=0.1, note="Four equal minima: which one an optimizer finds depends on its path."),
        Surface("rastrigin", "Rastrigin (many local minima)", r"f = 20 + \sum_i \left(x_i^2 - 10\cos 2\pi x_i\right)",
                _rastrigin, _rastrigin_grad, _rastrigin_hess,
                (-5.12, 5.12), (-5.12, 5.12), (3.2, -2.3), ((0.0, 0.0),), gd_lr=2e-3, adaptive_lr=0.1,
                note="A bowl covered in bumps: small steps get stuck in the nearest dip."),
        Surface("saddle", "Saddle", r"f = x^2 - y^2",
                _saddle, _saddle_grad, _saddle_hess,
                (-2.0, 2.0), (-2.0, 2.0), (-1.8, 0.01), (), saddles=((0.0, 0.0),), gd_lr=0.05, adaptive_lr=0.05,
                note="No minimum: f is unbounded below. Escaping the saddle (and leaving the plot) is success."),
        Surface("plateau", "Plateau with a distant minimum",
                r"f = 1 - \exp\!\left(-\tfrac{\|w - c\|^2}{2\sigma^2}\right),\ c=(2.5, 2.5),\ \sigma=1.5",
                _plateau, _plateau_grad, _plateau_hess,
                (-4.0, 4.0), (-4.0, 4.0), (-3.0, -2.5), (PLATEAU_CENTER,), gd_lr=1.0, adaptive_lr=0.1,
                note="Far from the well the gradient is ~1e-6: plain GD barely moves."),
        Surface("ravine", "Winding ravine", r"f = 0.1\,x^2 + 10\,(y - \sin x)^2",
                _ravine, _ravine_grad, _ravine_hess,
                (-4.0, 4.0), (-2.5, 2.5), (-3.6, 1.6), ((0.0, 0.0),), gd_lr=0.04, adaptive_lr=0.05,
                note="Steep walls (curvature ~20), a gentle floor (~0.2) that bends."),
    )
}

# Short names, as a selector shows them (and a URL holds them).
SURFACE_NAMES = {"quadratic": "Quadratic", "rosenbrock": "Rosenbrock", "beale": "Beale", "himmelblau": "Himmelblau",
                 "rastrigin": "Rastrigin", "saddle": "Saddle", "plateau": "Plateau", "ravine": "Ravine"}


def make_surface(key: str, condition: float = 10.0, angle_deg: float = 0.0) -> Surface:
    """The surface named `key`; `condition` and `angle_deg` only shape the quadratic."""
    if key == "quadratic":
        return quadratic(condition, angle_deg)
    return FIXED_SURFACES[key]
