"""One-file HTML pages that open offline: the drift explorer and the evaluation report.

A page is static HTML with its data embedded as JSON and a small script that
renders it; nothing is fetched, so a page can be mailed or archived. The
scripts build every element with DOM calls and set text through
``textContent``, so article text can never become markup, and links are
shown only for ``http``/``https`` addresses.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources

__all__ = ["PAGE_START", "embed_json", "render_page"]

_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def embed_json(data) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element (no ``</script>`` can close it).

    A number that is not finite (a metric undefined on its sentences) is embedded as null, which JSON can hold.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(data), ensure_ascii=False, allow_nan=False)
    return text.translate(_SCRIPT_ESCAPES)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


#: How every page begins, so that a command can tell a page it wrote from a file it must not replace.
PAGE_START = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'


def render_page(title: str, data, script: str, *, lead: str = "") -> str:
    """A whole page: shared style and helpers, the data, and the named page script (``drift.js``...)."""
    return PAGE_START + f"""<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{_asset("page.css")}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="lead">{html.escape(lead)}</p>
<noscript><p>This page draws its tables with JavaScript; the same numbers are in the command's --json output.</p></noscript>
<main id="app"></main>
<script type="application/json" id="data">{embed_json(data)}</script>
<script>
{_asset("common.js")}
{_asset(script)}</script>
</body></html>
"""


#: Chromium flags for a headless run on a machine with a closed network (no background connections).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")


def open_chromium(playwright, executable: str = "/usr/bin/chromium"):
    """Launch the system's Chromium through Playwright, as the page tests and the screenshots do."""
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
