"""Regenerates the binary files of the Dawn-weight test page (fixtures/theme/heavy/): three web fonts
and the product photo. They are committed; run this only to change them.

    pip install fonttools brotli   # pyftsubset, woff2 (not project dependencies)
    .venv/bin/python -m tests.widget.make_heavy_binaries

Fonts: Debian's DejaVu Sans / Sans Bold / Serif (licence in DEJAVU-LICENSE.txt) subset to Latin like
Shopify's font_url files, as woff2 — about the size of Dawn's Assistant 400/700 files (~20–25 KB).
Photo: a 720×900 WebP (a 4:5 product shot at the width Dawn's srcset picks for a 412 px, DPR 1.75
phone) drawn on a canvas in Debian's chromium: soft shapes with grain, so it compresses like a photo.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from tests.widget.conftest import CHROMIUM, CHROMIUM_ARGS

HEAVY = Path(__file__).resolve().parent / "fixtures" / "theme" / "heavy"
FONTS = {
    "body-regular.woff2": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "body-bold.woff2": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "heading.woff2": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
}
LATIN = "U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+2000-206F,U+2074,U+20AC,U+2122,U+2212,U+FEFF,U+FFFD"
DRAW = """() => {
  const canvas = document.createElement('canvas');
  canvas.width = 720; canvas.height = 900;
  const g = canvas.getContext('2d');
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const sky = g.createLinearGradient(0, 0, 720, 900);
  sky.addColorStop(0, '#d9cbb8'); sky.addColorStop(1, '#8c7a66');
  g.fillStyle = sky; g.fillRect(0, 0, 720, 900);
  for (let i = 0; i < 140; i++) {
    g.beginPath();
    g.fillStyle = `hsla(${20 + random() * 40}, ${20 + random() * 40}%, ${30 + random() * 50}%, 0.35)`;
    g.ellipse(random() * 720, random() * 900, 20 + random() * 160, 20 + random() * 160, random() * 3, 0, 7);
    g.fill();
  }
  const image = g.getImageData(0, 0, 720, 900);
  for (let i = 0; i < image.data.length; i += 4) {
    const grain = (random() - 0.5) * 20;
    image.data[i] += grain; image.data[i + 1] += grain; image.data[i + 2] += grain;
  }
  g.putImageData(image, 0, 0);
  return canvas.toDataURL('image/webp', 0.8);
}"""


def make_fonts() -> None:
    for name, source in FONTS.items():
        subprocess.run(["pyftsubset", source, f"--unicodes={LATIN}", "--flavor=woff2", "--layout-features=*",
                        f"--output-file={HEAVY / name}"], check=True)


def make_photo() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        url = browser.new_page().evaluate(DRAW)
        browser.close()
    (HEAVY / "product-photo.webp").write_bytes(base64.b64decode(url.split(",", 1)[1]))


if __name__ == "__main__":
    HEAVY.mkdir(parents=True, exist_ok=True)
    make_fonts()
    make_photo()
    for path in sorted(HEAVY.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")
