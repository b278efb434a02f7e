"""The kernel sandbox: hand-set or typed 3x3 kernels applied to a digit or a photo.

The images ship with scikit-learn (its 8x8 digits and its two sample photos), so nothing is downloaded.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import torch
import torch.nn.functional as F

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32),
    "box blur": np.full((3, 3), 1 / 9, dtype=np.float32),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32),
    "Sobel x": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32),
    "Sobel y": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float32),
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32),
}
KERNEL_PURPOSE = {
    "identity": "copies each pixel: the output is the input",
    "box blur": "the mean of each 3x3 neighbourhood: smooths noise and edges",
    "sharpen": "the pixel plus its difference from its neighbours: edges stand out",
    "Sobel x": "left minus right, smoothed vertically: bright on vertical edges (signed)",
    "Sobel y": "top minus bottom, smoothed horizontally: bright on horizontal edges (signed)",
    "Laplacian": "neighbours minus the centre: zero on flat and linear areas, large at edges and dots",
}
MAX_KERNEL_VALUE = 100.0  # typed kernels: a larger weight only rescales the output colours
PADDINGS = ("zeros", "replicate", "reflect", "circular")  # torch's Conv2d padding modes
SAMPLE_DIGITS = (0, 3, 8)
PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}  # scikit-learn's two sample photos, 427x640 RGB
PHOTO_BLOCK = 6  # averaged over 6x6 blocks: 71x106, the aspect kept
# Short stable names for links and settings files; the labels say what each is and its size (rows×columns).
IMAGE_LABELS = {**{f"digit {d}": f"Digit {d} (8×8)" for d in SAMPLE_DIGITS},
                "china": "Photo: Chinese temple (71×106)", "flower": "Photo: flower (71×106)"}
DIGIT_LEVELS = 16.0  # scikit-learn's digits are grey levels 0..16


def parse_kernel(text: str) -> np.ndarray:
    """Nine typed numbers, row by row ("1 0 -1; 2 0 -2; 1 0 -1"), separated by spaces, commas, semicolons or
    new lines, as a 3x3 float32 array. Raises ValueError with what to change."""
    tokens = [token for token in re.split(r"[\s,;]+", text.strip()) if token]
    values = []
    for position, token in enumerate(tokens, start=1):
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"{token!r} (number {position}) is not a number: write numbers such as 1, -2, "
                             f"0.5 or 1e-2") from None
        if not math.isfinite(value):
            raise ValueError(f"{token!r} (number {position}) is not a finite number: use values between "
                             f"-{MAX_KERNEL_VALUE:g} and {MAX_KERNEL_VALUE:g}")
        if abs(value) > MAX_KERNEL_VALUE:
            raise ValueError(f"{token} (number {position}) is too large: use values between "
                             f"-{MAX_KERNEL_VALUE:g} and {MAX_KERNEL_VALUE:g}")
        values.append(value)
    if len(values) != 9:
        raise ValueError(f"a 3x3 kernel needs 9 numbers, row by row; found {len(values)}")
    return np.array(values, dtype=np.float32).reshape(3, 3)


def _block_mean(image: np.ndarray, block: int) -> np.ndarray:
    """Downscale by averaging block x block tiles (the rows and columns left over are dropped): each output
    pixel is the mean of real pixels, with no interpolation."""
    rows, cols = image.shape[0] // block, image.shape[1] // block
    return image[:rows * block, :cols * block].reshape(rows, block, cols, block).mean(axis=(1, 3))


@functools.lru_cache(maxsize=1)
def _sample_images() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits, load_sample_image  # a second's import, only when the sandbox opens

    digits = load_digits()
    images = {}
    for digit in SAMPLE_DIGITS:
        first = int(np.flatnonzero(digits.target == digit)[0])
        images[f"digit {digit}"] = (digits.images[first] / DIGIT_LEVELS).astype(np.float32)
    for name, file in PHOTOS.items():
        rgb = load_sample_image(file).astype(np.float32) / 255.0
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 luma
        images[name] = _block_mean(gray, PHOTO_BLOCK).astype(np.float32)
    for image in images.values():
        image.setflags(write=False)  # shared by every session through the cache
    return images


def sandbox_images() -> dict[str, np.ndarray]:
    """Name (a key of IMAGE_LABELS) -> 2-D float32 image in [0, 1]: three real 8x8 digits (not upscaled: each
    cell is one pixel) and scikit-learn's two sample photos in grayscale, block-averaged to 71x106 (rows x
    columns). Loaded once per process (about 2 s, mostly importing scikit-learn)."""
    return dict(_sample_images())


def apply_kernel(image: np.ndarray, kernel: np.ndarray, padding: str = "zeros") -> np.ndarray:
    """The image convolved with the 3x3 kernel, same size (padding 1), through torch.nn.functional.conv2d.

    As everywhere in deep learning, "convolution" is cross-correlation: out[i, j] = Σ kernel[a, b] ·
    in[i + a − 1, j + b − 1], the kernel not flipped; so Sobel x as written is bright where the image gets
    darker to the right. `padding` names what lies beyond the border: torch's Conv2d padding modes."""
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    x = torch.tensor(np.asarray(image, dtype=np.float32))[None, None]  # a copy: the cached images are read-only
    weight = torch.tensor(np.asarray(kernel, dtype=np.float32))[None, None]
    padded = F.pad(x, (1, 1, 1, 1), mode="constant" if padding == "zeros" else padding)
    with torch.no_grad():
        return F.conv2d(padded, weight)[0, 0].numpy()
