"""Where the time of a cancel goes, read from the workflow's event history (Temporal's
path) or from the job's history rows (Docket's path through Postgres).

The server stamps each event with its wall clock, on this same machine, so the client's own
wall-clock stamps (before the request, after seeing the outcome) line up with them:

    request sent ─▶ CANCEL_REQUESTED ─▶ ACTIVITY_TASK_CANCEL_REQUESTED ─▶ ACTIVITY_TASK_CANCELED
                 ─▶ WORKFLOW_EXECUTION_CANCELED ─▶ outcome seen by the client

Docket writes `cancelled` to Postgres (a local activity) before its workflow closes, so its
last phase is usually negative: the client saw the outcome before the close was recorded.
Docket's cancel of running work does not wait for Temporal at all (NOTIFY reaches the
worker), so its phases come from Postgres' own stamps (`clock_timestamp()`, same machine):

    request sent ─▶ `cancel_requested` row ─▶ `cancelled` row (work stopped) ─▶ seen by client
"""

import contextlib
import datetime
import itertools
import statistics
from collections.abc import Sequence

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle

from bench.client import TAG

MARKS = (
    "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
    "ACTIVITY_TASK_CANCEL_REQUESTED",
    "ACTIVITY_TASK_CANCELED",
    "WORKFLOW_EXECUTION_CANCELED",
)
LABELS = (
    "request → recorded",
    "→ activity cancel requested (workflow task)",
    "→ activity stopped (next heartbeat)",
    "→ workflow closed (cleanup)",
    "→ seen by client",
)


async def event_names(handle: WorkflowHandle) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    history = await handle.fetch_history()
    return [
        (
            EventType.Name(event.event_type).removeprefix("EVENT_TYPE_"),
            event.event_time.ToDatetime(tzinfo=datetime.UTC).timestamp(),
        )
        for event in history.events
    ]


async def phases(handle: WorkflowHandle, began: float, ended: float) -> dict[str, float]:  # type: ignore[type-arg]
    """Milliseconds spent in each phase of one cancel (`began`/`ended`: time.time())."""
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()  # Docket's client may see the outcome before the close
    first: dict[str, float] = {}
    for name, stamp in await event_names(handle):
        first.setdefault(name, stamp)
    return _spans(LABELS, [began, *(first.get(name, float("nan")) for name in MARKS), ended])


def _spans(labels: Sequence[str], marks: Sequence[float]) -> dict[str, float]:
    """Milliseconds between consecutive marks (time.time() seconds), one per label."""
    spans = itertools.pairwise(marks)
    return {label: (b - a) * 1000 for label, (a, b) in zip(labels, spans, strict=True)}


POSTGRES_LABELS = (
    "request → cancel recorded (Postgres)",
    "→ work stopped, `cancelled` written",
    "→ seen by client",
)
POSTGRES_MARKS = f"""
SELECT {TAG} extract(epoch FROM min(timestamp) FILTER (WHERE dedupe_key = 'cancel_requested')),
       extract(epoch FROM min(timestamp) FILTER (WHERE status = 'cancelled'))
FROM job_events WHERE job_id = $1
"""


async def postgres_phases(
    conn: asyncpg.Connection, job_id: str, began: float, ended: float
) -> dict[str, float]:
    """Milliseconds in each phase of one cancel through Postgres (`began`/`ended`: time.time())."""
    recorded, settled = await conn.fetchrow(POSTGRES_MARKS, job_id)
    stamps = (float("nan") if m is None else float(m) for m in (recorded, settled))
    return _spans(POSTGRES_LABELS, [began, *stamps, ended])


def medians(samples: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each phase's median over the samples (all of one kind: the same labels)."""
    return {
        label: round(statistics.median(sample[label] for sample in samples), 1)
        for label in (samples[0] if samples else ())
    }


async def anomaly(handle: WorkflowHandle, status: str) -> dict[str, object]:  # type: ignore[type-arg]
    """What the workflow of a job that did not honour its cancel did, event by event."""
    return {
        "job_id": handle.id,
        "status": status,
        "events": [name for name, _ in await event_names(handle)],
    }
