"""The widget's shipped assets are the build of its readable source.

Shopify CLI deploys ``storefront_widget/`` as it is, so the readable source lives in ``widget/src/``
and ``widget/build.mjs`` (esbuild, pinned in ``widget/package-lock.json``) minifies it into
``storefront_widget/assets/`` and the inlined ``snippets/backbell-boot.liquid``. Editing a built file by
hand, or the source without rebuilding, fails here.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.widget.liquid_theme import EXTENSION, ROOT

# Needs node and widget/node_modules, which scripts/ensure-browser installs with the browser tools.
pytestmark = pytest.mark.browser

BUILD_DIR = ROOT / "widget"
SHIPPED = ("assets/backbell.css", "assets/backbell.js", "snippets/backbell-boot.liquid")


def build_into(folder) -> subprocess.CompletedProcess:
    if not (BUILD_DIR / "node_modules" / "esbuild").is_dir():
        pytest.fail("widget/node_modules/esbuild is missing: run scripts/ensure-browser (npm ci in widget/)")
    return subprocess.run(["node", "build.mjs", str(folder)], cwd=BUILD_DIR, capture_output=True, text=True, timeout=60)


def test_the_committed_assets_are_exactly_the_build_of_the_source(tmp_path):
    # when the pinned esbuild builds widget/src/ into an empty folder
    done = build_into(tmp_path)

    # then it builds exactly the shipped files, each byte for byte the committed asset
    assert done.returncode == 0, done.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == list(SHIPPED)
    stale = [name for name in SHIPPED if (tmp_path / name).read_bytes() != (EXTENSION / name).read_bytes()]
    assert stale == [], f"storefront_widget/{stale} differ from the build of widget/src/: run `cd widget && npm run build`"

