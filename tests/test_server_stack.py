"""The web server runs on Streamlit's `performance` extra (requirements.txt): HTTP parsed by httptools, on a uvloop
event loop. Without them, the ~130 requests a new browser makes for Streamlit's frontend went through h11, in
Python, on asyncio's own loop, and every page's first chart came 0.2-0.3 s later
(docs/INTERACTION-MEASUREMENTS.md)."""

import sys
import urllib.request
from pathlib import Path

import pytest

from scripts.browser import running_app

EXTRA = ("httptools", "uvloop")


def loaded_libraries(env: dict[str, str] | None = None) -> str:
    """The shared libraries of `streamlit run app.py` after it answered a request."""
    with running_app(env=env) as (url, process):
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 200
        return Path(f"/proc/{process.pid}/maps").read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the server's /proc/PID/maps")
def test_the_web_server_parses_http_in_c_on_a_libuv_loop(tmp_path):
    maps = loaded_libraries()
    assert all(f"/{name}/" in maps for name in EXTRA), [name for name in EXTRA if f"/{name}/" not in maps]
    # The oracle that the check can fail: the same server with the extra's modules made unimportable.
    (tmp_path / "sitecustomize.py").write_text("import sys\n" + "".join(f"sys.modules[{name!r}] = None\n"
                                                                        for name in EXTRA))
    maps = loaded_libraries({"PYTHONPATH": str(tmp_path)})
    assert not any(f"/{name}/" in maps for name in EXTRA)
