"""Timeouts and retry policies shared by Docket's workflows (pure values)."""

from datetime import timedelta

from temporalio.common import RetryPolicy

from core.contracts import PARSE_ERROR_TYPE

# Status writes are single statements: a minute covers a slow database; a DB outage is
# retried forever with backoff (the job resumes when Postgres returns).
DB_ACTIVITY_TIMEOUT = timedelta(minutes=1)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)

# A long document may take a while; the heartbeat timeout, not this, detects a dead worker.
PARSE_TIMEOUT = timedelta(hours=2)
PARSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[PARSE_ERROR_TYPE],
)
