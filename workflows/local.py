"""Local activities for short Postgres statements (see workflows/job.py): no task-queue
round trip through the server."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.policies import DB_ACTIVITY_TIMEOUT, DB_RETRY

Arg = TypeVar("Arg")
Result = TypeVar("Result")


async def db(activity: Callable[[Any, Arg], Awaitable[Result]], arg: Arg) -> Result:
    return await workflow.execute_local_activity_method(
        activity, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
    )
