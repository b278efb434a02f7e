"""An experiment as data: a page's spec is a frozen dataclass that holds its whole experiment (configuration,
hyperparameters, seed, and the view a link opens), as TensorFlow Playground's `state.ts` holds its state.

Each page declares one control table, a tuple of `Control` rows: the spec field, the widget that sets it, what it
accepts (options or a range, and a limit of engine/common/limits.py), its label and help. Everything that reads
or writes an experiment goes through the spec:

    spec = PlaygroundSpec.from_dict(settings)        # a settings file: refused whole, naming field and limit
    spec, refused = PlaygroundSpec.from_query(link)  # a link: what cannot be used is refused, the rest is kept
    spec.to_query()                                  # the link's parameters, as the page's widgets write them
    spec.config(), spec.hyperparameters()            # what the page's trainer is built from

Field names are the widget keys without the page's prefix (`pg_lr` sets `lr`), so a link, a settings file and a
spec name things alike. A field whose control is not shown (momentum while the optimizer is Adam, the third
layer's width with two layers) is always at its default: one experiment has one spec.

A refusal quotes the value asked for as inline code (`engine.common.export.shown`): a link or a file is
untrusted, and its text must never render as Markdown or HTML.

Link values are what Streamlit's URL-bound widgets write: an option's label (`pg_data=1-D: sin x`, and its raw
name is accepted too, as is a label it had before, listed in the control's `aliases`), a number as Python prints
it, a toggle as true/false, one repeated parameter per chosen option. tests/test_specs.py checks both directions
against the recorded links and against the pages.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

from engine.common.export import shown
from engine.common.limits import ConfigError, problem

QueryValue = str | list[str]

WIDGETS = ("select", "radio", "segmented", "pills", "multiselect", "slider", "select_slider", "number", "toggle",
           "text", "text_area", "tabs")  # tabs: the open tab is the value (ui.controls.ControlPanel.tabs)
MULTI = ("pills", "multiselect")  # widgets whose value is a tuple of options


@dataclass(frozen=True)
class Control:
    """One row of a page's control table."""

    field: str  # the spec field; the widget key and link parameter are the page's prefix + this
    widget: str  # one of WIDGETS
    label: str
    default: Any  # or a function of the fields before it (a start point that depends on the function chosen)
    options: Sequence[Any] = ()  # what an option widget offers
    labels: Mapping[Any, str] | None = None  # how an option is shown, and written in a link (else str(option))
    # Labels that links made before a relabelling hold -> the option each meant: such a link keeps working.
    aliases: Mapping[str, Any] | None = None
    low: float | None = None  # a number's range
    high: float | None = None
    step: float | None = None
    limit: str | None = None  # a limit of engine/common/limits.py that the value must keep as well
    help: str = ""
    shown: Callable[[Mapping[str, Any]], bool] | None = None  # drawn only when the fields before it say so
    max_chars: int | None = None  # text
    format: str | None = None  # how a number widget prints it
    # False for a value too long for an address (a pasted text of up to 200 KB): its widget is not bound to the
    # URL and links leave it out (a link that names it is refused); settings files carry it.
    linked: bool = True

    def __post_init__(self) -> None:
        if self.widget not in WIDGETS:
            raise ValueError(f"unknown widget kind {self.widget!r} for {self.field!r}")
        if self.aliases and any(option not in self.options for option in self.aliases.values()):
            raise ValueError(f"an alias of {self.field!r} names no option")

    def default_for(self, before: Mapping[str, Any]) -> Any:
        return self.default(before) if callable(self.default) else self.default

    def is_default(self, value: Any, before: Mapping[str, Any]) -> bool:
        """Whether `value` is this control's default given the fields before it (a link leaves it out)."""
        return _same_value(value, self.default_for(before))

    def is_shown(self, before: Mapping[str, Any]) -> bool:
        return self.shown is None or bool(self.shown(before))

    def label_of(self, option: Any) -> str:
        return self.labels[option] if self.labels and option in self.labels else str(option)

    # ------------------------------------------------------------------ checking one value
    def refusal(self, value: Any, before: Mapping[str, Any]) -> str | None:
        """Why this control does not take `value` (None when it does)."""
        if self.widget in MULTI:
            if not isinstance(value, tuple) or any(item not in self.options for item in value) \
                    or len(set(value)) != len(value):
                return f"must be a list of distinct options among {self._choices()}, not {shown(value)}"
            return None
        if self.options:
            if not any(_same(value, option) for option in self.options):
                return f"must be one of {self._choices()}, not {shown(value)}"
            return None
        default = self.default_for(before)
        if isinstance(default, bool):
            return None if isinstance(value, bool) else f"must be true or false, not {shown(value)}"
        if isinstance(default, str):
            if not isinstance(value, str):
                return f"must be a text, not {shown(value)}"
            if self.max_chars is not None and len(value) > self.max_chars:
                return f"must be at most {self.max_chars} characters, not {len(value)}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a finite number, not {shown(value)}"
        if isinstance(default, int) and not float(value).is_integer():
            return f"must be a whole number, not {shown(value)}"
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            return f"must be between {self.low:g} and {self.high:g}, not {shown(value)}"
        return problem(self.limit, value) if self.limit else None

    def canonical(self, value: Any, before: Mapping[str, Any]) -> Any:
        """The value as the spec holds it: lists as tuples, whole numbers as int where the control counts."""
        if self.widget in MULTI and isinstance(value, list):
            return tuple(value)
        default = self.default_for(before)
        if not self.options and isinstance(default, int) and not isinstance(default, bool) \
                and isinstance(value, float) and value.is_integer():
            return int(value)
        if not self.options and isinstance(default, float) and type(value) is int:
            return float(value)
        if self.options:  # 1 and 1.0 are one option: keep the table's own
            return next((option for option in self.options if _same(value, option)), value)
        return value

    def _choices(self) -> str:
        listed = ", ".join(self.label_of(option) for option in list(self.options)[:12])
        return listed + (", …" if len(self.options) > 12 else "")

    # ------------------------------------------------------------------ links
    def to_query(self, value: Any) -> QueryValue:
        if self.widget in MULTI:
            return [self.label_of(option) for option in value]
        if self.options:
            return self.label_of(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def from_query(self, text: QueryValue, before: Mapping[str, Any]) -> Any:
        """The value a link's text means (raises ValueError when it means none)."""
        items = text if isinstance(text, list) else [text]
        if self.widget in MULTI:
            return tuple(self._option(item) for item in items)
        if len(items) != 1:
            raise ValueError("is given more than once")
        item = items[0]
        if self.options:
            return self._option(item)
        default = self.default_for(before)
        if isinstance(default, bool):
            if item.lower() not in ("true", "false"):
                raise ValueError("must be true or false")
            return item.lower() == "true"
        if isinstance(default, str):
            return item
        number = float(item)
        return int(number) if isinstance(default, int) and number.is_integer() else number

    def _option(self, text: str) -> Any:
        for option in self.options:
            if text == self.label_of(option):
                return option
        for option in self.options:  # the raw name works too: `pg_data=xor` as well as `pg_data=XOR`
            if text == str(option):
                return option
        if self.aliases and text in self.aliases:
            return self.aliases[text]
        raise ValueError(f"is not one of {self._choices()}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b and (isinstance(a, str) == isinstance(b, str))


@dataclass(frozen=True)
class Refusal:
    """A value a link or a file asked for that the spec does not take: the parameter, its text, and why."""

    key: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}: {self.reason}"


class _AtDefault:
    """A field's default where it depends on the fields before it (resolved when the spec is made)."""

    def __repr__(self) -> str:
        return "<the control's default>"


AT_DEFAULT = _AtDefault()


def spec_class(cls):
    """Make a Spec subclass (which sets PREFIX and CONTROLS) a frozen dataclass with one field per control, in
    the table's order, defaulting to the control's default: the table is the one place a field is declared."""
    cls.__annotations__ = {control.field: Any for control in cls.CONTROLS}
    for control in cls.CONTROLS:
        setattr(cls, control.field, AT_DEFAULT if callable(control.default) else control.default)
    return dataclass(frozen=True)(cls)


class Spec:
    """Base of every page's spec: a subclass sets `PREFIX` and `CONTROLS`, is decorated with `spec_class`, and
    turns itself into what its trainer needs (config, hyperparameters, seed)."""

    PREFIX: ClassVar[str]
    CONTROLS: ClassVar[tuple[Control, ...]]
    # URL-bound view state the page keeps outside the spec (a tab's key): a link may carry it, and the spec
    # neither reads nor refuses it.
    VIEW_KEYS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        """Check every field (ConfigError naming the first bad one and the limit) and put the fields of
        controls not shown back to their defaults."""
        before: dict[str, Any] = {}
        for control in self.CONTROLS:
            value = getattr(self, control.field)
            if not control.is_shown(before) or value is AT_DEFAULT:
                value = control.default_for(before)
            else:
                value = control.canonical(value, before)
                reason = control.refusal(value, before)
                if reason:
                    raise ConfigError(f"{self.PREFIX}{control.field} ({control.label}) {reason}")
            object.__setattr__(self, control.field, value)
            before[control.field] = value

    @classmethod
    def controls(cls) -> dict[str, Control]:
        return {control.field: control for control in cls.CONTROLS}

    @classmethod
    def keys(cls) -> list[str]:
        return [cls.PREFIX + control.field for control in cls.CONTROLS]

    # ------------------------------------------------------------------ dicts (settings files)
    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values (tuples as lists)."""
        return {control.field: list(value) if isinstance(value := getattr(self, control.field), tuple) else value
                for control in self.CONTROLS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """The spec these fields give (the others at their defaults). Raises ConfigError naming the field and
        the limit for an unknown field or a value its control does not take: a file is taken whole or not."""
        known = cls.controls()
        unknown = [name for name in data if name not in known]
        if unknown:
            raise ConfigError(f"{', '.join(map(shown, unknown[:5]))}: not a setting of this page")
        values: dict[str, Any] = {}
        for control in cls.CONTROLS:  # in order: a later default may depend on an earlier field, checked first
            value = data[control.field] if control.field in data else control.default_for(values)
            value = control.canonical(value, values)
            reason = control.refusal(value, values) if control.is_shown(values) else None
            if reason:
                raise ConfigError(f"{cls.PREFIX}{control.field} ({control.label}) {reason}")
            values[control.field] = value
        return cls(**values)

    # ------------------------------------------------------------------ links
    def shown_fields(self) -> list[Control]:
        before: dict[str, Any] = {}
        shown = []
        for control in self.CONTROLS:
            if control.is_shown(before):
                shown.append(control)
            before[control.field] = getattr(self, control.field)
        return shown

    def to_query(self) -> dict[str, QueryValue]:
        """The link's parameters: every shown field that is not at its default, as its widget writes it."""
        query: dict[str, QueryValue] = {}
        before = {control.field: getattr(self, control.field) for control in self.CONTROLS}
        for control in self.shown_fields():
            value = getattr(self, control.field)
            if control.linked and not control.is_default(value, before):
                query[self.PREFIX + control.field] = control.to_query(value)
        return query

    @classmethod
    def from_query(cls, params: Mapping[str, QueryValue]):
        """(the spec a link opens, what it refused). A value that cannot be used (no such option, out of range,
        wrong type, breaks a limit) keeps its field at the default and is refused, naming the parameter and
        the reason; the other fields keep the link's values. Parameters of other pages are not looked at."""
        refused: list[Refusal] = []
        values: dict[str, Any] = {}
        known = cls.controls()
        for key in params:
            if key.startswith(cls.PREFIX) and key.removeprefix(cls.PREFIX) not in known and key not in cls.VIEW_KEYS:
                refused.append(Refusal(key, params[key], "not a control on this page"))
        for control in cls.CONTROLS:
            key = cls.PREFIX + control.field
            value = control.default_for(values)
            if key in params and not control.linked:
                refused.append(Refusal(key, params[key], "a link does not carry this text (it may be too long for "
                                                         "an address); a settings file does"))
            elif key in params:
                try:
                    asked = control.canonical(control.from_query(params[key], values), values)
                except (ValueError, OverflowError) as error:
                    refused.append(Refusal(key, params[key], str(error)))
                else:
                    reason = control.refusal(asked, values) if control.is_shown(values) else None
                    if reason:
                        refused.append(Refusal(key, params[key], reason))
                    else:
                        value = asked
            values[control.field] = value
        return cls(**values), refused

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def fallback_config(self) -> Any:
        """What a new job is built from when this spec's own config is refused: the page's default experiment
        (a page whose tabs hold different experiments keeps the open tab's)."""
        return type(self)().config()

    def job_seed(self) -> int:
        """The seed the experiment's trainer is built with: the `seed` field (a page with a seed per mode picks
        the mode's)."""
        return int(self.seed)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return a == b
    return _same(a, b)
