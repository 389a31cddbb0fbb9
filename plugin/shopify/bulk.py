"""Bulk mutations: run one document once per line of a JSONL file, off the rate limit.

Each run is a handful of Admin API calls whatever the number of lines: one ``stagedUploadsCreate``
for all the files of a sync, one ``bulkOperationRunMutation`` per file (up to five run at once per
shop from API 2026-01), and one ``nodes`` query per poll for all of them. The files go to the
staged target and the results come back as JSONL, both plain HTTP (not the Admin API).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from plugin.shopify.documents import load_document
from plugin.shopify.errors import AdminApiError

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
MAX_CONCURRENT = 5


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
    waited = 0.0
    while True:
        nodes = [n for n in client.execute("customers/BulkOperations", {"ids": ids})["nodes"] if n]
        if len(nodes) == len(ids) and all(n["status"] in FINISHED for n in nodes):
            return {n["id"]: BulkResult(n["id"], n["status"], n.get("errorCode"),
                                        _lines(http, n.get("url") or n.get("partialDataUrl"))) for n in nodes}
        if waited >= timeout_seconds:
            raise AdminApiError(f"bulk operations still running after {timeout_seconds:.0f} s", transient=True)
        sleep(poll_seconds)
        waited += poll_seconds


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
