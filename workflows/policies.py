"""Timeouts and retry policies shared by Docket's workflows (pure values). Every retry is
bounded: a job whose work or status writes keep failing ends, and what its row still says
is settled by the convergence loop (docket/reconciler.py)."""

from datetime import timedelta

from temporalio.common import RetryPolicy

from core.contracts import PARSE_ERROR_TYPE

# Status writes are single statements: a minute covers a slow database. A Postgres outage is
# retried with backoff for about an hour (10 s apart once backed off), so jobs resume when
# it returns from any ordinary outage.
DB_ACTIVITY_TIMEOUT = timedelta(minutes=1)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=360,
)

# A long document may take a while; the heartbeat timeout, not this, detects a dead worker.
WORK_TIMEOUT = timedelta(hours=2)
# A transient failure (a worker crash, a storage hiccup) is retried a few times (waits of
# 1, 2 and 4 s), then the job fails with the last error; a document that cannot be parsed
# is not retried at all.
WORK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=4,
    non_retryable_error_types=[PARSE_ERROR_TYPE],
)
