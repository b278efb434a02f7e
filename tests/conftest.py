import os
import sys
import threading
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADSCAPE_TORCH_THREADS", "1")
torch.set_num_threads(1)


@pytest.fixture
def no_leaked_threads():
    """Fails a test that leaves a Gradscape training thread running."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("gradscape-") and t.is_alive()]
    assert not leaked, f"training threads still alive after the test: {leaked}"


@pytest.fixture(autouse=True)
def release_session_jobs():
    """AppTest runs share one session id, so session-scoped jobs would carry over
    from test to test; clearing the resource cache releases (stops) them."""
    yield
    import streamlit as st

    st.cache_resource.clear()
