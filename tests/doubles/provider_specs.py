"""Provider-spec checks: the official files that exist only in ``../shared`` (not in the repository).

SendGrid's Mail Send OpenAPI spec, Twilio's API spec, Shopify's known-good signature vectors and
example payloads live in ``../shared`` (``BACKBELL_SHARED`` moves it); CI always has it, a clone
from GitHub does not. Tests reach those files only through this module:

- fixture ``shared_dir`` — for a test that is nothing but a check against an official file: it is
  skipped, with the reason, only when ``../shared`` is missing;
- ``provider_spec(request, "sendgrid/tsg_mail_v3.json")`` — for a double that validates against a
  spec when it is there and still serves its tests without it (returns ``None`` then).

Both record on the test's report whether the official file was used, and the run ends with one line
(``summary_line``) saying whether the provider-spec checks ran — ``scripts/test`` shows it in the
stage summary.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("BACKBELL_SHARED", ROOT.parent / "shared"))
PROPERTY = "provider_spec"
CHECKED, MISSING = "checked", "missing"

_tests: dict[str, tuple[str, str]] = {}  # nodeid -> (checked|missing, outcome); filled on the controller


def shared_present() -> bool:
    return SHARED.is_dir()


def _missing_reason() -> str:
    return f"provider-spec check: ../shared missing at {SHARED} (official specs stay out of the repository)"


def provider_spec(request: pytest.FixtureRequest, relative: str) -> Path | None:
    """The official file ``relative`` under ``../shared``, or ``None`` when ``../shared`` is missing."""
    path = SHARED / relative
    if not shared_present():
        request.node.user_properties.append((PROPERTY, MISSING))
        return None
    assert path.is_file(), f"{path} is missing from ../shared"
    request.node.user_properties.append((PROPERTY, CHECKED))
    return path


@pytest.fixture
def shared_dir(request) -> Path:
    if not shared_present():
        request.node.user_properties.append((PROPERTY, MISSING))
        pytest.skip(_missing_reason())
    request.node.user_properties.append((PROPERTY, CHECKED))
    return SHARED


def pytest_runtest_logreport(report):
    kinds = {value for name, value in report.user_properties if name == PROPERTY}
    if not kinds:
        return
    kind = MISSING if MISSING in kinds else CHECKED
    previous = _tests.get(report.nodeid, (kind, "passed"))[1]
    if report.failed or previous == "failed":
        outcome = "failed"
    elif report.skipped or previous == "skipped":
        outcome = "skipped"
    else:
        outcome = "passed"
    _tests[report.nodeid] = (kind, outcome)


def summary_line() -> str | None:
    """One line for the run's summary; ``None`` when no selected test touched a provider spec."""
    if not _tests:
        return None
    counts = Counter(_tests.values())
    if shared_present():
        passed, failed = counts[(CHECKED, "passed")], counts[(CHECKED, "failed")]
        return f"provider-spec checks (../shared): ran — {passed} passed, {failed} failed"
    skipped = counts[(MISSING, "skipped")]
    unchecked = sum(n for (kind, outcome), n in counts.items() if kind == MISSING and outcome != "skipped")
    return (f"provider-spec checks (../shared): did not run — ../shared missing at {SHARED}; "
            f"{skipped} official-file tests skipped, {unchecked} tests ran with doubles that skip spec validation")
