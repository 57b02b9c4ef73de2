"""How many SQL statements Docket ran between two snapshots, from pg_stat_statements (which
bench/stack.py preloads in its embedded Postgres). On a server without it, Postgres
transaction commits stand in (`pg_stat_database.xact_commit`), which the result says.

The bench's own statements carry bench.client.TAG and are left out. asyncpg's pool runs a
reset query (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) each time
a connection goes back to the pool; those are counted apart from Docket's own statements.
"""

from collections import Counter
from dataclasses import dataclass

import asyncpg

from bench.client import TAG

RESET_PARTS = ("CLOSE ALL", "UNLISTEN *", "RESET ALL", "SELECT pg_advisory_unlock_all()")
STATEMENTS = f"""
SELECT {TAG} query, calls FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%docket-bench%'"""
COMMITS = f"""
SELECT {TAG} xact_commit FROM pg_stat_database WHERE datname = current_database()"""


@dataclass(frozen=True)
class Snapshot:
    statements: Counter[str] | None  # calls per normalised query; None: no pg_stat_statements
    commits: int


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    commits: int = await conn.fetchval(COMMITS)
    try:
        await conn.execute(f"CREATE {TAG} EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = await conn.fetch(STATEMENTS)
    except asyncpg.PostgresError:  # not preloaded, or no right to create the extension
        return Snapshot(None, commits)
    counts: Counter[str] = Counter()
    for row in rows:
        counts[" ".join(row["query"].split())] += row["calls"]
    return Snapshot(counts, commits)


def per_unit(before: Snapshot, after: Snapshot, units: int) -> dict[str, object]:
    """Statements (and pool resets) per unit of work between the snapshots, with the most
    frequent statements, for the details of the results file."""
    result: dict[str, object] = {
        "transactions_per_unit": round((after.commits - before.commits) / units, 2)
    }
    if before.statements is None or after.statements is None:
        return result
    delta = after.statements - before.statements
    resets = sum(calls for query, calls in delta.items() if _is_reset(query))
    ours = {query: calls for query, calls in delta.items() if not _is_reset(query)}
    top = sorted(ours.items(), key=lambda item: -item[1])[:8]
    result.update(
        statements_per_unit=round(sum(ours.values()) / units, 2),
        # One reset runs several statements; counted once per reset (its first statement).
        pool_resets_per_unit=round(resets / len(RESET_PARTS) / units, 2),
        top_statements_per_unit={query[:90]: round(calls / units, 2) for query, calls in top},
    )
    return result


def _is_reset(query: str) -> bool:
    return any(query.startswith(part) for part in RESET_PARTS)
