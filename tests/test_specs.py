"""Every page's spec against its control table: round trips through links and dicts, refusals that name the field,
and the links recorded before the specs (tests/data/links.json) read by the spec exactly as the page opened them."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.common.limits import LIMITS, ConfigError
from engine.common.spec import MULTI, Control, Spec
from tests.recorded_links import plain, recorded
from ui.catalog import PAGES

SPECS = [page.spec for page in PAGES if page.spec is not None]


def _value(control: Control, before: dict) -> st.SearchStrategy:
    """Any value the control takes."""
    if control.widget in MULTI:
        return st.lists(st.sampled_from(list(control.options)), unique=True).map(tuple)
    if control.options:
        return st.sampled_from(list(control.options))
    default = control.default_for(before)
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, str):
        return st.text(max_size=control.max_chars or 20)
    low, high = control.low, control.high
    if control.limit:
        low, high = max(low, LIMITS[control.limit].low), min(high, LIMITS[control.limit].high)
    if isinstance(default, int):
        return st.integers(math.ceil(low), math.floor(high))
    return st.floats(low, high, allow_nan=False)


@st.composite
def specs(draw, spec_type: type[Spec]) -> Spec:
    values: dict = {}
    for control in spec_type.CONTROLS:
        values[control.field] = draw(_value(control, values)) if control.is_shown(values) \
            else control.default_for(values)
    return spec_type(**values)


def _bad_values(control: Control, before: dict) -> list[tuple[object, bool]]:
    """(value, whether a link can ask for it too) pairs the control must refuse: outside its options or range,
    of the wrong type. (A link is all text: "3" is a fine number there, and any text a fine text.)"""
    bad = [(object(), False), (None, False)]
    if control.widget in MULTI:
        bad += [("no such option", True), (("no such option",), True)]
    elif control.options:
        bad += [("no such option", True), (1e300, True)]
    else:
        default = control.default_for(before)
        if isinstance(default, bool):
            bad += [("yes", True), (1, True)]
        elif isinstance(default, str):
            bad += [(7, False)] + ([("x" * (control.max_chars + 1), True)] if control.max_chars else [])
        else:
            bad += [("3", False), (True, True), (math.nan, True), (math.inf, True), (control.high + 1, True),
                    (control.low - 1, True)]
            if isinstance(default, int):
                bad.append((control.low + 0.5, True))
    return bad


def _link_text(control: Control, value: object):
    if control.widget in MULTI:
        return list(value) if isinstance(value, tuple) else [str(value)]
    return str(value).lower() if isinstance(value, bool) else str(value)


ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("spec_type", SPECS, ids=lambda s: s.__name__)
def test_a_spec_survives_its_link_and_its_dict(spec_type):
    @ROUND_TRIP
    @given(specs(spec_type))
    def check(spec):
        # A text too long for an address stays out of links: a link opens it at its default.
        unlinked = {control.field: control.default_for({}) for control in spec_type.CONTROLS if not control.linked}
        assert spec_type.from_query(spec.to_query()) == (spec.replace(**unlinked), [])
        assert spec_type.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec

    check()


@pytest.mark.parametrize("spec_type", SPECS, ids=lambda s: s.__name__)
def test_every_bad_field_is_refused_naming_it_and_nothing_else_changes(spec_type):
    @ROUND_TRIP
    @given(specs(spec_type), st.data())
    def check(spec, data):
        before = {}
        shown = []
        for control in spec_type.CONTROLS:
            if control.is_shown(before):
                shown.append((control, dict(before)))
            before[control.field] = getattr(spec, control.field)
        control, before = data.draw(st.sampled_from(shown))
        key = spec_type.PREFIX + control.field
        for bad, in_link in _bad_values(control, before):
            with pytest.raises(ConfigError, match=key):
                spec_type.from_dict({**spec.to_dict(), control.field: bad})
            if not in_link:
                continue
            link = {k: v for k, v in spec.to_query().items() if k != key}
            opened, refused = spec_type.from_query({**link, key: _link_text(control, bad)})
            assert [r.key for r in refused] == [key], (bad, refused)
            assert opened == spec_type.from_query(link)[0]

    check()


def test_a_field_default_is_its_controls_default():
    for spec_type in SPECS:
        spec = spec_type()
        before = {}
        for control in spec_type.CONTROLS:
            assert getattr(spec, control.field) == control.default_for(before), (spec_type, control.field)
            before[control.field] = getattr(spec, control.field)


def _recorded():
    links = recorded()
    by_page = {page.url_path: page for page in PAGES}
    for link, opened in links.items():
        path, _, query = link.partition("?")
        page = by_page[path]
        if page.spec is not None:
            yield pytest.param(page, query, opened, id=link[:70])


@pytest.mark.parametrize("page, query, opened", list(_recorded()))
def test_a_recorded_link_read_by_the_spec_opens_what_the_page_opened(page, query, opened):
    """The oracle is Streamlit itself: the experiment the page built from the link's widgets, recorded before
    the specs existed. The spec must read the link the same way (and refuse what Streamlit refused)."""
    params: dict = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    params = {key: values[0] if len(values) == 1 and not _is_multi(page.spec, key) else values
              for key, values in params.items()}
    spec, refused = page.spec.from_query(params)
    values = {spec.PREFIX + control.field: getattr(spec, control.field) for control in spec.shown_fields()}
    assert plain(values) == {key: value for key, value in opened["settings"].items() if key in values}
    if opened["jobs"]:  # the experiment the page's job was built from (the Optimizers page has none)
        (job,) = opened["jobs"].values()
        try:
            config = spec.config()
        except ConfigError:  # a combination the engine refuses: the page's new job got the default experiment
            config = type(spec)().config()
        assert plain(config) == job["config"]
        assert plain(spec.hyperparameters()) == {k: v for k, v in job["hp"].items() if k in spec.hyperparameters()}
        assert spec.job_seed() == job["seed"]
    noticed = " ".join(opened["notices"])
    assert all(r.key in noticed for r in refused), (refused, noticed)


def _is_multi(spec_type: type[Spec], key: str) -> bool:
    control = spec_type.controls().get(key.removeprefix(spec_type.PREFIX))
    return control is not None and control.widget in MULTI


ALIASES = [pytest.param(spec_type, control, old, id=f"{spec_type.PREFIX}{control.field}={old}")
           for spec_type in SPECS for control in spec_type.CONTROLS for old in (control.aliases or {})]


def test_the_relabelled_controls_keep_their_old_labels():
    """The Attention task box and the Landscape's Directions were relabelled: their links made before name the
    old labels."""
    assert {f"{spec_type.PREFIX}{control.field}" for spec_type, control, _ in (p.values for p in ALIASES)} >= \
        {"at_task", "ls_dirs"}


@pytest.mark.parametrize("spec_type, control, old", ALIASES)
def test_an_old_label_opens_its_option_and_a_new_link_writes_todays(spec_type, control, old):
    option = control.aliases[old]
    assert old not in {control.label_of(o) for o in control.options}  # else it is no alias: the label works
    spec, refused = spec_type.from_query({spec_type.PREFIX + control.field: old})
    assert refused == [] and getattr(spec, control.field) == option
    if option != control.default_for({}):
        assert spec.to_query()[spec_type.PREFIX + control.field] == control.label_of(option)
