"""The app uses only Streamlit's public API, so an upgrade cannot break it without a test noticing: no module of
app.py, app_pages/, ui/, viz/ or engine/ imports from `streamlit.runtime` or `streamlit.proto`, or a name that
starts with an underscore from Streamlit, or reaches an underscore attribute of `st`. (scripts/streamlit_client.py,
the classroom bench's light client, speaks Streamlit's wire protocol on purpose.) Two modules must reach inside,
each using what it names below and no more: ui/delivery.py holds a script run until its messages have left the
session's queue, and tells a fragment's timer firing from a click, which no public call tells
(tests/test_ui_delivery.py fails if an upgrade moves those parts); ui/controls.py's `keep_in_address` undoes a
widget's URL binding so that a control not drawn keeps its place in the address, which Streamlit would otherwise
take it out of (tests/test_app_cnn.py's held-controls test fails if an upgrade moves that)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PRIVATE_PACKAGES = ("streamlit.runtime", "streamlit.proto")
INSIDE_STREAMLIT = {"ui/delivery.py": ["from streamlit.runtime import Runtime",
                                      "from streamlit.runtime.scriptrunner import get_script_run_ctx"],
                    "ui/controls.py": ["from streamlit.runtime.scriptrunner import get_script_run_ctx"]}
APP_MODULES = sorted([ROOT / "app.py", *(path for folder in ("app_pages", "ui", "viz", "engine")
                                        for path in (ROOT / folder).rglob("*.py"))])


def internals(source: str) -> list[str]:
    """Every use of Streamlit internals in a module's source, as `line: what`."""
    found = []
    streamlit_names = {"streamlit"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "streamlit":
                    streamlit_names.add(alias.asname or alias.name)
                    if alias.name.startswith(PRIVATE_PACKAGES) or "._" in alias.name:
                        found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "streamlit":
            module = node.module or ""
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            if module.startswith(PRIVATE_PACKAGES) or "._" in module or private:
                found.append(f"{node.lineno}: from {module} import {', '.join(a.name for a in node.names)}")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and isinstance(node.value, ast.Name) and node.value.id in streamlit_names | {"st"}:
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_check_finds_each_kind_of_internal():
    source = ("import streamlit as st\nimport streamlit.runtime.scriptrunner\n"
              "from streamlit.proto.ForwardMsg_pb2 import ForwardMsg\nfrom streamlit.elements import _private\n"
              "st._main\nimport streamlit.components.v1\nfrom streamlit.errors import StreamlitAPIException\n")
    assert [line.split(":")[0] for line in internals(source)] == ["2", "3", "4", "5"]


@pytest.mark.parametrize("path", APP_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_app_module_uses_streamlit_internals(path):
    found = [use.split(": ", 1)[1] for use in internals(path.read_text())]
    assert found == INSIDE_STREAMLIT.get(str(path.relative_to(ROOT)), [])
