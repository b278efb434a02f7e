"""Screenshots of every page, taken from the running app: `python -m scripts.screenshots --out DIR`.

Starts the app headless, opens each page in Chromium, lets training run for a
few seconds where the page trains, pauses, and saves a PNG named after the
page's URL path. The README and the home page use docs/screenshots/.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scripts.browser import chromium, running_app, wait_until_rendered
from ui.catalog import PAGES, ROOT


def take(out: Path, train_seconds: float, width: int, height: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with running_app() as (url, _process), chromium(width, height) as browser:
        for info in PAGES:
            page = browser.new_page()
            page.goto(f"{url}/{info.url_path}")
            wait_until_rendered(page)
            train = page.get_by_role("button", name="Train")
            if train.count():
                train.first.click()
                time.sleep(train_seconds)
                page.get_by_role("button", name="Pause").first.click()
                wait_until_rendered(page)
                time.sleep(1.0)
            page.mouse.move(0, 0)
            path = out / f"{info.url_path}.png"
            page.screenshot(path=str(path))
            saved.append(path)
            page.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--train-seconds", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--height", type=int, default=1300)
    args = parser.parse_args()
    for path in take(args.out, args.train_seconds, args.width, args.height):
        print(path)


if __name__ == "__main__":
    main()
