"""Shopify's official Admin GraphQL schema (2026-10), fetched once from the npm registry.

``@shopify/dev-mcp`` 1.16.0 (ISC) ships ``dist/data/admin_2026-10.json.gz``. We fetch only that
package's tarball (``npm pack``; installing it would pull Shopify CLI, Hydrogen and TypeScript),
extract the one file into ``.cache/shopify-schema/`` (git-ignored; ``BACKBELL_SCHEMA_CACHE`` moves
it) and check its sha256 on every load, so a clone needs nothing beside it.

Only when npm cannot fetch at all (no ``npm``, no registry) is ``../shared``'s copy used, and only
if it has the same hash. A file with another hash is never used: the error says what to do.

``scripts/test`` runs ``python -m tests.doubles.shopify_schema`` before the stages, so xdist
workers find the file in place; a lock makes a direct ``pytest`` run safe too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@shopify/dev-mcp@1.16.0"
MEMBER = "package/dist/data/admin_2026-10.json.gz"
SHA256 = "f3b522f264556925eada700e795e4a002a9cba83444ebcc6c0d724254a0c6593"
FILENAME = "admin_2026-10.json.gz"
NPM_TIMEOUT = 300


class SchemaUnavailable(RuntimeError):
    """The schema could not be fetched, or a file claiming to be it has the wrong hash."""


def cache_dir() -> Path:
    return Path(os.environ.get("BACKBELL_SCHEMA_CACHE", ROOT / ".cache" / "shopify-schema"))


def shared_copy() -> Path:
    shared = Path(os.environ.get("BACKBELL_SHARED", ROOT.parent / "shared"))
    return shared / "shopify" / FILENAME


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(path: Path, origin: str) -> Path:
    actual = sha256_of(path)
    if actual != SHA256:
        raise SchemaUnavailable(
            f"Shopify Admin schema at {path} (from {origin}) has sha256 {actual}, expected {SHA256} "
            f"({PACKAGE} {MEMBER.removeprefix('package/')}). Delete {path} and run the tests again; "
            f"if npm serves the same different file again, the published package changed — do not "
            f"use it until the pin in tests/doubles/shopify_schema.py is reviewed.")
    return path


def schema_path() -> Path:
    """The verified schema file: the npm cache, fetched now if missing; ``../shared`` as a last resort."""
    target = cache_dir() / FILENAME
    if target.is_file():
        return verify(target, "the npm cache")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be fetching right now
        if target.is_file():
            return verify(target, "the npm cache")
        try:
            _fetch_from_npm(target)
        except _NpmFailed as err:
            return _shared_fallback(err)
    return verify(target, f"npm pack {PACKAGE}")


class _NpmFailed(Exception):
    pass


def _fetch_from_npm(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise _NpmFailed("npm is not installed")
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        print(f"fetching {PACKAGE} with npm pack (once; cached in {target.parent})", file=sys.stderr)
        try:
            done = subprocess.run([npm, "pack", PACKAGE, "--pack-destination", work, "--silent"], cwd=work,
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise _NpmFailed(f"npm pack {PACKAGE} did not finish in {NPM_TIMEOUT} s") from None
        tarballs = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise _NpmFailed(f"npm pack {PACKAGE} failed: {(done.stderr or done.stdout).strip()[-500:]}")
        _extract_one(tarballs[0], target)


def _extract_one(tarball: Path, target: Path) -> None:
    """Copy the one member out of the tarball (no other file touches the disk), then rename into place."""
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            source = archive.extractfile(MEMBER)
        except KeyError:
            source = None
        if source is None:
            raise SchemaUnavailable(f"{tarball.name} from npm has no {MEMBER}: the pinned package is not what we expect")
        partial = target.with_suffix(".partial")
        with source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
    if sha256_of(partial) != SHA256:
        # Keep the bad file next to the cache for inspection, never under the name tests load.
        verify(partial, f"npm pack {PACKAGE}")
    partial.replace(target)


def _shared_fallback(err: _NpmFailed) -> Path:
    copy = shared_copy()
    if not copy.is_file():
        raise SchemaUnavailable(
            f"Shopify Admin schema unavailable: {err}. The tests fetch it once with `npm pack {PACKAGE}` "
            f"(Node.js/npm 18+ and the npm registry); no fallback copy at {copy} either.") from None
    print(f"warning: {err}; using {copy} (same sha256) instead of the npm package", file=sys.stderr)
    return verify(copy, "../shared (fallback)")


def main() -> int:
    try:
        path = schema_path()
    except SchemaUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Shopify Admin schema: {path} (sha256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
