"""PostgreSQL's own time per statement while a benchmark runs, from ``pg_stat_statements``.

Throughput on this 2-core machine moves by a fifth from run to run; the server's execution time
per statement moves far less, so it shows which statements a change made cheaper. Only where the
server loads the module (``shared_preload_libraries = 'pg_stat_statements'``, a server restart);
elsewhere ``Statements.start`` returns None and the benchmark reports without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    rows: int
    milliseconds: float
    wal_records: int


class Statements:
    """The statements run in one database between ``start`` and ``read``."""

    def __init__(self, url: str):
        self.url = url

    @classmethod
    def start(cls, url: str) -> "Statements | None":
        with psycopg.connect(url, autocommit=True) as conn:
            loaded = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
            if "pg_stat_statements" not in loaded:
                return None
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                         "WHERE datname = current_database()), 0)")
        return cls(url)

    def read(self) -> list[Statement]:
        """Slowest first (total execution time)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT query, sum(calls), sum(rows), sum(total_exec_time), sum(wal_records) FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "GROUP BY query ORDER BY 4 DESC").fetchall()
        return [Statement(" ".join(query.split()), int(calls), int(count), float(ms), int(wal))
                for query, calls, count, ms, wal in rows]


def table(statements: list[Statement], notices: int, top: int = 10) -> list[str]:
    """Markdown lines: the totals per notice, then the ``top`` slowest statements."""
    total = sum(s.milliseconds for s in statements)
    wal = sum(s.wal_records for s in statements)
    lines = [f"PostgreSQL's execution time over the run (`pg_stat_statements`): {total:,.0f} ms in "
             f"{sum(s.calls for s in statements):,} statements, {total * 1000 / notices:,.0f} µs and "
             f"{wal / notices:.0f} WAL records per notice. The slowest:", "",
             "| statement | calls | rows | ms | µs per row | share |", "|---|---:|---:|---:|---:|---:|"]
    for s in statements[:top]:
        per_row = f"{s.milliseconds * 1000 / s.rows:.1f}" if s.rows else "–"
        lines.append(f"| `{_short(s.query)}` | {s.calls:,} | {s.rows:,} | {s.milliseconds:,.0f} | {per_row} | "
                     f"{s.milliseconds / total:.0%} |")
    return lines


def _short(query: str, width: int = 90) -> str:
    query = re.sub(r"\$\d+(::\w+( WITH TIME ZONE)?)?", "?", query).replace("|", "\\|")
    return query if len(query) <= width else query[:width - 1] + "…"
