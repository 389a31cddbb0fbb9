"""The stage summary printed at the end of ``scripts/test``; exits 1 if any stage failed.

Reads what ``scripts/test`` left in its run folder (``tests/artifacts/stages/``): ``stages`` (key and
label per line, in order) and, per stage, ``status`` (pytest's exit code and seconds), ``junit.xml``
(counts), ``measurements.txt`` (numbers the tests recorded) and, for the full stage,
``coverage.json``. Standard library only.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

NO_TESTS = 5  # pytest's exit code when it collected nothing (a filter left the stage empty)
LEAST_COVERED = 5


@dataclass
class Stage:
    key: str
    label: str
    exit_code: int
    seconds: int
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code in (0, NO_TESTS) and self.failed == 0

    @property
    def result(self) -> str:
        if self.exit_code == NO_TESTS:
            return "passed (no tests)"
        if self.ok:
            return "passed"
        return "FAILED" if self.failed else f"FAILED (pytest exit {self.exit_code})"


def read_stage(run: Path, key: str, label: str) -> Stage:
    folder = run / key
    try:
        code, seconds = (int(x) for x in (folder / "status").read_text().split())
    except (OSError, ValueError):
        return Stage(key, label, exit_code=-1, seconds=0)
    stage = Stage(key, label, code, seconds)
    junit = folder / "junit.xml"
    if junit.is_file() and code != NO_TESTS:
        suites = ET.parse(junit).getroot()
        for suite in suites.iter("testsuite"):
            total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            stage.passed += total - failed - skipped
            stage.failed += failed
            stage.skipped += skipped
    return stage


def coverage_lines(path: Path) -> list[str]:
    if not path.is_file():
        return ["coverage: no report (the full stage did not finish)"]
    data = json.loads(path.read_text())
    totals = data["totals"]
    lines = [f"branch coverage (full stage, plugin/ + webhooks/): {totals['percent_covered']:.1f}% — "
             f"{totals['covered_lines']}/{totals['num_statements']} lines, "
             f"{totals['covered_branches']}/{totals['num_branches']} branches; "
             f"HTML in {path.parent / 'coverage-html'}/index.html"]
    files = sorted(data["files"].items(), key=lambda item: (item[1]["summary"]["percent_covered"], item[0]))
    lines.append(f"least covered ({LEAST_COVERED}):")
    for name, entry in files[:LEAST_COVERED]:
        s = entry["summary"]
        lines.append(f"  {s['percent_covered']:5.1f}%  {name}  ({s['missing_lines']} lines, "
                     f"{s['missing_branches']} branches not run)")
    return lines


def table(stages: list[Stage]) -> list[str]:
    header = ("stage", "result", "passed", "failed", "skipped", "seconds")
    rows = [(s.key, s.result, str(s.passed), str(s.failed), str(s.skipped), str(s.seconds)) for s in stages]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row):
        return "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    return [line(header), line(tuple("-" * w for w in widths)), *map(line, rows)]


def main(run: Path) -> int:
    order = [line.split("|", 1) for line in (run / "stages").read_text().splitlines() if line]
    stages = [read_stage(run, key, label) for key, label in order]
    out = ["", "=" * 30 + " stage summary " + "=" * 30, *table(stages), ""]
    out += [f"{s.key}: {s.label}" for s in stages]
    out.append("")
    if any(s.key == "full" for s in stages):
        out += coverage_lines(run / "full" / "coverage.json") + [""]
    for s in stages:
        measured = run / s.key / "measurements.txt"
        if measured.is_file() and measured.read_text().strip():
            out.append(f"measured in {s.key}:")
            out += [f"  {line}" for line in measured.read_text().splitlines() if line.strip()]
    failed = [s.key for s in stages if not s.ok]
    out.append("")
    out.append(f"failed stages: {', '.join(failed)} (logs in {run}/<stage>/output.log)" if failed
               else "all stages passed")
    # The last line is the whole run's count, in the plain form CI reads.
    out.append(f"total: {sum(s.passed for s in stages)} passed, {sum(s.failed for s in stages)} failed, "
               f"{sum(s.skipped for s in stages)} skipped")
    print("\n".join(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
