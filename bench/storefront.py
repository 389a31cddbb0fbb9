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
import statistics
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, machine, write_section  # noqa: E402
from bench.stack import SECRET, stack  # noqa: E402
from tests.doubles.server import serve_wsgi  # noqa: E402
from tests.widget.conftest import LIGHTHOUSE, run_lighthouse  # noqa: E402
from tests.widget.storefront_server import page_path, serve_storefront  # noqa: E402

SHOP = "wool-and-waves.myshopify.com"
STALL_MS = 500  # a first paint this long after `load` (main thread idle) is the withheld frame (LIGHTHOUSE_CHROME_FLAGS)
PAGES = {"sold out (widget shown)": 44100000000002, "in stock (widget hidden)": 44100000000001}
THEMES = {"dawn": "Dawn 15.4.1", "horizon": "Horizon 4.1"}
RUNS_FILE = ROOT / "bench" / "storefront-runs.json"
LABELS = {
    "before": "the block as it was: schema `stylesheet` (render-blocking in the head) and `javascript` (deferred)",
    "after": "the block now: no schema assets; button styles and a boot script inline, backbell.js after load, "
             "backbell.css only when the widget is shown",
}
TRANSPORT = "HTTP/2 over TLS, one connection (hypercorn), PaintHolding off"
OLD_TRANSPORT = "HTTP/1.1 with a new connection per request (werkzeug), PaintHolding on"
METRICS = ("score", "lcp", "fcp", "tbt", "cls", "app_requests")


def lighthouse(url: str, scratch: Path, spki: str) -> dict:
    data, trace = run_lighthouse(url, scratch, spki, save_trace=True)
    multiplier = data["configSettings"]["throttling"]["cpuSlowdownMultiplier"]
    return {**measures(data), **block_main_thread(trace, multiplier)}


def measures(data: dict) -> dict:
    """Score, LCP, FCP, TBT, CLS, the requests the page made for the extension's files (/assets/), the
    protocols it was served with, and the observed first paint and `load` of the trace Lighthouse
    simulated from — ``stalled`` when the first frame came ``STALL_MS`` or more after `load`."""
    audits = data["audits"]
    requests = audits["network-requests"]["details"]["items"]
    observed = audits["metrics"]["details"]["items"][0]
    return {
        "score": data["categories"]["performance"]["score"] * 100,
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "fcp": audits["first-contentful-paint"]["numericValue"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "app_requests": sum(1 for r in requests if "/assets/" in r["url"]),
        "protocols": sorted({r.get("protocol", "") for r in requests}),
        "observed_first_paint": observed["observedFirstPaint"],
        "observed_load": observed["observedLoad"],
        "stalled": observed["observedFirstPaint"] - observed["observedLoad"] >= STALL_MS,
    }


BOOT_SNIPPET = ROOT / "storefront_widget" / "snippets" / "backbell-boot.liquid"
TASKS = ("RunTask", "ThreadControllerImpl::RunTask")  # a top-level task of the renderer's main thread
LONG_TASK_MS = 50  # TBT counts what a task lasts beyond this, in the simulated (slowed) timeline


def block_main_thread(trace: dict | list, multiplier: float) -> dict:
    """The block's own work on the page's main thread, from the trace Lighthouse simulated from: the boot
    script's evaluation (inline, inside the theme's HTML parsing task), backbell.js's, and the parsing of
    backbell.css — observed ms (``block_ms``) and the most it can add to the simulated TBT
    (``block_tbt_bound``). Lantern slows each observed task by ``multiplier`` and TBT sums what each lasts
    beyond 50 ms, so work of b ms inside a task of t ms (both as simulated) adds at most min(b, t − 50) ms
    to it."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    boot = BOOT_SNIPPET.read_text().split("<script>{% raw %}", 1)[1].split("{% endraw %}", 1)[0]
    evaluations = Counter((e["pid"], e["tid"]) for e in events if e.get("name") == "EvaluateScript")
    main = evaluations.most_common(1)[0][0]  # the page's renderer main thread evaluates its scripts
    on_main = [e for e in events if (e["pid"], e["tid"]) == main and e.get("ph") == "X"]

    def enclosing(names: tuple[str, ...], at: float) -> list[dict]:
        return [e for e in on_main if e["name"] in names and e["ts"] <= at <= e["ts"] + e.get("dur", 0)]

    boot_marks = [e for e in events if (e["pid"], e["tid"]) == main and e.get("name") == "ScriptCatchup"
                  and e.get("args", {}).get("data", {}).get("sourceText", "").startswith(boot[:200])]
    boot_runs = [evaluation for mark in boot_marks  # the evaluation the boot script's source was seen in
                 if (evaluation := max(enclosing(("EvaluateScript",), mark["ts"]), key=lambda e: e["dur"], default=None))]
    files = {"EvaluateScript": ("url", "/assets/backbell.js"),  # event: (its field naming the file, our file)
             "ParseAuthorStyleSheet": ("styleSheetUrl", "/assets/backbell.css")}
    ours = boot_runs + [e for e in on_main if e["name"] in files
                        and e.get("args", {}).get("data", {}).get(files[e["name"]][0], "").endswith(files[e["name"]][1])]
    bound = 0.0
    for work in ours:
        task = max(enclosing(TASKS, work["ts"]), key=lambda e: e["dur"], default=work)
        bound += min(work["dur"] / 1000 * multiplier, max(0.0, task["dur"] / 1000 * multiplier - LONG_TASK_MS))
    return {"block_ms": sum(e["dur"] for e in ours) / 1000, "block_boot_found": bool(boot_runs),
            "block_tbt_bound": bound}


def run(themes: list[str], runs: int) -> dict:
    """{theme: {page: {"without": [measures…], "with": […]}}}"""
    if not LIGHTHOUSE.exists():
        raise SystemExit("bench: Lighthouse is missing — run `cd tests/widget && npm ci` (make bench does)")
    results = {theme: {page: {"without": [], "with": []} for page in PAGES} for theme in themes}
    with stack("storefront") as s, tempfile.TemporaryDirectory() as scratch:
        s.install_shop(SHOP)
        backend = serve_wsgi(s.app)
        server, _front = serve_storefront(backend.url, SHOP, SECRET, http2=True)
        try:
            for theme in themes:
                for page, variant in PAGES.items():
                    for n in range(runs):
                        order = [("without", "none"), ("with", "block")]
                        for label, install in order if n % 2 == 0 else reversed(order):
                            url = server.url + page_path(variant=variant, theme=theme, weight="real", install=install)
                            m = lighthouse(url, Path(scratch), server.spki)
                            results[theme][page][label].append(m)
                            print(f"{theme} {page} {label:7}: score {m['score']:.0f} LCP {m['lcp']:.0f} ms TBT {m['tbt']:.0f} "
                                  f"CLS {m['cls']:.3f} app requests {m['app_requests']} first paint "
                                  f"{m['observed_first_paint']} ms, load {m['observed_load']} ms"
                                  f"{' (stalled)' if m['stalled'] else ''} {'/'.join(m['protocols'])}", flush=True)
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
        lines.append(f"{THEMES.get(theme, theme)}: {kept['runs']} runs per cell, {kept['date']}; {kept['machine']}; "
                     f"{kept.get('transport', OLD_TRANSPORT)}.")
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
    lines += ["", "Every run's LCP (ms), in the order measured (`*`: the first frame stalled, see below; runs "
              "over HTTP/1.1 did not record it):", ""]
    for theme, kept in themes.items():
        for page, cells in kept["results"].items():
            runs = {label: ", ".join(f"{c['lcp']:.0f}{'*' if c.get('stalled') else ''}" for c in cells[label])
                    for label in ("without", "with")}
            lines.append(f"- {THEMES.get(theme, theme)}, {page}: without {runs['without']}; with {runs['with']}")
    return lines + [""]


def block_work(entries: dict) -> list[str]:
    """From the runs that kept it: the block's own main-thread work and the most it can add to TBT,
    beside how far the TBT medians with and without it lie apart."""
    rows = []
    for label, entry in entries.items():
        for theme, kept in entry.get("themes", {}).items():
            for page, cells in kept["results"].items():
                with_block = [c for c in cells["with"] if "block_ms" in c]
                if not with_block:
                    continue
                unfound = sum(not c["block_boot_found"] for c in with_block)
                rows.append(
                    f"| {label} | {THEMES.get(theme, theme)} | {page} | {len(with_block)} | "
                    f"{median(with_block, 'block_ms'):.1f} | {max(c['block_ms'] for c in with_block):.1f} | "
                    f"{max(c['block_tbt_bound'] for c in with_block):.1f} | "
                    f"{median(cells['with'], 'tbt') - median(cells['without'], 'tbt'):+.0f} | "
                    f"{min(c['tbt'] for side in cells.values() for c in side):.0f}–"
                    f"{max(c['tbt'] for side in cells.values() for c in side):.0f} |"
                    + (f" boot script not found in {unfound} |" if unfound else " |"))
    if not rows:
        return []
    return [
        "**The block's own main-thread work**, from the trace each run's Lighthouse report was simulated from "
        "(`block_main_thread`): the inline boot script's evaluation (it runs inside the theme's HTML parsing task), "
        "backbell.js's evaluation and the parsing of backbell.css, observed on this machine; Lantern slows each task "
        "4× and TBT sums what a task lasts beyond 50 ms, so work of b ms inside a task of t ms can add at most "
        "min(4b, 4t − 50) ms to TBT. Not counted: the widget's later callbacks (the sold-out page's status fetch "
        "and render) and style or layout work it causes. Beside it, how far the TBT medians with and without the "
        "block lie apart, and the range of TBT over the cell's runs.",
        "",
        "| runs of | theme | page | runs with | block ms median | block ms max | TBT it can add, max ms | "
        "TBT median with − without ms | TBT range ms | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]


def over_http2(entries: dict) -> str:
    """What the runs over HTTP/2 showed: how many first frames stalled, and each theme's LCP band."""
    loads, bands = [], []
    for entry in entries.values():
        for theme, kept in entry.get("themes", {}).items():
            cells = [c for page in kept["results"].values() for side in page.values() for c in side]
            if kept.get("transport") == TRANSPORT:
                loads += cells
                lcp = [c["lcp"] for c in cells]
                bands.append(f"{min(lcp) / 1000:.2f}–{max(lcp) / 1000:.2f} s on {THEMES.get(theme, theme)}")
    if not loads:
        return ""
    return (f"Over HTTP/2 with PaintHolding off, {sum(c['stalled'] for c in loads)} of {len(loads)} loads had a "
            f"stalled first frame, and the LCP of every load fell in one band ({', '.join(bands)}).")


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
        "requests for the extension's files. Each table's lines say how its pages were served: since 2026-12-04 "
        "over HTTPS and HTTP/2 on one connection, as Shopify serves a store, with Chromium's PaintHolding off "
        "(the notes after the tables); before, over HTTP/1.1 with a new connection for each of the page's ~50 "
        "requests.",
        "",
    ]
    for label in ("before", "after"):
        if label in entries:
            lines += table(label, entries[label]["themes"])
    lines += block_work(entries)
    lines += [
        "Goal (issue #13): LCP +≤ 50 ms and a score drop of 0 on a page as heavy as a real theme's. Lighthouse "
        "simulates the throttled load from the trace of a real one, so a loaded machine moves TBT and which "
        "requests fall before the observed largest paint: compare the columns of one table, and mind the load. "
        f"{over_http2(entries)} The earlier tables were measured "
        "over a connection per request with PaintHolding on: there the Horizon page's LCP fell in modes (about "
        "2.4–2.6 s or 3.0–3.3 s) that a median of seven could not resolve to 50 ms. Without the block the pages now "
        "measure faster than issue #13's Dawn 15.4.1 page (LCP 2,566 ms, score 95) and slower than its Horizon "
        "4.1.3 page (LCP 1,257–1,447 ms); the stand-ins carry the themes' own files, not Shopify's or other apps' "
        "scripts.",
        "",
        "What does not depend on the load (tests/widget/test_page_cost.py and the `lighthouse` test check it on every "
        "run): before, the block's stylesheet was render-blocking in the head (Lighthouse's render-blocking audit lists "
        "it) and its script was requested from the head with the theme's, on every load, widget shown or not; now the page has no `<link>` or `<script src>` of the "
        "extension at all — the button's styles and a 1.4 KB (gzipped) boot script are inline, backbell.js is fetched "
        "after `load`, once the largest paint has settled, backbell.css only when a widget is shown — so no file of the extension "
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
                       "transport": TRANSPORT, "results": results[theme]}
    entries[args.label]["themes"] = {t: kept[t] for t in THEMES if t in kept}
    RUNS_FILE.write_text(json.dumps(entries, indent=1) + "\n")
    text = report(entries)
    print(text)
    write_section("storefront", text)


if __name__ == "__main__":
    main()
