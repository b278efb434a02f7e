"""What every browser test module shares: its own `streamlit run app.py` on a free port."""

import pytest

from scripts.browser import running_app
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def app_url():
    """The base URL of an app started for this test module (its log under artifacts/)."""
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with running_app() as (url, _process):
        yield url
