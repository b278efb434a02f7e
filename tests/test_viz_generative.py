"""The Generative models page's figures draw what they are given (and Plotly's validation keeps them as built)."""

import base64
import io
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from engine.generative.gan_trainer import GanConfig, GanTrainer
from engine.runtime import train
from viz import generative as figures
from viz.animation import gan_replay
from viz.raster import hex_rgb
from viz.theme import (BROWSER_MARGINS, COLORBAR_XPAD_PX, FONT_SIZE, LEGEND_FOOT_PX, LEGEND_GAP_PX, LEGEND_PAD_PX,
                        LEGEND_ROW_EM, LEGEND_SYMBOL_PX, PRESENTATION_PLOT_PX, PRESENTATION_TICK_FONT_SIZE,
                        TICK_FONT_PX, WIDE_FIGURE_WIDTH_PX, X_TICKS_PX, X_TITLE_EM, arrow_polyline, for_presentation,
                        legend_below, margins_for_one_draw, with_plot_room)


def validated(fig: go.Figure) -> go.Figure:
    """The figure as Plotly's validation leaves it: built from plain dicts, it must come out the same."""
    again = go.Figure(fig.to_dict())
    assert again.to_dict() == fig.to_dict()
    return fig


def test_the_gan_field_draws_d_the_points_the_warp_the_arrows_and_the_modes():
    rng = np.random.default_rng(0)
    heatmap = rng.random((8, 8))
    real, fake = rng.normal(size=(20, 2)), rng.normal(size=(30, 2))
    warp = rng.normal(size=(2, 3, 5, 2))
    fig = validated(figures.gan_field(3.0, heatmap, real, fake, warp=warp, arrows=rng.normal(size=(4, 2)),
                                      centres=np.zeros((8, 2)), title="t"))
    traces = {trace.name: trace for trace in fig.data}
    np.testing.assert_allclose(traces["D(x)"].z, heatmap, rtol=1e-6)
    assert traces["D(x)"].zmin == 0 and traces["D(x)"].zmax == 1
    assert len(traces["modes"].x) == 8
    # The points: one picture over the heatmap spanning the square, each point drawn in its colour
    (image,) = fig.layout.images
    assert (image.x, image.y, image.sizex, image.sizey, image.layer) == (-3.0, 3.0, 6.0, 6.0, "above")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1]))).convert("RGBA"))
    height, width = pixels.shape[:2]
    for points, name in ((real, "real data"), (fake, "generated G(z)")):
        inside = points[(np.abs(points) < 3).all(axis=1)]
        under = pixels[((3 - inside[:, 1]) / 6 * height).astype(int), ((inside[:, 0] + 3) / 6 * width).astype(int)]
        assert (under[:, 3] > 0).all()
        assert list(traces[name].x) == [None]  # its line in the legend
    assert (pixels[..., 3] > 0).mean() < 0.1  # the rest of the picture lets the heatmap through
    # The warp: each of the 6 grid lines, then a gap.
    warp_x = np.asarray(traces["G(latent grid)"].x, dtype=float)
    assert len(warp_x) == 6 * 6 and np.isnan(warp_x).sum() == 6
    bare = figures.gan_field(3.0, heatmap, real, fake, warp=None, arrows=None, centres=None, title="t")
    assert {trace.name for trace in bare.data} == {"D(x)", "real data", "generated G(z)"}


def test_arrows_start_at_their_points_point_along_their_vectors_and_the_longest_has_the_length_asked():
    start = np.array([[0.0, 0.0], [1.0, 1.0]])
    vectors = np.array([[2.0, 0.0], [0.0, -1.0]])
    x, y = arrow_polyline(start, vectors, longest=0.5)
    path = np.stack([x, y], axis=1).reshape(2, 7, 2)  # start, tip, gap, barb, tip, barb, gap per arrow
    np.testing.assert_allclose(path[:, 0], start)
    np.testing.assert_allclose(path[:, 1], [[0.5, 0.0], [1.0, 0.75]], atol=1e-6)


def test_latent_maps_put_each_panel_on_its_own_axes_with_one_legend_entry_per_kind():
    codes, labels = np.random.default_rng(1).normal(size=(50, 2)), np.arange(50) % 10
    fig = validated(figures.latent_maps([
        figures.LatentPanel(codes, labels, "VAE", posterior=(np.zeros(2), np.ones(2)), path=codes[:3]),
        figures.LatentPanel(codes, labels, "AE", prior=False)], projected=False))
    assert {trace.xaxis for trace in fig.data} == {"x", "x2"}
    legend = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert sorted(legend) == ["interpolation A → B", "prior N(0, I): 1σ, 2σ", "q(z | A): 1σ, 2σ"]
    labels_drawn = [text for trace in fig.data if trace.mode == "text" for text in trace.text]
    assert sorted(labels_drawn) == sorted(2 * [f"<b>{d}</b>" for d in range(10)])  # each cloud, in both panels
    hover = [trace for trace in fig.data if trace.mode == "markers"]
    assert len(hover) == 2
    for trace in hover:  # every code's digit in the hover, the markers themselves not drawn
        np.testing.assert_allclose(np.column_stack([trace.x, trace.y]), codes.astype(np.float32))
        assert list(trace.customdata) == list(labels) and trace.marker.opacity == 0
    for image, x_axis, y_axis in zip(fig.layout.images, (fig.layout.xaxis, fig.layout.xaxis2),
                                     (fig.layout.yaxis, fig.layout.yaxis2)):
        # the codes' picture spans each panel's fixed ranges, which hold every code and the prior's 2σ circle
        assert (image.x, image.y) == (x_axis.range[0], y_axis.range[1])
        assert (image.sizex, image.sizey) == (x_axis.range[1] - x_axis.range[0], y_axis.range[1] - y_axis.range[0])
        assert x_axis.range[0] < min(codes[:, 0].min(), -2) and y_axis.range[1] > max(codes[:, 1].max(), 2)
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1]))).convert("RGBA"))
        height, width = pixels.shape[:2]
        rows = ((y_axis.range[1] - codes[:, 1]) / image.sizey * height).astype(int)
        cols = ((codes[:, 0] - x_axis.range[0]) / image.sizex * width).astype(int)
        assert (pixels[rows, cols, 3] > 0).all()  # every code drawn
        last = labels == 9  # the last digit's codes lie over the others: their own colour
        assert np.abs(pixels[rows[last], cols[last], :3].astype(int) - hex_rgb(figures.DIGIT_COLORS[9])).max() <= 40
    centre_of_3 = [(x, y) for trace in fig.data if trace.mode == "text" for x, y, t in zip(trace.x, trace.y, trace.text)
                   if t == "<b>3</b>"][0]
    np.testing.assert_allclose(centre_of_3, np.median(codes[labels == 3].astype(np.float32), axis=0), rtol=1e-5)
    assert [a.text for a in fig.layout.annotations] == ["<b>VAE</b>", "<b>AE</b>"]


def test_the_curves_smooth_a_game_and_keep_its_half_line():
    steps = np.arange(1, 1001)
    history = {"d_real": (steps, 0.5 + 0.3 * np.sin(steps)), "d_fake": (steps, 0.5 - 0.3 * np.sin(steps))}
    fig = validated(figures.gan_outputs(history))
    means = [trace for trace in fig.data if trace.name == "D(real)"]
    assert len(means) == 1 and np.abs(np.asarray(means[0].y) - 0.5).max() < 0.1  # the running mean sits at ½
    assert fig.layout.shapes[0].y0 == 0.5
    coverage = validated(figures.gan_coverage({"high_quality": (steps, steps / 1000),
                                               "modes_covered": (steps, np.minimum(8, steps // 100))}, 8))
    assert list(coverage.layout.yaxis2.tickvals) == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("history", [{}, {"test_kl": (np.array([1]), np.array([0.5]))}])
def test_the_vae_curves_draw_what_there_is(history):
    fig = validated(figures.vae_terms(history))
    assert len(fig.data) == len(history)


def test_the_gif_replays_the_run_up_to_its_last_step_in_at_most_48_frames():
    trainer = GanTrainer(GanConfig(g_width=16, d_width=16), seed=0)
    train(trainer, 200)
    snapshot = SimpleNamespace(visuals=trainer.observe(), step=200)
    frames = gan_replay(snapshot)
    assert 40 <= len(frames) <= 48 and frames[0].size == (400, 434)  # 34 pixels of caption above the plot
    steps = [frame.step for frame in snapshot.visuals.film]
    assert steps[0] == 0 and steps[-1] == 200


def test_charts_are_given_the_margins_they_are_drawn_with_and_equal_scales_keep_them():
    """What Charts.show does to every chart (viz.theme.margins_for_one_draw): the latent maps (equal scales, a
    legend below) keep their y margins and push only the bottom; unset margins get BROWSER_MARGINS; a chart's own
    margins stay where they hold what stands in them; a legend below gets its foot; a second pass changes
    nothing. (Whether the estimates fit what plotly.js draws is checked in the browser: test_pages.)"""
    rng = np.random.default_rng(0)
    panels = [figures.LatentPanel(rng.normal(size=(30, 2)), None, "codes", prior=False)]
    fig = margins_for_one_draw(figures.latent_maps(panels, projected=False))
    assert fig.layout.yaxis.automargin is False and fig.layout.xaxis.automargin == "bottom"
    assert fig.layout.legend.yref == "container" and fig.layout.margin.b >= LEGEND_FOOT_PX
    assert (fig.layout.margin.l, fig.layout.margin.t) == (50, 40)  # set by the figure itself
    margins = fig.layout.margin.to_plotly_json()
    assert margins_for_one_draw(fig) is fig and fig.layout.margin.to_plotly_json() == margins  # a second pass
    plain = margins_for_one_draw(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])))
    assert {side: getattr(plain.layout.margin, side) for side in "lrtb"} == BROWSER_MARGINS
    assert plain.layout.yaxis.automargin is None  # no equal scales: left to the theme


def test_a_colour_bar_a_right_axis_and_a_long_legend_get_their_room():
    def right(**colorbar):
        heatmap = go.Heatmap(z=[[0, 1]], colorbar=colorbar)
        return margins_for_one_draw(go.Figure(heatmap, layout={"margin": {"r": 10}})).layout.margin.r

    assert right(x=0.5) == 10  # a bar inside the plot takes no margin
    assert 60 < right() < right(title={"text": "attention weight"}) < 250  # the bar's labels, then its title
    assert right(title={"text": "attention weight", "side": "right"}) < right(title={"text": "attention weight"})
    twin = go.Figure([go.Scatter(y=[1, 2]), go.Scatter(y=[3, 4], yaxis="y2")],
                     layout={"yaxis2": {"overlaying": "y", "side": "right", "title": {"text": "share"}}})
    assert margins_for_one_draw(twin).layout.margin.r == BROWSER_MARGINS["l"]  # as much as a left axis
    scene = margins_for_one_draw(go.Figure(go.Surface(z=[[0, 1], [1, 0]]), layout={"margin": {"l": 0, "b": 0}}))
    assert (scene.layout.margin.l, scene.layout.margin.b) == (0, 0) and scene.layout.margin.r > 60  # no 2-D axes
    empty = margins_for_one_draw(go.Figure(layout={"margin": {"b": 20}, "xaxis": {"title": {"text": "step"}}}))
    assert empty.layout.margin.b > BROWSER_MARGINS["b"]  # no traces yet: its axes are drawn all the same

    def foot(names):
        lines = go.Figure([go.Scatter(y=[i, i], name=name) for i, name in enumerate(names)],
                          layout={"legend": legend_below(), "xaxis": {"title": {"text": "step"}}})
        return margins_for_one_draw(lines).layout.margin.b

    titled = X_TICKS_PX + round(X_TITLE_EM * FONT_SIZE)  # an x axis' labels and title
    assert foot(["train", "test"]) == LEGEND_FOOT_PX + titled - BROWSER_MARGINS["b"]
    row = LEGEND_ROW_EM * TICK_FONT_PX  # plotly.js: entries in one row while they fit the plot's width, else in
    # columns as wide as the widest entry: 12 of ~142 px in the 280 px of a 400 px chart: one a row
    rates = foot([f"learning rate {i / 10:g}" for i in range(12)])
    assert rates - foot(["train", "test"]) == round(12 * row) - round(row)
    assert foot(list("abcde")) == foot(["train", "test"])  # five short ones (46 px) fit one row, six do not
    assert foot(list("abcdef")) == foot(["train", "test"]) + round(2 * row) - round(row)
    # a chart across the main area (wide) is taken at WIDE_FIGURE_WIDTH_PX: the twelve rates in four columns
    wide = go.Figure([go.Scatter(y=[i, i], name=f"learning rate {i / 10:g}") for i in range(12)],
                     layout={"legend": legend_below(), "xaxis": {"title": {"text": "step"}}})
    room = WIDE_FIGURE_WIDTH_PX - BROWSER_MARGINS["l"] - BROWSER_MARGINS["r"]
    columns = int((room + LEGEND_GAP_PX) // (LEGEND_SYMBOL_PX + 0.5 * TICK_FONT_PX * len("learning rate 1.1")
                                              + LEGEND_GAP_PX))
    assert columns == 4
    wide_foot = margins_for_one_draw(wide, wide=True).layout.margin.b
    assert wide_foot == foot(["train", "test"]) + round(3 * row) - round(row)
    # a legend listed (orientation "v") takes a row an entry, whatever the width
    listed = go.Figure([go.Scatter(y=[i, i], name=name) for i, name in enumerate("abc")],
                       layout={"legend": legend_below(orientation="v"), "xaxis": {"title": {"text": "step"}}})
    assert margins_for_one_draw(listed).layout.margin.b == foot(["train", "test"]) + round(3 * row) - round(row)


def test_tick_labels_of_lines_and_words_beside_bars_get_their_room():
    def bars(*words, **layout):
        return margins_for_one_draw(go.Figure(go.Bar(x=[1] * len(words), y=list(words), orientation="h"),
                                              layout=layout)).layout.margin
    assert bars("cat", "dog").l == BROWSER_MARGINS["l"]  # short words fit the usual room
    long = bars("incomprehensibilities", "dog").l
    assert long > BROWSER_MARGINS["l"] and long >= 0.5 * TICK_FONT_PX * len("incomprehensibilities")
    assert bars("incomprehensibilities", yaxis={"tickfont": {"size": 20}}).l > long  # larger labels, more room
    assert bars("incomprehensibilities", xaxis={"domain": [0.5, 1]}).l == BROWSER_MARGINS["l"]  # not at the edge
    names = {"tickmode": "array", "tickvals": ["a", "b"], "title": {"text": "model"}}
    one, two = (margins_for_one_draw(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"xaxis": {
        **names, "ticktext": text}})).layout.margin.b for text in (["a", "b"], ["a<br>first", "b"]))
    assert two - one == round(1.3 * TICK_FONT_PX)  # one more line of 12 px labels


def test_on_a_projector_a_chart_below_the_first_screen_keeps_its_plot_tall_enough_for_its_axis_titles():
    """With a projector's text a 300 px chart with a legend below kept an 85 px plot (the GAN's mode coverage at
    1280x720, its axis titles running into its title): it grows to keep PRESENTATION_PLOT_PX, once."""
    coverage = figures.gan_coverage({"high_quality": (np.arange(3), np.ones(3)),
                                     "modes_covered": (np.arange(3), np.full(3, 8.0))}, 8)
    fig = margins_for_one_draw(for_presentation(coverage))
    plot = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert plot < PRESENTATION_PLOT_PX  # (what it was)
    with_plot_room(fig)
    assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b == PRESENTATION_PLOT_PX
    height = fig.layout.height
    assert with_plot_room(fig).layout.height == height  # a kept figure, again: unchanged
    roomy = go.Figure(layout={"height": 600, "margin": {"t": 50, "b": 50}})
    assert with_plot_room(roomy).layout.height == 600


def test_on_a_projector_a_colour_axis_bar_stands_off_the_plot_in_px_and_a_traces_own_as_plotly_puts_it():
    """Streamlit's theme pads a shared colour axis' bar by 1.5 rem, which grows with the screen (36 px at 1920 wide,
    past the margin estimated: the Attention model view drawn twice); a trace's own bar keeps plotly.js's padding."""
    shared = for_presentation(go.Figure(go.Heatmap(z=[[0, 1]], coloraxis="coloraxis"),
                                        layout={"coloraxis": {"colorbar": {"title": {"text": "attention"}}}}))
    assert shared.layout.coloraxis.colorbar.xpad == COLORBAR_XPAD_PX
    own = for_presentation(go.Figure(go.Heatmap(z=[[0, 1]], colorbar={"title": {"text": "loss"}})))
    assert own.data[0].colorbar.xpad is None
    set_here = for_presentation(go.Figure(go.Heatmap(z=[[0, 1]], coloraxis="coloraxis"),
                                          layout={"coloraxis": {"colorbar": {"xpad": 4}}}))
    assert set_here.layout.coloraxis.colorbar.xpad == 4  # a figure's own padding stays


def test_a_legend_beside_the_plot_takes_room_at_the_right_and_none_below():
    """In presentation mode a square plot's legend may stand beside it (Charts.show(legend_aside=True)): beside
    its colour bar, in the right margin; the bottom keeps only the x axis' room."""
    field = figures.gan_field(3.0, np.zeros((8, 8)), np.zeros((4, 2)), np.ones((4, 2)), warp=None, arrows=None,
                              centres=np.zeros((2, 2)), title="GAN")
    below = margins_for_one_draw(go.Figure(field))
    beside = margins_for_one_draw(for_presentation(go.Figure(field), legend_aside=True))
    assert beside.layout.legend.orientation == "v" and beside.layout.legend.xref == "container"
    bar = margins_for_one_draw(for_presentation(go.Figure(field).update_layout(showlegend=False))).layout.margin.r
    widest = LEGEND_SYMBOL_PX + 0.5 * PRESENTATION_TICK_FONT_SIZE * len("generated G(z)")
    assert beside.layout.margin.r == round(bar + widest + 2 * LEGEND_PAD_PX)
    assert beside.layout.margin.b < below.layout.margin.b
    again = for_presentation(go.Figure(beside), legend_aside=True)  # a figure kept between refreshes: unchanged
    assert margins_for_one_draw(again).layout.to_plotly_json() == beside.layout.to_plotly_json()
