"""Every GraphQL document the app sends, one ``<Operation>.graphql`` file per operation.

Fragments live in ``fragments/<Name>.graphql``. The customer sync's documents live in
``customers/`` and are named ``customers/<Name>`` (bulk operations and the one-line mutations they
run; the demo's stand-in does not play them, so they sit apart from its list), and the bulk query
documents in ``bulk/`` (``bulk/<Name>``: the mutation that starts a bulk query and the queries it
runs); ``load_document`` appends the ones an operation
spreads (recursively), so each file stays a valid, reviewable unit.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DOCUMENTS_DIR = Path(__file__).resolve().parent
FRAGMENTS_DIR = DOCUMENTS_DIR / "fragments"
_SPREAD = re.compile(r"\.\.\.\s*(?!on\b)([A-Za-z_]\w*)")


def document_names() -> list[str]:
    return sorted(p.stem for p in DOCUMENTS_DIR.glob("*.graphql"))


def customer_document_names() -> list[str]:
    return sorted(f"customers/{p.stem}" for p in (DOCUMENTS_DIR / "customers").glob("*.graphql"))


@cache
def load_document(name: str) -> str:
    """The full text of operation ``name`` with the fragments it uses."""
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not re.fullmatch(r"(?:customers/|bulk/)?[A-Za-z]\w*", name) or not path.is_file():
        raise KeyError(f"no GraphQL document named {name!r} in {DOCUMENTS_DIR}")
    text = path.read_text(encoding="utf-8")
    parts, seen = [text], set()
    pending = _SPREAD.findall(text)
    while pending:
        fragment = pending.pop()
        if fragment in seen:
            continue
        seen.add(fragment)
        fragment_text = (FRAGMENTS_DIR / f"{fragment}.graphql").read_text(encoding="utf-8")
        parts.append(fragment_text)
        pending.extend(_SPREAD.findall(fragment_text))
    return "\n".join(parts)
