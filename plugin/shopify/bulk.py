"""Bulk operations: mutations run once per line of a JSONL file, and queries whose result is a JSONL
file, both off the rate limit.

Each run is a handful of Admin API calls whatever the number of lines or objects. Mutations: one
``stagedUploadsCreate`` for all the files of a sync, one ``bulkOperationRunMutation`` per file (up
to five run at once per shop from API 2026-01). Queries: one ``bulkOperationRunQuery`` (one at a
time per app and shop — another one running is ``BulkBusy``). Both: one ``nodes`` query per poll
for all the operations (``finished``). The files go to the staged target and the results come back
as JSONL, both plain HTTP (not the Admin API); a query's result is streamed line by line
(``stream_lines``), so its size does not matter.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from plugin.shopify.documents import load_document
from plugin.shopify.errors import AdminApiError

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
MAX_CONCURRENT = 5
IN_PROGRESS = "OPERATION_IN_PROGRESS"
DOWNLOAD_CHUNK = 1 << 16


class BulkBusy(AdminApiError):
    """Another bulk query of this app is running on the shop (Shopify runs one at a time)."""

    def __init__(self, message: str):
        super().__init__(message, transient=True)


@dataclass(frozen=True)
class FinishedOperation:
    """A bulk operation's end as the poll saw it; ``result_url`` is the full or partial file (or None)."""

    operation_id: str
    status: str
    error_code: str | None
    object_count: int
    url: str | None
    partial_data_url: str | None

    @property
    def result_url(self) -> str | None:
        return self.url if self.status == "COMPLETED" else self.partial_data_url


@dataclass(frozen=True)
class StagedTarget:
    url: str
    parameters: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """What ``bulkOperationRunMutation`` calls the ``stagedUploadPath``: the ``key`` parameter."""
        return dict(self.parameters)["key"]


@dataclass(frozen=True)
class BulkResult:
    operation_id: str
    status: str
    error_code: str | None
    lines: list[dict]  # the result file, one object per input line (``__lineNumber`` from 0)


def stage_files(client, count: int) -> list[StagedTarget]:
    data = client.execute("customers/StagedUploadsCreate", {"input": [
        {"resource": "BULK_MUTATION_VARIABLES", "filename": f"backbell-{i}.jsonl", "mimeType": "text/jsonl",
         "httpMethod": "POST"} for i in range(count)]})["stagedUploadsCreate"]
    _raise_user_errors("stagedUploadsCreate", data)
    return [StagedTarget(t["url"], tuple((p["name"], p["value"]) for p in t["parameters"]))
            for t in data["stagedTargets"]]


def upload(http: httpx.Client, target: StagedTarget, lines: list[dict]) -> None:
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    response = http.post(target.url, data=dict(target.parameters), files={"file": ("bulk.jsonl", body, "text/jsonl")})
    if response.status_code >= 300:
        raise AdminApiError(f"staged upload refused (HTTP {response.status_code})", transient=response.status_code >= 500,
                            status=response.status_code)


def start(client, document: str, target: StagedTarget, label: str) -> str:
    """Start ``document`` over the uploaded file; returns the bulk operation's id."""
    data = client.execute("customers/BulkMutationRun", {
        "mutation": load_document(document), "stagedUploadPath": target.path,
        "clientIdentifier": label})["bulkOperationRunMutation"]
    _raise_user_errors("bulkOperationRunMutation", data)
    return data["bulkOperation"]["id"]


def wait(client, http: httpx.Client, ids: list[str], sleep: Callable[[float], None] = time.sleep,
         poll_seconds: float = 2.0, timeout_seconds: float = 600.0) -> dict[str, BulkResult]:
    """Poll until every operation has finished; their results (raises a transient error on timeout)."""
    done = finished(client, ids, sleep, poll_seconds, timeout_seconds)
    return {op.operation_id: BulkResult(op.operation_id, op.status, op.error_code,
                                        _lines(http, op.url or op.partial_data_url)) for op in done}


def finished(client, ids: list[str], sleep: Callable[[float], None] = time.sleep, poll_seconds: float = 2.0,
             timeout_seconds: float = 600.0) -> list[FinishedOperation]:
    """Poll (one ``nodes`` call for all) until every operation has finished (transient error on timeout)."""
    waited = 0.0
    while True:
        nodes = [n for n in client.execute("customers/BulkOperations", {"ids": ids})["nodes"] if n]
        if len(nodes) == len(ids) and all(n["status"] in FINISHED for n in nodes):
            return [FinishedOperation(n["id"], n["status"], n.get("errorCode"), int(n.get("objectCount") or 0),
                                      n.get("url"), n.get("partialDataUrl")) for n in nodes]
        if waited >= timeout_seconds:
            raise AdminApiError(f"bulk operations still running after {timeout_seconds:.0f} s", transient=True)
        sleep(poll_seconds)
        waited += poll_seconds


def start_query(client, query: str) -> str:
    """Start a bulk query (the text of a ``bulk/`` document); its operation id. ``BulkBusy`` when
    another bulk query of the app is running on the shop."""
    data = client.execute("bulk/BulkQueryRun", {"query": query})["bulkOperationRunQuery"]
    busy = [e for e in data.get("userErrors") or [] if e.get("code") == IN_PROGRESS]
    if busy:
        raise BulkBusy(f"bulkOperationRunQuery: {busy[0].get('message', 'another bulk query is running')}")
    _raise_user_errors("bulkOperationRunQuery", data)
    return data["bulkOperation"]["id"]


class ResultUnavailable(AdminApiError):
    """The result file could not be fetched (an expired signed URL answers 400/403)."""


def stream_lines(http: httpx.Client, url: str) -> Iterator[tuple[int, dict | None]]:
    """The result file's objects one by one: ``(line number from 0, object)``, the object None for a
    line that is not a JSON object. The file is first copied to a temporary file on disk (constant
    memory, and the connection is not held open while the caller works through the lines). Raises
    ``ResultUnavailable`` before the first line when the file cannot be had."""
    with tempfile.TemporaryFile() as spool:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise ResultUnavailable(f"bulk result file unavailable (HTTP {response.status_code})",
                                        transient=True, status=response.status_code)
            for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                spool.write(chunk)
        spool.seek(0)
        for number, line in enumerate(spool):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            yield number, value if isinstance(value, dict) else None


def _lines(http: httpx.Client, url: str | None) -> list[dict]:
    if not url:
        return []
    response = http.get(url)
    if response.status_code != 200:
        raise AdminApiError(f"bulk result file unavailable (HTTP {response.status_code})", transient=True,
                            status=response.status_code)
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _raise_user_errors(operation: str, payload: dict) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        raise AdminApiError(f"{operation}: {'; '.join(e.get('message', '') for e in errors[:3])}", transient=False)
