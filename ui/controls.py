"""A page's controls drawn from its control table (engine.common.spec), each bound to the URL, and the spec
they set.

    panel = ControlPanel(PlaygroundSpec)
    with st.sidebar:
        st.header("Data")
        panel.draw("data", "classes", "points")       # in the table's order; a control not shown is skipped
        panel.draw("seed", where=left_column)
        ...
    spec = panel.spec()

The page keeps its layout (headers, columns, expanders, a formula under a select box); what each widget is
(kind, label, range or options, default, help) comes from the table. Every widget is bound to the URL
(`bind="query-params"`), so Streamlit itself keeps the address bar in step with the spec and drops a link's
value it cannot use (ui.sharing reports it); the spec's `to_query` writes links the same way.

The controls of a closed tab are held, not drawn (`panel.hold("lr", "seed")`): a browser renders a closed tab's
widgets too (~5 ms each on a page's first screen), and a whole-page run sends them. A held control keeps its value
and its place in the address.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from engine.common.spec import MULTI, Control, Spec

URL = "query-params"


def _widget(control: Control, key: str, default: Any, where: Any, offer: Any = None, **options: Any) -> Any:
    """Draw one control's widget with `default` as its initial value (`offer`: only these of its options
    now); returns what it holds."""
    label = options.pop("label", None) or control.label
    step = options.pop("step", control.step)  # a step that depends on the value: a learning rate's +/-
    common = dict(key=key, bind=URL if control.linked else None, help=control.help or None)
    common.update(options)
    labels = dict(format_func=control.label_of) if control.labels else {}
    kind = control.widget
    choices = [option for option in control.options if offer is None or option in offer]
    if kind == "select":
        return where.selectbox(label, choices, index=choices.index(default), **labels, **common)
    if kind == "radio":
        horizontal = common.pop("horizontal", True)
        return where.radio(label, choices, index=choices.index(default), horizontal=horizontal, **labels, **common)
    if kind == "segmented":
        return where.segmented_control(label, choices, default=default, **labels, **common)
    if kind == "pills":
        return where.pills(label, choices, default=list(default), selection_mode="multi", **labels, **common)
    if kind == "multiselect":
        return where.multiselect(label, choices, default=list(default), **labels, **common)
    if kind == "select_slider":
        return where.select_slider(label, choices, default, **labels, **common)
    if kind == "toggle":
        return where.toggle(label, default, **common)
    if kind == "text":
        return where.text_input(label, default, max_chars=control.max_chars, **common)
    if kind == "text_area":
        return where.text_area(label, default, max_chars=control.max_chars, **common)
    number = float if isinstance(default, float) else int
    low, high = (None if bound is None else number(bound) for bound in (control.low, control.high))
    step = None if step is None else number(step)
    if control.format:
        common["format"] = control.format
    if kind == "slider":
        return where.slider(label, low, high, default, step, **common)
    return where.number_input(label, low, high, default, step, **common)


class ControlPanel:
    """Draws a page's controls from its spec's table and collects the values they hold."""

    def __init__(self, spec_type: type[Spec]):
        self.spec_type = spec_type
        self.controls = spec_type.controls()
        self.values: dict[str, Any] = {}

    def draw(self, *fields: str, where: Any = None, **options: Any) -> Any:
        """Draw these fields' widgets (in `where`, e.g. a column; `options` such as disabled=..., help=...,
        label=..., step=..., or offer=[...] to offer only some options now, go to each widget) and return the last one's
        value. A control its table hides now is not drawn: it holds its
        default."""
        value = None
        for field in fields:
            control = self.controls[field]
            default = control.default_for(self.values)
            if control.is_shown(self.values):
                value = _widget(control, self.spec_type.PREFIX + field, default, where or st, **options)
                if value is None and control.widget == "segmented":  # a deselected segment: the default
                    value = default
                value = control.canonical(tuple(value) if control.widget in MULTI else value, self.values)
            else:
                value = default
            self.values[field] = value
        return value

    def hold(self, *fields: str) -> None:
        """These fields' widgets are not drawn in this run (their tab is closed). Each holds the value its widget
        last had in this session (Streamlit keeps a URL-bound widget's value while it is not drawn), else the
        link's (a value the control refuses, or its default, leaves the address, as a drawn widget's does), else
        its default; and the address keeps it, so a reload, a copied address and the Share link keep it too."""
        for field in fields:
            control = self.controls[field]
            key = self.spec_type.PREFIX + field
            default = control.default_for(self.values)
            value = self._held(control, key, default) if control.is_shown(self.values) else default
            self.values[field] = value
            if control.linked:
                keep_in_address(key, None if control.is_default(value, self.values) else control.to_query(value))

    def _held(self, control: Control, key: str, default: Any) -> Any:
        if key in st.session_state:
            value = st.session_state[key]
            if value is None and control.widget == "segmented":  # a deselected segment: the default
                return default
            return control.canonical(tuple(value) if control.widget in MULTI else value, self.values)
        if not control.linked or key not in st.query_params:
            return default
        try:
            asked = control.canonical(control.from_query(st.query_params.get_all(key), self.values), self.values)
        except (ValueError, OverflowError):
            return default
        return default if control.refusal(asked, self.values) else asked

    def tabs(self, field: str) -> dict[Any, Any]:
        """Draw a "tabs" control: one tab per option, the open one its value (a click reruns the page, so only
        the open tab's charts need drawing). Returns each option's tab container."""
        control = self.controls[field]
        if control.widget != "tabs":
            raise ValueError(f"{field!r} is a {control.widget} control, not tabs")
        key = self.spec_type.PREFIX + field
        default = control.default_for(self.values)
        containers = st.tabs([control.label_of(option) for option in control.options],
                             default=control.label_of(default), key=key, on_change="rerun", bind=URL)
        opened = [option for option, tab in zip(control.options, containers) if tab.open]
        self.values[field] = opened[0] if opened else default
        return dict(zip(control.options, containers))

    def spec(self) -> Spec:
        """The spec the drawn controls set; every control must have been drawn (shown or not)."""
        missing = [field for field in self.controls if field not in self.values]
        if missing:
            raise RuntimeError(f"controls not drawn: {', '.join(missing)}")
        return self.spec_type(**self.values)


def keep_in_address(key: str, text: str | list[str] | None) -> None:
    """Put a held control's value in the address (None: take it out). Streamlit 1.67 removes a URL-bound
    widget's parameter from the address at the end of the first run that does not draw the widget, and refuses
    a write to a parameter still bound in that run: the binding is undone first (an internal of Streamlit's, as
    ui.delivery's are, listed in tests/test_no_streamlit_internals.py; the version is pinned, and
    tests/test_app_cnn.py's held-controls test fails if an upgrade moves it), and the parameter is written only
    when it changes (each write is a message to the browser)."""
    query = get_script_run_ctx().session_state._state.query_params  # noqa: SLF001 - see the docstring
    binding = query.get_binding_for_param(key)
    if binding is not None:
        query.unbind_widget(binding.widget_id)
    if text is None:
        st.query_params.pop(key, None)
    elif st.query_params.get_all(key) != (text if isinstance(text, list) else [text]):
        st.query_params[key] = text
