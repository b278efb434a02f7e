"""Sharing and presenting an experiment: the link, presentation mode, controls hidden through
the URL, and a visible notice for link parameters a page could not use.

Every experiment-defining widget is bound to the URL (`bind="query-params"`), so the address
bar always holds the experiment; Streamlit itself drops a bound value it cannot accept (wrong
type, out of range, not an option). What it leaves alone (keys no control on the page owns)
is removed here, and both are reported to the user instead of being silently forgotten.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import streamlit as st

from ui.catalog import PageInfo

PRESENT_KEY = "present"  # the presentation-mode toggle, bound to the URL as ?present=true
HIDE_PARAM = "hide"  # ?hide=pg_lr,pg_batch hides those controls, like TensorFlow Playground's _hide flags
# ?exact=1 (every lesson link carries it): the link is the whole experiment. A link lists only the values
# that differ from the defaults, and Streamlit keeps a URL-bound control's value for the session when its
# page is left; so within one session a link would otherwise inherit what an earlier link set.
EXACT_PARAM = "exact"
ROOM_PARAM = "room"  # ?room=CODE: a class's join link (ui.rooms)
GLOBAL_PARAMS = (PRESENT_KEY, HIDE_PARAM, EXACT_PARAM, ROOM_PARAM)
# Widget keys are short snake case; anything else in ?hide= could inject CSS, so it is never used.
_WIDGET_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_REPORTED = 8  # parameters named in the notice; the rest are counted
_MAX_SHOWN_CHARS = 40  # of one parameter in the notice

# Presentation mode lays the page out for the screen (no zoom after layout, which drew every chart
# larger than its box): text in rem grows with the screen's width, the numbers are compact, what a
# page puts in `later(...)` moves below its live area, and its main chart fills the screen's height
# below what the page shows above it (fit_to_screen). Streamlit has no public way to reorder elements
# or size one to the screen, so these rules name its elements (data-testid), as the stale-opacity rule
# in app.py does.
LATER_SUFFIX = "__later"
_PRESENTATION_CSS = """
html {font-size: clamp(18px, 1.25vw, 24px)}
[data-testid='stMainBlockContainer'] {max-width: 100%; padding: 2.25rem 2.5rem 4rem}
[data-testid='stHeader'] {background: transparent}
[data-testid='stMainBlockContainer'] h1 {font-size: 1.9rem; padding: 0 0 0.45rem; margin-top: -0.25rem}
[data-testid='stMainBlockContainer'] :is(h2, h3) {font-size: 1.35rem; padding: 0.25rem 0}
[data-testid='stMetricValue'] {font-size: 1.6rem}
[data-testid='stMainBlockContainer'] [data-testid='stVerticalBlock'] {gap: 0.6rem}
""" + f"[data-testid='stLayoutWrapper']:has(> [class*='{LATER_SUFFIX}']) {{order: 1}}\n"


def presentation_requested() -> bool:
    """Whether the URL asks for presentation mode (read before the toggle exists, for the sidebar)."""
    return st.query_params.get(PRESENT_KEY, "").lower() == "true"


def presenting() -> bool:
    """Whether this run shows the page in presentation mode."""
    if PRESENT_KEY in st.session_state:  # (reading the URL costs ~0.5 ms, and charts ask at every draw)
        return bool(st.session_state[PRESENT_KEY])
    return presentation_requested()


def fit_to_screen(key: str, above_rem: float, height: int):
    """A container for the page's main chart in presentation mode: as tall as the screen less `above_rem`
    (what the page shows above the chart: title, buttons, numbers, as laid out at 1280x720), at least
    16rem. Its chart, drawn with height="stretch", is laid out by Plotly at that height. `height` is
    the container's own, which the rule replaces."""
    st.html(f"<style>[data-testid='stLayoutWrapper']:has(> .st-key-{key}) {{flex: 0 0 auto !important; "
            f"height: max(16rem, calc(100vh - {above_rem:g}rem)) !important}}</style>")
    return st.container(key=key, height=height, border=False)


def later(key: str):
    """A container for what the first screen of a projector can do without (notes, secondary controls):
    in presentation mode it moves below the page's live area; otherwise it stays where it is drawn."""
    return st.container(key=f"{key}{LATER_SUFFIX}")


def hidden_keys() -> list[str]:
    """The widget keys the URL hides: ?hide=a,b or ?hide=a&hide=b; malformed names are ignored."""
    names = (name.strip() for value in st.query_params.get_all(HIDE_PARAM) for name in value.split(","))
    return list(dict.fromkeys(name for name in names if _WIDGET_KEY.match(name)))


def page_control_keys(page: PageInfo) -> list[str]:
    """The keys of the page's widgets this session has drawn (its URL-bound controls among them)."""
    if not page.key_prefix:
        return []
    return sorted(key for key in st.session_state if isinstance(key, str) and key.startswith(page.key_prefix))


def spec_control_keys(page: PageInfo) -> list[str]:
    """The keys of all the page's controls, drawn in this session or not (a closed tab's are held, not drawn:
    ui.controls.ControlPanel.hold; the address keeps their values)."""
    return [page.spec.PREFIX + field for field in page.spec.controls()] if page.spec is not None else []


def share_link(page: PageInfo) -> str:
    """The current page's address with every parameter that defines its experiment."""
    params = [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]
    address = st.context.url or f"/{page.url_path}"  # no URL outside a browser session (tests)
    return address + (f"?{urlencode(params)}" if params else "")


def _set_hidden(widget_key: str) -> None:
    chosen = st.session_state[widget_key]
    if chosen:
        st.query_params[HIDE_PARAM] = ",".join(chosen)
    else:
        st.query_params.pop(HIDE_PARAM, None)


def share_panel(page: PageInfo):
    """Sidebar panel: the presentation toggle, which controls to hide, and a placeholder for the
    link, returned so it is filled after the page ran (the page's widgets update the URL); None while
    the panel is folded: the link's code block makes every browser load a 1.5 MB syntax highlighter
    on its first page, in the way of that page's first chart."""
    panel = st.expander("Share and present", icon=":material/share:", expanded=presentation_requested(),
                        key="share_panel", on_change="rerun")
    if presenting() and not presentation_requested():
        # A page switch (a followed push, a run opened big) cannot carry ?present= (Streamlit refuses a
        # widget-bound parameter in st.switch_page): setting the toggle to the value it keeps writes it back
        # into the address, so the link and a reload stay in presentation mode.
        st.session_state[PRESENT_KEY] = True
    with panel:
        st.toggle("Presentation mode", key=PRESENT_KEY, bind="query-params",
                  help="Larger text and charts for a projector; the sidebar starts folded. "
                       "The link below keeps it on.")
        controls = page_control_keys(page)
        hidden = hidden_keys()
        if controls or hidden:
            widget_key = f"_hide_{page.url_path}"
            if widget_key not in st.session_state:
                st.session_state[widget_key] = hidden
            st.multiselect("Hide controls", sorted(set(controls) | set(hidden)), key=widget_key,
                           on_change=_set_hidden, args=(widget_key,), placeholder="none",
                           help="Hidden controls keep their values; the link below hides them too.")
        # The link goes below the controls: drawn by the rerun that opening the panel starts, above them it pushed
        # them down as it arrived, and a click aimed at Presentation mode then landed on the link (2 of 5 times on
        # a busy server's class view).
        link = None
        if panel.open:
            st.caption("Link to exactly this experiment (same settings, same seed):")
            link = st.empty()
    return link


def show_share_link(link, page: PageInfo) -> None:
    if link is not None:
        link.code(share_link(page), language=None, wrap_lines=True)


# The status bar's numbers (ui.live.status_bar: metrics in one row container) share the row equally, as columns
# would: sized by their text, they shifted sideways whenever a number gained a digit.
_EQUAL_METRICS_CSS = ("[data-testid='stHorizontalBlock'] > [data-testid='stElementContainer']"
                      ":has(> [data-testid='stMetric']) {flex: 1 1 0}\n")


def page_styles() -> str:
    """CSS for the status bar, presentation mode and the controls hidden by the URL."""
    rules = [_EQUAL_METRICS_CSS] + ([_PRESENTATION_CSS] if presenting() else [])
    rules += [f".st-key-{key} {{display: none !important}}" for key in hidden_keys()]
    return "".join(rules)


_ADDRESS_LEFT = "_address_left"  # the query string as the last whole-page run left it


def link_parameters() -> dict[str, list[str]]:
    """The query string as it arrived, before the page's widgets consumed it."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def open_old_labels(page: PageInfo) -> None:
    """Before the page runs: a link made before an option was relabelled holds its old label (a control's
    `aliases`), which the page's URL-bound widget would drop. It is rewritten to today's label and the run
    starts again, since a widget reads the link only as a run starts; the address bar then holds today's label."""
    if page.spec is None:
        return
    rewritten = False
    for control in page.spec.CONTROLS:
        key = page.spec.PREFIX + control.field
        values = st.query_params.get_all(key) if control.aliases else []
        if any(value in control.aliases for value in values):
            st.query_params[key] = [control.label_of(control.aliases[value]) if value in control.aliases else value
                                    for value in values]
            rewritten = True
    if rewritten:
        st.rerun()


def open_exact_link(arrived: dict[str, list[str]], page: PageInfo) -> None:
    """Before the page runs: if the link is marked exact, every setting of the page this session holds is
    forgotten: those the link does not name go back to their defaults (the page's widgets then draw them, and
    leave them out of the URL), those it names are read from the link as their widgets are drawn (code that
    reads a setting before its widget, such as a view, must not see the one this session had before). So the
    page shows the link's experiment and the address bar holds the link's settings. The marker leaves the URL."""
    if EXACT_PARAM not in arrived:
        return
    del st.query_params[EXACT_PARAM]
    for key in page_control_keys(page):
        del st.session_state[key]


def _shown(key: str, values: list[str]) -> str:
    text = f"{key}={','.join(values)}"
    text = text if len(text) <= _MAX_SHOWN_CHARS else text[:_MAX_SHOWN_CHARS] + "…"
    # Shown as inline code, so nothing in it is read as Markdown or HTML; backticks would end it.
    return "`" + text.replace("`", "'") + "`"


def unused_link_parameters(arrived: dict[str, list[str]], page: PageInfo) -> tuple[list[str], list[str]]:
    """After the page ran: (parameters Streamlit refused, parameters no control here owns).
    The second kind is removed from the URL, so a copied link carries only what works."""
    refused = [_shown(key, values) for key, values in arrived.items()
               if key not in st.query_params and key not in GLOBAL_PARAMS]
    known = set(page_control_keys(page)) | set(GLOBAL_PARAMS) | set(spec_control_keys(page))
    unknown = []
    for key in list(st.query_params):
        if key not in known:
            unknown.append(_shown(key, st.query_params.get_all(key)))
            del st.query_params[key]
    return refused, unknown


def report_unused_link_parameters(arrived: dict[str, list[str]], page: PageInfo, notice) -> None:
    """Fill `notice` (a placeholder above the page) with what the link asked for and did not get.

    A parameter the last run left in the address as it is was no link's: the page itself may change that value
    in this run (a step slider clamped to fewer merges), which is no refusal."""
    left = st.session_state.get(_ADDRESS_LEFT, {})
    arrived = {key: values for key, values in arrived.items() if left.get(key) != values}
    try:
        _report(arrived, page, notice)
    finally:
        st.session_state[_ADDRESS_LEFT] = link_parameters()


def _report(arrived: dict[str, list[str]], page: PageInfo, notice) -> None:
    if not arrived:
        return
    refused, unknown = unused_link_parameters(arrived, page)
    lines = []
    # Streamlit also drops a value equal to the control's default, which changes nothing: say so.
    for what, names in (("invalid here (wrong type or out of range) or already the default, so the default "
                         "is used", refused),
                        ("not a control on this page, so it is ignored", unknown)):
        if names:
            more = f" and {len(names) - _MAX_REPORTED} more" if len(names) > _MAX_REPORTED else ""
            lines.append(f"{', '.join(names[:_MAX_REPORTED])}{more}: {what}.")
    if lines:
        notice.warning("Some settings in the link were not used.  \n" + "  \n".join(lines), icon=":material/link_off:")
