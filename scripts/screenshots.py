"""Screenshots of every page and every lesson preset, taken from the running app:
`python -m scripts.screenshots --out DIR` (add `--pages-only` to skip the lesson presets, `--only
NAME` for the shots whose name starts with NAME).

Starts the app headless, opens each page in Chromium, lets training run for a
few seconds where the page trains, pauses, and saves a full-page PNG named after the
page's URL path (DIR/playground.png, ...); each lesson preset goes to
DIR/lessons/NN-K.png. The README and the home page use docs/screenshots/.

`--present --size 1280x720` (or 1366x768, 1920x1080, ...) takes slides instead: each page in
presentation mode, the first screen of a projector of that size, as DIR/playground-present-1280x720.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scripts.browser import chromium, running_app, wait_until_rendered
from ui.catalog import PAGES, ROOT
from ui.lessons import LESSONS


def shots(with_lessons: bool, only: str | None = None) -> list[tuple[str, str]]:
    """(file name without .png, address relative to the app's root); `only`: the names that start with it."""
    pages = [(info.url_path, info.url_path) for info in PAGES]
    lessons = [(f"lessons/{number:02d}-{k}", preset.url)
               for number, lesson in enumerate(LESSONS, start=1) for k, preset in enumerate(lesson.presets, start=1)]
    return [shot for shot in pages + (lessons if with_lessons else []) if not only or shot[0].startswith(only)]


def fit_to_content(page, width: int, min_height: int) -> None:
    """Grow the window to the page's content: Streamlit scrolls inside its main block, not the document,
    so a full-page screenshot alone would stop at the window's edge."""
    content = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                            "'[data-testid=stMain], [data-testid=stSidebarContent]')].map(e => e.scrollHeight))")
    if content > min_height:
        page.set_viewport_size({"width": width, "height": int(content)})
        time.sleep(1.5)  # the charts re-layout to the new window


def take(out: Path, train_seconds: float, width: int, height: int, with_lessons: bool = True,
         only: str | None = None, present: bool = False) -> list[Path]:
    saved = []
    with running_app() as (url, _process), chromium(width, height) as browser:
        for name, address in shots(with_lessons and not present, only):
            page = browser.new_page()
            if present:  # a slide: the projector's first screen, in presentation mode
                name = f"{name}-present-{width}x{height}"
                address += ("&" if "?" in address else "?") + "present=true"
            page.goto(f"{url}/{address}")
            wait_until_rendered(page)
            train = page.get_by_role("button", name="Train", exact=True)
            if train.count():
                train.first.click()
                time.sleep(train_seconds)
                page.get_by_role("button", name="Pause", exact=True).first.click()
                wait_until_rendered(page)
                # Diffusion draws and scores samples of the last step after a pause: show those.
                page.get_by_text("Measuring the latest step").wait_for(state="hidden", timeout=120_000)
                time.sleep(1.0)
            page.mouse.move(0, 0)
            if present:
                time.sleep(1.0)  # the main chart is laid out again at the screen's height
            else:
                fit_to_content(page, width, height)
            path = out / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=not present)
            saved.append(path)
            page.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--train-seconds", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--height", type=int, default=1300)
    parser.add_argument("--pages-only", action="store_true", help="skip the lesson presets")
    parser.add_argument("--only", help="just the shots whose name starts with this (e.g. diffusion, lessons/13)")
    parser.add_argument("--present", action="store_true",
                        help="slides: every page in presentation mode, the first screen of the window (--size)")
    parser.add_argument("--size", type=window_size, help="the window as WIDTHxHEIGHT, e.g. 1280x720 (instead of "
                                                        "--width and --height)")
    args = parser.parse_args()
    width, height = args.size or (args.width, args.height)
    for path in take(args.out, args.train_seconds, width, height, not args.pages_only, args.only, args.present):
        print(path)


def window_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise argparse.ArgumentTypeError(f"{text}: between 320x240 and 7680x4320")
    return width, height


if __name__ == "__main__":
    main()
