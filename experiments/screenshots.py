"""The README's screenshots of the drift page and the evaluation page, taken by the browser the tests use.

    .venv/bin/python experiments/screenshots.py

Reads ``experiments/drift/drift.html`` and ``experiments/minilm-logreg/report.html`` (both
written by ``make demo``) and writes ``drift-page.png`` and ``report-page.png`` beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stance.pages import open_chromium  # noqa: E402

#: page -> (screenshot, what to click first: a confusion cell, so the picture shows the sentences behind a number).
PAGES = {
    REPO / "experiments" / "drift" / "drift.html": (REPO / "experiments" / "drift" / "drift-page.png", None),
    REPO / "experiments" / "minilm-logreg" / "report.html": (
        REPO / "experiments" / "minilm-logreg" / "report-page.png",
        "table.confusion button[data-gold=none][data-predicted=against]",
    ),
}


def main() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = open_chromium(p)
        for page_path, (png, click) in PAGES.items():
            page = browser.new_page(viewport={"width": 1100, "height": 1700}, device_scale_factor=1)
            problems = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.resolve().as_uri())
            if click:
                page.click(click)
            if problems:
                raise SystemExit(f"{page_path}: {problems[0]}")
            page.screenshot(path=str(png))
            print(f"{png.relative_to(REPO)}")  # noqa: T201
        browser.close()


if __name__ == "__main__":
    main()
