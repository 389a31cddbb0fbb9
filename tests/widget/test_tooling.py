"""Shopify's own checks on the extension, run offline: Theme Check, and Lighthouse's performance
score and LCP of a product page as heavy as Dawn 15's real one, with and without the block (app review
rejects a score drop over 10; issue #13's goal: a drop of 0 and LCP +≤ 50 ms)."""

from __future__ import annotations

import json
import statistics

import pytest

from tests.widget.conftest import record_measurement, run_lighthouse, run_node
from tests.widget.liquid_theme import EXTENSION
from tests.widget.storefront_server import page_path

pytestmark = pytest.mark.browser

# Lighthouse's simulated score moves a few points run to run; five alternating runs per page keep one
# slow run from deciding. The page is served as Shopify serves a store — HTTPS and HTTP/2, one
# connection (``storefront_h2``) — and Chromium runs with PaintHolding off: over werkzeug's
# connection-per-request HTTP/1.1, with PaintHolding on, headless Chromium withheld the first frame
# until 1 or 2 s after `load` on this page (viz throttles BeginFrames to a renderer holding its first
# commit; conftest's LIGHTHOUSE_CHROME_FLAGS) and the simulated LCP fell in two modes (~2.45 s or
# ~2.72 s, CI once saw +101 ms between medians of five that way). The runs are still compared quantile
# by quantile — sorted, paired, the median of the differences (``typical_shift``): a block that slows
# most loads still moves it, one outlier does not. `scripts/test` runs this test alone, after the
# parallel suite, so the other xdist worker's load does not skew the trace. The block as it was (a
# render-blocking stylesheet and a head script) cost this page 4 points and +209 ms of LCP with the
# widget hidden (bench/RESULTS.md section 6): both limits, and the per-run checks, catch that. When
# the first five runs a side exceed a limit, five more a side are taken and all ten judge again,
# against the same limits.
LIGHTHOUSE_RUNS = 5
MAX_SCORE_DROP = 0
MAX_LCP_DELTA_MS = 50
SOLD_OUT, IN_STOCK = 44100000000002, 44100000000001


def test_theme_check_runs_clean_on_the_extension(browser_tools):
    # when Shopify's Theme Check (the same checks `shopify app deploy` runs) inspects the extension
    result = run_node("theme_check.mjs", str(EXTENSION))

    # then it reports no offense at all
    assert result.returncode == 0, result.stderr
    offenses = json.loads(result.stdout)
    record_measurement(f"Theme Check (@shopify/theme-check-node): {len(offenses)} offenses")
    assert offenses == []


def typical_shift(after: list[float], before: list[float]) -> float:
    """How much ``after`` sits above ``before``: the median of the differences of their sorted values
    (the i-th fastest run with, minus the i-th fastest without)."""
    return statistics.median(a - b for a, b in zip(sorted(after), sorted(before), strict=True))


def lighthouse(url: str, tmp_path, spki: str) -> dict:
    """One Lighthouse run (mobile, performance only): score, LCP, and what the page did with the
    extension's files (/assets/): which were render-blocking, which were requested before the page's
    largest paint (as observed in the trace Lighthouse simulates the throttled load from)."""
    data, _trace = run_lighthouse(url, tmp_path, spki)
    audits = data["audits"]
    observed_lcp = audits["metrics"]["details"]["items"][0]["observedLargestContentfulPaint"]
    app = [r for r in audits["network-requests"]["details"]["items"] if "/assets/" in r["url"]]
    blocking = audits["render-blocking-resources"].get("details", {}).get("items", [])
    return {
        "score": data["categories"]["performance"]["score"] * 100,
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "blocking_app": [r["url"] for r in blocking if "/assets/" in r["url"]],
        "app_before_lcp": [r["url"] for r in app if r["rendererStartTime"] < observed_lcp],
        "app_requests": len(app),
    }


@pytest.mark.lighthouse
@pytest.mark.parametrize("variant_id", [SOLD_OUT, IN_STOCK], ids=["widget-shown", "widget-hidden"])
def test_on_a_dawn_weight_page_the_block_costs_no_point_and_at_most_50_ms_of_lcp(browser_tools, storefront_h2, tmp_path,
                                                                                  variant_id):
    # given the product page with Dawn 15's real weight (fonts, stylesheets, scripts, product photo) with
    # and without the block, on a sold-out variant (the widget shows) or an in-stock one (it stays hidden)
    with_block = storefront_h2.url + page_path(theme="dawn", weight="real", variant=variant_id)
    without = storefront_h2.url + page_path(theme="dawn", weight="real", variant=variant_id, install="none")

    # when Lighthouse (mobile, performance only) measures each several times, alternating — twice as
    # many if the first runs exceed a limit
    runs, urls = {"with": [], "without": []}, {"with": with_block, "without": without}
    _measure(runs, urls, tmp_path, storefront_h2.spki)
    first_drop, first_cost = _block_costs(runs)
    if first_drop > MAX_SCORE_DROP or first_cost > MAX_LCP_DELTA_MS:
        _measure(runs, urls, tmp_path, storefront_h2.spki)
    count = len(runs["with"])

    # then in no run was a file of the extension render-blocking or requested before the largest paint
    assert [r["blocking_app"] for r in runs["with"]] == [[]] * count
    assert [r["app_before_lcp"] for r in runs["with"]] == [[]] * count
    # and an in-stock page never fetches the form's styles (the script only, after load)
    assert all(r["app_requests"] == (2 if variant_id == SOLD_OUT else 1) for r in runs["with"])
    # and, run for run in order of speed: no point lost, LCP within 50 ms (issue #13's goal)
    score = {k: statistics.median(r["score"] for r in v) for k, v in runs.items()}
    lcp = {k: statistics.median(r["lcp"] for r in v) for k, v in runs.items()}
    score_drop, lcp_cost = _block_costs(runs)
    record_measurement(
        f"Lighthouse mobile, Dawn-weight page, {'sold out' if variant_id == SOLD_OUT else 'in stock'}, {count} runs each: "
        f"score without {[r['score'] for r in runs['without']]} median {score['without']:.0f}, with {[r['score'] for r in runs['with']]} "
        f"median {score['with']:.0f}; LCP without {[round(r['lcp']) for r in runs['without']]} median {lcp['without']:.0f} ms, "
        f"with {[round(r['lcp']) for r in runs['with']]} median {lcp['with']:.0f} ms; "
        f"typical score drop {score_drop:.0f}, typical LCP cost {lcp_cost:.0f} ms")
    assert score_drop <= MAX_SCORE_DROP
    assert lcp_cost <= MAX_LCP_DELTA_MS


def _measure(runs: dict[str, list], urls: dict[str, str], tmp_path, spki: str) -> None:
    """``LIGHTHOUSE_RUNS`` more runs of each page, alternating which goes first."""
    for n in range(LIGHTHOUSE_RUNS):
        for label in ("without", "with")[:: 1 if n % 2 == 0 else -1]:
            runs[label].append(lighthouse(urls[label], tmp_path, spki))


def _block_costs(runs: dict[str, list]) -> tuple[float, float]:
    """The block's typical score drop and LCP cost over all the runs so far."""
    return (typical_shift([r["score"] for r in runs["without"]], [r["score"] for r in runs["with"]]),
            typical_shift([r["lcp"] for r in runs["with"]], [r["lcp"] for r in runs["without"]]))
