"""Point clouds drawn as pictures: each pixel against the disc geometry and the compositing formula by hand."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from viz.raster import PLOT_PIXELS, Cloud, cloud_image, cloud_pixels, legend_entry, png_data_uri

BOX = (0.0, 10.0)  # a 10 x 10 box drawn on 100 x 100 pixels: a pixel is 0.1 wide
WIDTH = 100


def decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGBA")).astype(int)


def disc(points, size_px: float, color="#336699", opacity=0.5) -> Cloud:
    """`size_px`: the diameter in pixels of a WIDTH-pixel picture."""
    return Cloud(np.asarray(points, dtype=float), "points", color, size_px * PLOT_PIXELS / WIDTH, opacity)


def test_a_disc_covers_its_area_at_its_place_in_its_colour_and_opacity():
    radius = 6.0
    pixels = cloud_pixels([disc([[2.05, 7.05]], 2 * radius)], BOX, BOX, WIDTH)  # the middle of pixel (row 29, col 20)
    assert pixels.shape == (WIDTH, WIDTH, 4)
    alpha = pixels[..., 3] / 255
    rows, cols = np.mgrid[0:WIDTH, 0:WIDTH]
    distance = np.hypot(rows - 29, cols - 20)
    assert (alpha[distance <= radius - 1] == np.float64(round(0.5 * 255)) / 255).all()  # inside: the opacity
    assert (alpha[distance >= radius + 1] == 0).all()  # outside the rim: nothing
    assert abs(alpha.sum() / 0.5 - np.pi * radius ** 2) < 0.03 * np.pi * radius ** 2  # its area
    assert (pixels[alpha > 0, :3] == [0x33, 0x66, 0x99]).all()  # its colour (straight, not premultiplied)


def test_overlapping_discs_composite_as_translucent_markers_do():
    a1, a2 = 0.5, 0.7
    red, blue = np.array([255, 0, 0]), np.array([0, 0, 255])
    twice = cloud_pixels([disc([[5.05, 5.05], [5.05, 5.05]], 8, "#ff0000", a1)], BOX, BOX, WIDTH)
    assert twice[49, 50, 3] == round(255 * (1 - (1 - a1) ** 2))  # two of them let (1 - a)^2 through
    over = cloud_pixels([disc([[5.05, 5.05]], 8, "#ff0000", a1), disc([[5.05, 5.05]], 8, "#0000ff", a2)],
                        BOX, BOX, WIDTH)[49, 50]
    alpha = a2 + a1 * (1 - a2)  # the later cloud over the earlier: Porter-Duff "over"
    assert over[3] == round(255 * alpha)
    assert np.array_equal(over[:3], np.round((blue * a2 + red * a1 * (1 - a2)) / alpha))


def test_points_land_at_their_coordinates_and_those_outside_the_box_are_dropped():
    far = [[12.0, 5.0], [-3.0, 5.0], [np.nan, 5.0], [np.inf, 5.0], [1e30, -1e30]]  # (a diverged sampler's)
    pixels = cloud_pixels([disc([[0.05, 9.95], [9.95, 0.05], *far], 1)], BOX, BOX, WIDTH)
    lit = np.argwhere(pixels[..., 3] > 0)
    assert lit.tolist() == [[0, 0], [99, 99]]  # top-left is (x min, y max); nothing wraps round from outside


def test_a_wide_box_keeps_equal_scales():
    assert cloud_pixels([disc([[1, 1]], 2)], (0.0, 20.0), BOX, WIDTH).shape == (WIDTH // 2, WIDTH, 4)


def test_the_image_spans_the_box_behind_the_traces_and_the_legend_has_the_cloud():
    cloud = disc([[1, 1]], 4)
    image = cloud_image([cloud], (-2.0, 3.0), (-1.0, 4.0), xref="x2", yref="y2")
    assert (image["x"], image["y"], image["sizex"], image["sizey"]) == (-2.0, 4.0, 5.0, 5.0)  # the top-left corner
    assert image["xref"] == "x2" and image["layer"] == "below" and image["sizing"] == "stretch"
    entry = legend_entry(cloud)
    assert entry["name"] == "points" and entry["marker"]["color"] == "#336699" and entry["x"] == [None]


def test_png_round_trip_keeps_rgb_exactly_and_rgba_within_its_palette():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    assert np.array_equal(decode(png_data_uri(rgb))[..., :3], rgb)
    clouds = [disc(rng.uniform(0, 10, size=(300, 2)), 5, "#9aa0aa", 0.5),
              disc(rng.uniform(0, 10, size=(300, 2)), 6, "#e69f00", 0.7)]
    rgba = cloud_pixels(clouds, BOX, BOX, WIDTH).astype(int)
    back = decode(png_data_uri(rgba.astype(np.uint8)))
    assert np.array_equal(back[..., 3] == 0, rgba[..., 3] == 0)  # what is empty stays empty
    seen = rgba[..., 3] >= 64
    assert np.abs(back[..., 3] - rgba[..., 3]).max() <= 32 and np.abs(back[seen, :3] - rgba[seen, :3]).max() <= 32


def test_a_picture_is_drawn_once_per_key_and_the_oldest_goes_when_the_cache_is_full(monkeypatch):
    from viz import raster

    monkeypatch.setattr(raster, "_drawn", {})
    monkeypatch.setattr(raster, "DRAWN_KEPT", 2)
    drawn = []

    def draw(value: int):
        drawn.append(value)
        return np.full((2, 2, 3), value, dtype=np.uint8)

    first = raster.kept_picture(("test", raster.content_key(np.zeros(3))), lambda: draw(1))
    assert raster.kept_picture(("test", raster.content_key(np.zeros(3))), lambda: draw(9)) == first  # kept
    assert decode(first)[0, 0, 0] == 1 and drawn == [1]
    assert raster.content_key(np.zeros(3)) != raster.content_key(np.ones(3)) != raster.content_key(np.ones(4))
    raster.kept_picture(("test", raster.content_key(np.ones(3))), lambda: draw(2))
    raster.kept_picture(("test", raster.content_key(np.ones(4))), lambda: draw(3))  # the first key goes
    raster.kept_picture(("test", raster.content_key(np.zeros(3))), lambda: draw(4))
    assert drawn == [1, 2, 3, 4]
