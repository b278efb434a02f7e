"""Convolutional networks: the student's own CNN trained live beside an MLP of its size, every view of it (filters,
feature maps, mistakes, shifts, saliency, attacks), and the arithmetic, kernels and upsampling behind it."""

import streamlit as st

from engine.cnn.arithmetic import stack_arithmetic
from engine.cnn.kernels import IMAGE_LABELS, KERNEL_PURPOSE, KERNELS, apply_kernel, parse_kernel, sandbox_images
from engine.cnn.spec import KERNEL_LABELS, TYPED, CnnSpec
from engine.cnn.trainer import CnnJob
from engine.cnn.upsampling import EXPLAINED, upsampling_study
from engine.common.limits import ConfigError
from engine.runtime import Snapshot
from ui.cnn import VIEW_DRAWERS, VIEWS, measured_for
from ui.chart_component import clicked_points
from ui.controls import ControlPanel
from ui.exports import Charts, export_panel, offer_exports
from ui.forks import branch_job, fork_controls
from ui.jobs import experiment_job
from ui.live import job_controls, live_area, remembered, status_bar
from ui.sharing import later
from ui.tables import static_table
from viz import cnn_tools

TABS = ["Train a CNN", "Arithmetic", "Kernels", "Upsampling"]

st.title("Convolutional networks")
later("cnn_intro").caption(
    "A convolution is a small dense layer slid over the image: the same few weights at every position (weight "
    "sharing), each output seeing only a patch (locality). Train one here beside an MLP with as many parameters, "
    "then shift its input, attack it, and work out what its layers do to an image's size.")
export_panel(CnnSpec)
panel = ControlPanel(CnnSpec)
train_tab, arithmetic_tab, kernels_tab, upsampling_tab = st.tabs(TABS, key="cnn_tab", on_change="rerun",
                                                                  bind="query-params")
charts = Charts()  # every tab's figures, for the Export panel
# Each tab's controls are drawn while it is open and held while it is closed (ui.controls: a closed tab's widgets
# cost a page's first screen ~5 ms each); the sidebar's are the Train tab's.
TRAIN_FIELDS = ("data", "layers", "channels", "kernel", "pool", "bn", "act", "pad", "adv", "adv_eps", "lr", "batch",
                "speed", "seed", "example", "dy", "dx", "attack", "eps")
ARITHMETIC_FIELDS = ("n", "depth", "window", *(f"{name}{i}" for i in range(1, 5) for name in "kind k p s d c".split()),
                     "row", "col")

if train_tab.open is False:
    panel.hold(*TRAIN_FIELDS)
else:
    with st.sidebar:
        st.header("Data")
        panel.draw("data")
        st.header("CNN")
        panel.draw("layers", "channels", "kernel", "pool", "bn", "act", "pad")
        st.caption("Each conv layer keeps the size ('same' padding); global average pooling and one linear layer "
                   "give the class scores. The MLP beside it has one hidden layer, as many parameters.")
        panel.draw("adv", "adv_eps")
        st.header("Training")
        panel.draw("lr", "batch", "speed", "seed")
with train_tab:
    buttons, forks, inspect = st.container(), later("cnn_forks"), later("cnn_inspect")
    if train_tab.open is not False:
        with inspect:
            example_col, shift_col, attack_col = st.columns([1.2, 1.6, 2])
            panel.draw("example", where=example_col)
            panel.draw("dy", "dx", where=shift_col)
            panel.draw("attack", "eps", where=attack_col)

if arithmetic_tab.open is False:
    panel.hold(*ARITHMETIC_FIELDS)
else:
    with arithmetic_tab:
        st.markdown("Each layer's output size is $\\lfloor (n + 2p - d(k-1) - 1)/s \\rfloor + 1$. Set a stack of "
                    "up to four layers; click a unit of the last output to see its receptive field on the input.")
        size_col, depth_col, window_col = st.columns(3)
        panel.draw("n", where=size_col)
        depth = panel.draw("depth", where=depth_col)
        panel.draw("window", where=window_col, help="The layer drawn with its window sliding over its input.")
        layer_cols = st.columns(4)
        for i in range(1, 5):
            with layer_cols[i - 1]:
                panel.draw(f"kind{i}", f"k{i}", f"p{i}", f"s{i}", f"d{i}", f"c{i}", disabled=i > depth)
        unit_row, unit_col = st.columns(2)
        panel.draw("row", where=unit_row)
        panel.draw("col", where=unit_col)

if kernels_tab.open is False:
    panel.hold("image", "kern", "typed")
else:
    with kernels_tab:
        image_col, kernel_col = st.columns(2)
        panel.draw("image", where=image_col)
        panel.draw("kern", where=kernel_col)
        panel.draw("typed", where=kernel_col)

if upsampling_tab.open is False:
    panel.hold("up_weights")
else:
    with upsampling_tab:
        panel.draw("up_weights")

spec: CnnSpec = panel.spec()
# The open view of the trained CNN (none while another tab is open): what the job measures besides training.
view = st.session_state.get("cnn_view", st.query_params.get("cnn_view", VIEWS[0])) \
    if train_tab.open is not False else None
shown = measured_for(view)
job = branch_job("cnn", spec, shown=shown) or experiment_job("cnn", CnnJob, spec, shown=shown)
with buttons:
    job_controls(job, key="cnn")
with forks:
    fork_controls(job, "cnn", "cnn")


def click_unit() -> None:
    points = clicked_points(st.session_state["cnn_fig_stack"])
    if points:  # the output grid's cells: x is the column, y the row
        st.session_state.update(cnn_row=int(points[0]["y"]), cnn_col=int(points[0]["x"]))


# A closed tab's view draws nothing but hands its charts to the Export panel (built only if an export asks).
def arithmetic_view(shown: bool) -> None:
    try:
        report = stack_arithmetic(spec.n, 1, spec.stack())
    except ConfigError as error:
        if shown:
            st.error(f"{error}.", icon=":material/front_hand:")
        return
    table = report.table()
    if table and shown:  # (static: its text wraps, every column fits; a data frame scrolled the last two away)
        static_table(table)
    if report.problem and shown:
        st.warning(report.problem, icon=":material/block:")
    if not report.rows:
        return
    layer = min(spec.window, len(report.rows)) - 1  # 0-based: the figure's row of the report
    charts.show(lambda: cnn_tools.stack_figure(report, layer, (spec.row, spec.col)),
                f"cnn-arithmetic-n{spec.n}-{len(report.rows)}layers", key="cnn_fig_stack", visible=shown,
                on_select=click_unit)


def kernel_view(shown: bool) -> None:
    try:
        kernel = parse_kernel(spec.typed) if spec.kern == TYPED else KERNELS[spec.kern]
    except ValueError as error:
        if shown:
            st.error(f"{error}.", icon=":material/edit:")
        return
    image = sandbox_images()[spec.image]
    output = apply_kernel(image, kernel)
    if spec.kern != TYPED and shown:
        st.caption(f"**{spec.kern}**: {KERNEL_PURPOSE[spec.kern]}.")
    names = (IMAGE_LABELS[spec.image], KERNEL_LABELS[spec.kern])
    charts.show(lambda: cnn_tools.kernel_figure(image, kernel, output, names),
                f"cnn-kernel-{spec.image}-{spec.kern}", key="cnn_fig_kernel", visible=shown)


def upsampling_view(shown: bool) -> None:
    study = remembered("cnn_upsampling", (), upsampling_study, figure=False)
    if shown:
        st.markdown(EXPLAINED)
    for input_name in study.inputs:
        charts.show(lambda name=input_name: cnn_tools.upsampling_figure(study, spec.up_weights, name),
                    f"cnn-upsampling-{spec.up_weights}-{input_name}", key=f"cnn_fig_up_{input_name}", visible=shown)


with arithmetic_tab:
    arithmetic_view(arithmetic_tab.open is not False)
with kernels_tab:
    kernel_view(kernels_tab.open is not False)
with upsampling_tab:
    upsampling_view(upsampling_tab.open is not False)


def draw(snap: Snapshot) -> None:
    if train_tab.open is False:
        offer_exports(spec, "cnn", charts, snap, setting=snap.config.setting)
        return
    mlp = snap.latest("mlp_test_accuracy")
    status_bar(snap, {"CNN held-out": f"{snap.latest('test_accuracy'):.1%}", "MLP held-out": f"{mlp:.1%}"})
    if snap.visuals is None:
        return
    live = Charts(charts)
    tabs = st.tabs(VIEWS, key="cnn_view", on_change="rerun", bind="query-params")
    if measured_for(st.session_state.get("cnn_view")) != shown:
        # A view was opened in this live area (a click reruns the area alone): the job learns what to measure in a
        # whole-page run, which then draws the view. (Before, the attack curves said "Measuring…" until some
        # other control reran the whole page.)
        st.rerun(scope="app")
    for tab, view in zip(tabs, VIEW_DRAWERS):
        with tab:
            view(snap, live, tab.open is not False)
    offer_exports(spec, "cnn", live, snap, setting=snap.config.setting, weights=snap.visuals.state)


with train_tab:
    live_area(job, draw)
