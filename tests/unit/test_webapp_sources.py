"""The web app's sources (web/): what the browser tests cannot see at a glance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SOURCES = sorted(WEB.glob("*.js"))
IMPORT_RE = re.compile(r"""^\s*import\s[^'"]*from\s+["']\./([^"']+)["'];""", re.MULTILINE)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_markup_is_built_from_strings(source: Path) -> None:
    """Text from the server or from users is set as textContent, never parsed as HTML."""
    text = source.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in text, f"{source.name} uses {sink}"
    assert "new Function" not in text


@pytest.mark.parametrize("source", [*SOURCES, WEB / "index.html", WEB / "style.css"])
def test_nothing_is_fetched_from_another_origin(source: Path) -> None:
    for url in re.findall(r"https?://[^\s\"'`)]+", source.read_text()):
        assert url.startswith("http://www.w3.org/"), f"{source.name} names {url}"


def test_every_module_import_names_a_file_that_is_served() -> None:
    names = {path.name for path in WEB.iterdir()}
    imports = {(s.name, i) for s in SOURCES for i in IMPORT_RE.findall(s.read_text())}
    assert ("main.js", "ask.js") in imports
    for source, imported in imports:
        assert imported in names, f"{source} imports ./{imported}"


def test_the_page_names_its_files_under_the_asset_version() -> None:
    page = (WEB / "index.html").read_text()
    named = re.findall(r'(?:src|href)="/app/__ASSET_VERSION__/([^"]+)"', page)
    assert {"main.js", "style.css", "favicon.svg"} <= set(named)
    assert all((WEB / name).is_file() for name in named)
    # No inline script or style: the Content-Security-Policy would refuse them.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert "<style" not in page
    assert " style=" not in page
