"""List jobs in a project of 1,000,000 jobs: the first page and a page deep in the cursor
chain, with no filter and with a status, an operation and a created_at range filter.

The rows are bulk-loaded with one INSERT ... SELECT generate_series, then VACUUM ANALYZE
(the steady state of a table autovacuum keeps up with). Baseline: the same SQL (page query
and `total_count` query, through db/jobs.py list_page) run directly over one connection,
alternating with the HTTP calls. The details break the SQL down into the page query, a full
count(*) of the filter (what `total_count` cost before it was capped) and a count capped at
10,000 (LIMIT inside the count, what it costs now).
"""

import asyncio
import datetime
import functools
from dataclasses import dataclass

import asyncpg

from bench.client import TAG, api_client, interleave, sql, whole
from bench.lean_http import LeanHttp, lean_http
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from db import jobs
from db.pagination import Cursor, Direction, PageRequest, SortOrder, build_page_query
from docket.devstack import DevStack

NAME = "list_jobs"
BENCH = "list jobs"
TARGET_P50_MS = 10.0
TARGET_RATIO = 1.5
PAGE_SIZE = 50  # the API's default
COUNT_CAP = 10_000
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)

# Row g was created g seconds before NOW; 5% failed, 5% cancelled, 10% running, the rest
# succeeded (with a small result); one in seven is a batch. None is pending: the worker's
# reconciler would start a workflow for every stale pending job.
BULK_LOAD = f"""
INSERT {TAG} INTO jobs (id, project_id, operation, status, source_id, correlation_id,
                  created_at, started_at, completed_at, result, error)
SELECT 'job_' || md5('bench' || g), $1,
       CASE WHEN g % 7 = 0 THEN 'batch_parse' ELSE 'parse' END,
       s.status, 'file_' || md5(g::text), 'bench',
       $2::timestamptz - make_interval(secs => g),
       $2::timestamptz - make_interval(secs => g - 1),
       CASE WHEN s.status IN ('succeeded', 'failed', 'cancelled')
            THEN $2::timestamptz - make_interval(secs => g - 5) END,
       CASE WHEN s.status = 'succeeded'
            THEN jsonb_build_object('parse_result_id', 'pres_' || md5(g::text)) END,
       CASE WHEN s.status = 'failed' THEN 'cannot parse: no text' END
FROM generate_series(1, $3) AS g,
     LATERAL (SELECT CASE g % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled'
                     WHEN 2 THEN 'running' WHEN 3 THEN 'running' ELSE 'succeeded' END) AS s(status)
"""


@dataclass(frozen=True)
class Case:
    name: str
    query: dict[str, str]  # HTTP query parameters
    filters: jobs.JobFilters


def cases(rows: int) -> list[Case]:
    # A one-day window in the middle of the 11.6 days that 1M rows span (8.6% of them).
    window = datetime.timedelta(seconds=max(rows * 86_400 // 1_000_000, 10))
    start = NOW - datetime.timedelta(seconds=rows // 2) - window / 2
    end = start + window
    return [
        Case("none", {}, jobs.JobFilters()),
        Case("status=failed", {"status": "failed"}, jobs.JobFilters(statuses=["failed"])),
        Case(
            "operation=batch_parse",
            {"operation": "batch_parse"},
            jobs.JobFilters(operations=["batch_parse"]),
        ),
        Case(
            "created 1-day range",
            {"created_at_start": start.isoformat(), "created_at_end": end.isoformat()},
            jobs.JobFilters(created_at_start=start, created_at_end=end),
        ),
    ]


async def deep_cursor(conn: asyncpg.Connection, project: str, case: Case) -> Cursor:
    """The cursor a client holds after paging halfway through the filtered rows."""
    where = jobs._filters(project, case.filters)
    count = await conn.fetchval(f"SELECT count(*) FROM jobs j WHERE {where.where()}", *where.params)
    row = await conn.fetchrow(
        f"""SELECT {TAG} j.created_at, j.id FROM jobs j WHERE {where.where()}
        ORDER BY j.created_at DESC, j.id DESC OFFSET {count // 2} LIMIT 1""",
        *where.params,
    )
    assert row is not None
    key = row["created_at"].isoformat()
    return Cursor("created_at", SortOrder.DESC, Direction.NEXT, key, row["id"])


async def measure_case(
    http: LeanHttp,
    conn: asyncpg.Connection,
    project: str,
    case: Case,
    cursor: Cursor | None,
    sizes: Sizes,
) -> Row:
    page = PageRequest(PAGE_SIZE, "created_at", SortOrder.DESC, cursor)
    where = jobs._filters(project, case.filters)
    select = jobs.LISTING.select.format(sort="created_at")
    page_sql = build_page_query(select, where, page, "timestamptz", "j")
    count_sql = f"SELECT count(*) FROM jobs j WHERE {where.where()}"
    capped_sql = (
        f"SELECT count(*) FROM (SELECT FROM jobs j WHERE {where.where()} LIMIT {COUNT_CAP + 1}) c"
    )
    query = {**case.query, "page_size": str(PAGE_SIZE)}
    if cursor is not None:
        query["continuation_token"] = cursor.encode()
    url = f"/v1/projects/{project}/jobs"
    body = await http.json("GET", url, query)
    # The figure and its baseline alternate with each other only: the breakdown's full
    # count(*) reads a million rows, and whichever probe ran right after it would pay for
    # the caches it evicts.
    timings = await interleave(
        sizes.latency_runs,
        whole(functools.partial(http.ok, "GET", url, query)),
        whole(functools.partial(jobs.list_page, conn, project, case.filters, page)),
        warmup=sizes.warmup,
    )
    timings += await interleave(
        sizes.latency_runs,
        whole(functools.partial(conn.fetch, page_sql.sql, *page_sql.params)),
        whole(functools.partial(conn.fetchval, count_sql, *where.params)),
        whole(functools.partial(conn.fetchval, capped_sql, *where.params)),
        warmup=sizes.warmup,
    )
    http, raw, page_only, count_only, capped = (Summary.latency(t) for t in timings)
    position = "deep page" if cursor else "first page"
    row = Row(
        BENCH,
        f"filter {case.name}, {position}",
        http,
        raw,
        f"p50 ≤ {TARGET_P50_MS:.0f} ms; ≤ {TARGET_RATIO}x raw",
    )
    row.met = within(row, TARGET_P50_MS, TARGET_RATIO)
    row.extra = {
        "total_count": body["total_count"],
        "page_sql_p50_ms": round(page_only.p50, 2),
        "full_count_sql_p50_ms": round(count_only.p50, 2),
        f"count_capped_at_{COUNT_CAP}_p50_ms": round(capped.p50, 2),
    }
    return row


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("list-jobs")
        await conn.execute(BULK_LOAD, project, NOW, sizes.list_rows)
        await conn.execute(f"VACUUM {TAG} ANALYZE jobs")
        # Connected only now: the API server closes a keep-alive connection left idle for
        # seconds, as it would be during the load.
        async with lean_http(stack.api_url, stack.credentials) as http:
            rows = []
            for case in cases(sizes.list_rows):
                for cursor in (None, await deep_cursor(conn, project, case)):
                    rows.append(await measure_case(http, conn, project, case, cursor, sizes))
            return rows


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
