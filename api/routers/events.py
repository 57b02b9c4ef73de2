"""GET /v1/projects/{pid}/jobs/{job_id}/events: a job's events as Server-Sent Events
(the wire contract: README "Events"). Replays what happened after `Last-Event-ID` (or
everything), sends the job's status, then pushes every change until a terminal status."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.sse import format_sse_event

from api.auth import CallerDep, admit
from api.deps import EventsDep, PoolDep, SettingsDep
from api.params import JobId, ProjectId
from api.responses import COMMON_ERRORS
from db import jobs
from db.events import EventHub, StreamsFull, job_messages

router = APIRouter(prefix="/v1/projects/{project_id}/jobs", tags=["Jobs"], responses=COMMON_ERRORS)

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE = format_sse_event(comment="keep-alive")
# Proxies (nginx) buffer a response unless told not to: an event must not wait in one.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def sse(
    pool: PoolDep, hub: EventHub, job_id: str, after: int | None, idle_seconds: float
) -> AsyncIterator[bytes]:
    try:
        async for messages in job_messages(pool, hub, job_id, after, idle_seconds):
            # What one read found goes out in one write (one segment, one wake-up of the
            # client), not one per message.
            yield (
                b"".join(
                    format_sse_event(
                        id=str(message.seq), event=message.kind, data_str=message.json()
                    )
                    for message in messages
                )
                or KEEP_ALIVE
            )
    finally:
        hub.release()


@router.get(
    "/{job_id}/events",
    summary="Stream Job Events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {EVENT_STREAM: {}}, "description": "The job's events (SSE)"},
        503: {"description": "This API process serves its maximum of event streams"},
    },
)
async def job_events(
    project_id: ProjectId,
    job_id: JobId,
    who: CallerDep,
    pool: PoolDep,
    hub: EventsDep,
    settings: SettingsDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> Response:
    """Server-Sent Events: `event: history|status|progress`, `id:` the job's sequence,
    `data:` JSON (a history entry, the JobEntity, its progress). Ends after the terminal
    status; resume with `Last-Event-ID`."""
    admit(await jobs.status_for(pool, who.key, job_id, project_id), "job", job_id, project_id)
    try:
        if hub is None:
            raise StreamsFull  # no listener runs in this process: no stream can be served
        hub.reserve()
    except StreamsFull:
        return JSONResponse(
            {"detail": "this server has too many open event streams; retry shortly"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(settings.event_stream_retry_after_seconds)},
        )
    stream = sse(pool, hub, job_id, last_event_id, settings.event_keepalive_seconds)
    return StreamingResponse(stream, media_type=EVENT_STREAM, headers=STREAM_HEADERS)
