"""Benchmark 6 — storefront cost: Lighthouse (mobile, performance) on product pages as heavy as
Dawn 15's and Horizon 4.1's real ones, with and without the Backbell block.

The storefront double (tests/widget/storefront_server.py) renders the Dawn 15 and Horizon 4 fixture
product pages with their theme's own weight (``?theme=dawn|horizon&weight=real``,
tests/widget/heavy_theme.py: render-blocking stylesheets, woff2 fonts, the product photo as LCP element,
the theme's deferred or module scripts, gzip) with the extension as a merchant installs it
(``install=block``) or without it (``install=none``), and forwards ``/apps/backbell/*`` to the app
(served in this process, signed like Shopify's proxy). Per theme two pages: a sold-out variant (the
widget shows) and an in-stock one (the widget stays hidden — most loads). Runs alternate
without/with; medians. Lighthouse 12.8 from tests/widget/node_modules (``npm ci`` there), Debian's
chromium.

Each run is kept in bench/storefront-runs.json under ``--label`` (``before``: the block as it was,
``after``: as it is) and theme, so RESULTS.md shows every table from the runs that made it; measuring
one theme keeps the other's runs.

    .venv/bin/python bench/storefront.py [--theme dawn,horizon] [--runs 3] [--label after]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, machine, write_section  # noqa: E402
from bench.stack import SECRET, stack  # noqa: E402
from tests.doubles.server import serve_wsgi  # noqa: E402
from tests.widget.storefront_server import page_path, serve_storefront  # noqa: E402

SHOP = "wool-and-waves.myshopify.com"
LIGHTHOUSE = ROOT / "tests" / "widget" / "node_modules" / ".bin" / "lighthouse"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
                "--disable-sync --no-first-run --disable-quic")
PAGES = {"sold out (widget shown)": 44100000000002, "in stock (widget hidden)": 44100000000001}
THEMES = {"dawn": "Dawn 15.4.1", "horizon": "Horizon 4.1"}
RUNS_FILE = ROOT / "bench" / "storefront-runs.json"
LABELS = {
    "before": "the block as it was: schema `stylesheet` (render-blocking in the head) and `javascript` (deferred)",
    "after": "the block now: no schema assets; button styles and a boot script inline, backbell.js after load, "
             "backbell.css only when the widget is shown",
}
METRICS = ("score", "lcp", "fcp", "tbt", "cls", "app_requests")


def lighthouse(url: str, scratch: Path) -> dict:
    report = scratch / "report.json"
    subprocess.run([str(LIGHTHOUSE), url, "--only-categories=performance", "--output=json", f"--output-path={report}",
                    "--quiet", f"--chrome-flags={CHROME_FLAGS}"], env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
                   check=True, capture_output=True, timeout=180)
    return measures(json.loads(report.read_text()))


def measures(data: dict) -> dict:
    """Score, LCP, FCP, TBT, CLS and the requests the page made for the extension's files (/assets/)."""
    audits = data["audits"]
    requests = audits["network-requests"]["details"]["items"]
    return {
        "score": data["categories"]["performance"]["score"] * 100,
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "fcp": audits["first-contentful-paint"]["numericValue"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "app_requests": sum(1 for r in requests if "/assets/" in r["url"]),
    }


def run(themes: list[str], runs: int) -> dict:
    """{theme: {page: {"without": [measures…], "with": […]}}}"""
    if not LIGHTHOUSE.exists():
        raise SystemExit("bench: Lighthouse is missing — run `cd tests/widget && npm ci` (make bench does)")
    results = {theme: {page: {"without": [], "with": []} for page in PAGES} for theme in themes}
    with stack("storefront") as s, tempfile.TemporaryDirectory() as scratch:
        s.install_shop(SHOP)
        backend = serve_wsgi(s.app)
        server, _front = serve_storefront(backend.url, SHOP, SECRET)
        try:
            for theme in themes:
                for page, variant in PAGES.items():
                    for n in range(runs):
                        order = [("without", "none"), ("with", "block")]
                        for label, install in order if n % 2 == 0 else reversed(order):
                            url = server.url + page_path(variant=variant, theme=theme, weight="real", install=install)
                            m = lighthouse(url, Path(scratch))
                            results[theme][page][label].append(m)
                            print(f"{theme} {page} {label:7}: score {m['score']:.0f} LCP {m['lcp']:.0f} ms TBT {m['tbt']:.0f} "
                                  f"CLS {m['cls']:.3f} app requests {m['app_requests']}", flush=True)
        finally:
            server.stop()
            backend.stop()
    return results


def median(cells: list[dict], key: str) -> float:
    return statistics.median(c[key] for c in cells)


def table(label: str, themes: dict) -> list[str]:
    """One table per label: a row per theme and page, and each theme's runs, date and machine."""
    lines = [f"**{label}** — {LABELS.get(label, '')}."]
    for theme, kept in themes.items():
        lines.append(f"{THEMES.get(theme, theme)}: {kept['runs']} runs per cell, {kept['date']}; {kept['machine']}.")
    lines += [
        "",
        "| theme | page | score without | score with | drop | LCP without ms | LCP with ms | LCP delta ms | TBT with ms | CLS with | app requests |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for theme, kept in themes.items():
        for page, cells in kept["results"].items():
            s0, s1 = median(cells["without"], "score"), median(cells["with"], "score")
            l0, l1 = median(cells["without"], "lcp"), median(cells["with"], "lcp")
            lines.append(f"| {THEMES.get(theme, theme)} | {page} | {s0:.0f} | {s1:.0f} | {s0 - s1:.0f} | {l0:.0f} | {l1:.0f} | "
                         f"{l1 - l0:+.0f} | {median(cells['with'], 'tbt'):.0f} | {median(cells['with'], 'cls'):.3f} | "
                         f"{median(cells['with'], 'app_requests'):.0f} |")
    lines += ["", "Every run's LCP (ms), in the order measured:", ""]
    for theme, kept in themes.items():
        for page, cells in kept["results"].items():
            runs = {label: ", ".join(f"{c['lcp']:.0f}" for c in cells[label]) for label in ("without", "with")}
            lines.append(f"- {THEMES.get(theme, theme)}, {page}: without {runs['without']}; with {runs['with']}")
    return lines + [""]


def report(entries: dict) -> str:
    lines = [
        "## 6. Storefront cost (`bench/storefront.py`)",
        "",
        "Lighthouse 12.8 (mobile emulation, simulated throttling, performance only), Debian chromium headless, on the "
        "fixture product pages with their theme's own weight (`?weight=real`, tests/widget/heavy_theme.py), served "
        "gzipped on loopback: Dawn 15.4.1's (render-blocking base.css + section stylesheets, 3 woff2 fonts with "
        "`font-display: swap`, a 96 KB product photo as the LCP element, 20 deferred theme scripts) and Horizon 4.1's "
        "(render-blocking base.css + the compiled `{% stylesheet %}` bundle, 4 font preloads at low priority with "
        "`font-display: swap`, the same photo as the LCP element with `fetchpriority=high`, an importmap, 9 "
        "modulepreloads and 30 `type=module` scripts at low priority, 2 classic async/defer scripts: 515 KB of CSS "
        "and JS before gzip); alternating without/with the block; medians. \"app requests\" counts the page's "
        "requests for the extension's files.",
        "",
    ]
    for label in ("before", "after"):
        if label in entries:
            lines += table(label, entries[label]["themes"])
    lines += [
        "Goal (issue #13): LCP +≤ 50 ms and a score drop of 0 on a page as heavy as a real theme's. Without the block "
        "the Dawn page measures about like issue #13's Dawn 15.4.1 page (score 95, LCP 2,566 ms there; 92–96 and "
        "2.6–3.0 s here); the Horizon page measures slower than issue #13's Horizon 4.1.3 page (LCP 1,257–1,447 ms "
        "there; 2.3–3.3 s and scores 92–98 here, with or without the block). Lighthouse "
        "simulates the throttled load from the trace of a real one, so a loaded machine moves which requests fall "
        "before the observed largest paint, and TBT: compare the columns of one table, and mind the load. On the "
        "Horizon page the simulated LCP of the very same page is bimodal — about 2.4–2.6 s or 3.0–3.3 s from run "
        "to run, with the block and without it (the lists under each table) — so a median of a few runs moves by "
        "~0.7 s with the count of slow runs and cannot resolve 50 ms there.",
        "",
        "What does not depend on the load (tests/widget/test_page_cost.py and the `lighthouse` test check it on every "
        "run): before, the block's stylesheet was render-blocking in the head (Lighthouse's render-blocking audit lists "
        "it) and its script was requested from the head with the theme's, on every load, widget shown or not; now the page has no `<link>` or `<script src>` of the "
        "extension at all — the button's styles and a 1.4 KB (gzipped) boot script are inline, backbell.js is fetched "
        "after `load` and the largest paint, backbell.css only when a widget is shown — so no file of the extension "
        "is in the simulated LCP's graph, and an in-stock page fetches one file, after load.",
    ]
    return "\n".join(lines)


def load_entries() -> dict:
    """{label: {"themes": {theme: {runs, date, machine, results}}}}; runs kept before there was a theme
    were Dawn's."""
    entries = json.loads(RUNS_FILE.read_text()) if RUNS_FILE.exists() else {}
    for label, entry in entries.items():
        if "themes" not in entry:
            entries[label] = {"themes": {"dawn": {k: entry[k] for k in ("runs", "date", "machine", "results")}}}
    return entries


def rewrite() -> None:
    """RESULTS.md section 6 from the kept runs, without measuring."""
    write_section("storefront", report(load_entries()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", default=",".join(THEMES),
                        help="comma-separated themes to measure (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", choices=sorted(LABELS), default="after")
    args = parser.parse_args()
    themes = [t for t in args.theme.split(",") if t]
    if not themes or set(themes) - set(THEMES):
        parser.error(f"--theme: one or more of {', '.join(THEMES)}")
    machine_now = machine()
    results = run(themes, args.runs)
    entries = load_entries()
    kept = entries.setdefault(args.label, {"themes": {}})["themes"]
    for theme in themes:
        kept[theme] = {"runs": args.runs, "date": date.today().isoformat(), "machine": machine_now,
                       "results": results[theme]}
    entries[args.label]["themes"] = {t: kept[t] for t in THEMES if t in kept}
    RUNS_FILE.write_text(json.dumps(entries, indent=1) + "\n")
    text = report(entries)
    print(text)
    write_section("storefront", text)


if __name__ == "__main__":
    main()
