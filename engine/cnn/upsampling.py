"""Upsampling by 2, and the checkerboard a transposed convolution can leave (Odena, Dumoulin & Olah, 2016).

A stride-2 transposed convolution pastes one kernel-sized window per input pixel, 2 pixels apart. With kernel 3
the windows overlap unevenly (each output pixel is in 1, 2 or 4 of them), so even a constant map comes out
as a checkerboard; with kernel 4 every interior pixel is in exactly 4. Resizing first (nearest neighbour) and
then convolving treats every output pixel alike. Each method is run with uniform weights (all ones: the
output of a constant map is then the overlap count itself) and with random weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

METHODS = {
    "transposed3": "transposed conv, kernel 3, stride 2",
    "transposed4": "transposed conv, kernel 4, stride 2",
    "resize_conv": "nearest ×2, then 3×3 conv",
}
# (padding, output_padding) that make a stride-2 transposed convolution of an n x n map exactly 2n x 2n:
# out = 2(n − 1) − 2·padding + kernel + output_padding.
# What the page says above the study's figures.
EXPLAINED = ("A stride-2 transposed convolution paints each input cell's kernel onto the output, 2 cells apart. With "
             "kernel 3 the paintings overlap unevenly (1, 2 or 4 of them per cell): a checkerboard, even for a "
             "constant input. Kernel 4 overlaps evenly, which is enough only while its taps are alike: with random "
             "weights its pattern comes back. Resizing and then convolving stays clean.")
TRANSPOSED_PADDING = {3: (1, 1), 4: (1, 0)}
WEIGHTINGS = ("ones", "random")
INPUT_SIZE = 8
BORDER = 2  # output pixels this close to the edge also meet the zero padding: left out of the measure
CONSTANT_INPUT = "constant"


def method_kernel(method: str) -> int:
    return {"transposed3": 3, "transposed4": 4, "resize_conv": 3}[method]


def method_weights(method: str, weighting: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """(1, 1, k, k) weights: all ones, or uniform on [0, 1) from `generator`. Positive random weights keep a
    constant map's output away from zero, so its relative spread reads as the contrast of the pattern."""
    k = method_kernel(method)
    if weighting == "ones":
        return torch.ones(1, 1, k, k)
    if weighting == "random":
        return torch.rand(1, 1, k, k, generator=generator)
    raise ValueError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")


def upsample(image: np.ndarray, method: str, weights: torch.Tensor) -> np.ndarray:
    """An n x n map upsampled to 2n x 2n by `method` (a key of METHODS) with these (1, 1, k, k) weights."""
    x = torch.tensor(np.asarray(image, dtype=np.float32))[None, None]
    with torch.no_grad():
        if method == "resize_conv":
            y = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weights, padding=1)
        else:
            padding, output_padding = TRANSPOSED_PADDING[method_kernel(method)]
            y = F.conv_transpose2d(x, weights, stride=2, padding=padding, output_padding=output_padding)
    return y[0, 0].numpy()


def overlap_counts(n: int, kernel: int, stride: int = 2) -> np.ndarray:
    """In how many input pixels' windows each output pixel of a transposed convolution lies, counted by
    pasting one window per input pixel (cropped as TRANSPOSED_PADDING crops the output)."""
    padding, output_padding = TRANSPOSED_PADDING[kernel]
    full = stride * (n - 1) + kernel + output_padding
    counts = np.zeros((full, full), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            counts[stride * i:stride * i + kernel, stride * j:stride * j + kernel] += 1
    return counts[padding:full - padding, padding:full - padding]


def checkerboard(output: np.ndarray, border: int = BORDER) -> float:
    """The relative spread std / mean|value| of the output's interior: for a constant input, any spread is a
    pattern the method made (0 for an even method)."""
    interior = np.asarray(output, dtype=np.float64)[border:-border, border:-border]
    scale = np.abs(interior).mean()
    spread = interior.std()
    # float32 sums of equal terms in a different order differ in the last bits: that is not a pattern.
    return 0.0 if spread <= 1e-6 * scale else float(spread / scale)


def input_maps(n: int = INPUT_SIZE, seed: int = 0) -> dict[str, np.ndarray]:
    """A constant map and a smooth random one (a random 3x3 grid, bilinearly enlarged) in [0, 1]."""
    coarse = torch.rand(1, 1, 3, 3, generator=torch.Generator().manual_seed(seed))
    smooth = F.interpolate(coarse, size=(n, n), mode="bilinear", align_corners=True)[0, 0].numpy()
    return {CONSTANT_INPUT: np.ones((n, n), dtype=np.float32), "smooth random": smooth}


@dataclass(frozen=True)
class UpsamplingStudy:
    """Every method on every input map with both weightings."""

    inputs: dict[str, np.ndarray]  # name -> n x n map
    weights: dict[tuple[str, str], np.ndarray]  # (method, weighting) -> k x k kernel
    outputs: dict[tuple[str, str, str], np.ndarray]  # (method, weighting, input name) -> 2n x 2n map
    checkerboard: dict[tuple[str, str], float]  # (method, weighting) -> spread of the constant map's output
    overlap: dict[int, np.ndarray]  # transposed kernel size -> overlap counts of a 2n x 2n output

    def output(self, method: str, weighting: str, input_name: str) -> np.ndarray:
        return self.outputs[(method, weighting, input_name)]


def upsampling_study(n: int = INPUT_SIZE, seed: int = 0) -> UpsamplingStudy:
    """Each method with all-ones and with seeded random weights (the same draw for every input map)."""
    generator = torch.Generator().manual_seed(seed)
    inputs = input_maps(n, seed)
    weights, outputs, spreads = {}, {}, {}
    for method in METHODS:
        for weighting in WEIGHTINGS:
            kernel = method_weights(method, weighting, generator)
            weights[(method, weighting)] = kernel[0, 0].numpy()
            for name, image in inputs.items():
                outputs[(method, weighting, name)] = upsample(image, method, kernel)
            spreads[(method, weighting)] = checkerboard(outputs[(method, weighting, CONSTANT_INPUT)])
    overlap = {k: overlap_counts(n, k) for k in TRANSPOSED_PADDING}
    return UpsamplingStudy(inputs, weights, outputs, spreads, overlap)
