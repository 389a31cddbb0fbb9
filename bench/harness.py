"""Shared pieces of the benchmarks: a scratch PostgreSQL database, the machine's description,
gunicorn processes, wrk runs with per-request signed bodies, and RESULTS.md sections.

Absolute numbers on a shared 2-core machine are noisy; every benchmark measures Backbell and its
baseline in the same run, alternating, and reports the ratio.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
BIN = Path(sys.executable).parent


def scratch_database(name: str) -> str:
    """A fresh database (dropped first); returns its SQLAlchemy URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def machine() -> str:
    cpu = "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = match.group(1).strip() if match else cpu
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, load {load:.1f} at start"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2, log: Path | None = None):
    """gunicorn serving ``app_spec`` on a free loopback port, every worker with the app loaded;
    yields the base URL."""
    import tempfile

    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-ready-"))
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--log-level", "warning", "--config", str(ROOT / "bench" / "gunicorn_ready.py"), app_spec]
    out = open(log or os.devnull, "wb")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "BENCH_READY_DIR": str(ready)},
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process)
        _wait_workers_ready(ready, workers, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        out.close()
        shutil.rmtree(ready, ignore_errors=True)


def _wait_workers_ready(ready: Path, workers: int, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until every worker has loaded the app (bench/gunicorn_ready.py notes it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        if len(list(ready.glob("ready-*"))) >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn workers did not load the app")


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start listening")


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors + non-2xx answers


WRK_SCRIPT = r"""
-- Each wrk thread sends its own slice of pre-signed requests (one line each: id, hmac, body).
local counter, threads = 1, {}
function setup(thread)
  thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread)
end
local requests, position = {}, 0
function init(args)
  local path, nthreads, delay_ms = args[1], tonumber(args[2]), tonumber(args[3])
  pace = delay_ms
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if n % nthreads == (tid - 1) then
      local id, signature, topic, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      table.insert(requests, wrk.format("POST", "/webhooks", {
        ["Content-Type"] = "application/json", ["X-Shopify-Hmac-Sha256"] = signature,
        ["X-Shopify-Topic"] = topic, ["X-Shopify-Shop-Domain"] = "bench-shop.myshopify.com",
        ["X-Shopify-Webhook-Id"] = id, ["X-Shopify-API-Version"] = "2026-10"}, body))
    end
  end
end
function request()
  position = position + 1
  if position > #requests then position = 1 end
  return requests[position]
end
function delay()
  return pace
end
"""


def wrk(url: str, requests_file: Path, seconds: int, connections: int, threads: int = 2,
        delay_ms: int = 0) -> WrkRun:
    script = requests_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
               "-s", str(script), url, "--", str(requests_file), str(threads), str(delay_ms)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> WrkRun:
    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return WrkRun(rps, latency("50"), latency("99"), total, errors)


def median(values) -> float:
    return statistics.median(values)


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) this benchmark's section of bench/RESULTS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n\n_Measured {date.today().isoformat()}._\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the scripts in bench/ (see bench/README.md).\n"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def profiled(url: str, output: Path) -> subprocess.Popen:
    """py-spy (200 Hz) recording every gunicorn process serving ``url`` (found by its --bind
    argument) into the flame graph ``output``; stop it with SIGINT and wait."""
    import psutil

    bind = url.removeprefix("http://")
    master = next(p for p in psutil.process_iter(["cmdline"]) if bind in " ".join(p.info["cmdline"] or [])
                  and "gunicorn" in " ".join(p.info["cmdline"] or []))
    return subprocess.Popen([str(BIN / "py-spy"), "record", "--subprocesses", "--pid",
                             str(master.pid), "--rate", "200", "--output", str(output), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def require(command: str) -> None:
    if shutil.which(command) is None:
        raise SystemExit(f"bench: '{command}' is not installed (make bench installs it: apt-get install {command})")


def save_results(name: str, results: dict) -> None:
    """Keep a run's raw results in ``BENCH_SCRATCH`` (if set), for ``--rerender``."""
    results.setdefault("machine", machine())  # the load while it ran, not when it is re-rendered
    keep = os.environ.get("BENCH_SCRATCH")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}-results.json").write_text(json.dumps(results, indent=1, default=str))


def load_results(path: str) -> dict:
    return json.loads(Path(path).read_text())


def earlier_section(path: str, name: str) -> tuple[str, list[list[str]]]:
    """From a RESULTS.md an earlier run of the same script wrote (e.g. in a worktree of the code
    before a change): its machine line and its first table's rows, as cells."""
    text = Path(path).read_text()
    match = re.search(re.escape(f"<!-- {name}:start -->") + r"(.*?)" + re.escape(f"<!-- {name}:end -->"), text, re.S)
    if not match:
        raise SystemExit(f"bench: no '{name}' section in {path}")
    body = match.group(1)
    machine_line = next((line for line in body.splitlines() if line.startswith("Machine:")), "")
    rows: list[list[str]] = []
    for line in body.splitlines():  # the first table only (a section may hold a before/after table too)
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not line.startswith("|--"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return machine_line.split(". ")[0], rows[1:]  # without the header row


def load_at(machine_line: str) -> str:
    found = re.search(r"load ([\d.]+)", machine_line)
    return found.group(1) if found else "?"
