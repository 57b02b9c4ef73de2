"""A scripted stand-in for the parts of the API the SDK's waiting and retrying depend on
but the live stack cannot produce on demand: the job event stream as
/work/notes/sse_contract.md fixes it (the real route lands with the `events` branch), a
stream that drops, a job that never ends, and 503s."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

PROJECT = "proj_fake"
JOB = "job_fake"


def job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": JOB,
        "project_id": PROJECT,
        "object": "job",
        "operation": "batch_parse",
        "status": status,
        "created_at": datetime.now(UTC).isoformat(),
        "history": [],
        **extra,
    }


def progress(succeeded: int, pending: int) -> dict[str, Any]:
    total = succeeded + pending
    return {
        "total": total,
        "succeeded": succeeded,
        "failed": 0,
        "cancelled": 0,
        "pending": pending,
        "child_jobs": [],
    }


@dataclass
class Script:
    """What the fake answers. `events`: (event, data) pairs sent in order, then the
    stream ends (without a terminal status: a dropped stream). `events_status`: answer
    the stream route with this code instead (404: an older server, 503: too many
    streams). `jobs`: the bodies GET job answers in turn (the last one repeats).
    `unavailable`: how many GETs of the project answer 503 before a 200."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events_status: int | None = None
    jobs: list[dict[str, Any]] = field(default_factory=lambda: [job("running")])
    unavailable: int = 0
    requests: list[str] = field(default_factory=list)
    seen_last_event_id: list[str | None] = field(default_factory=list)


def sse(sequence: int, event: str, data: dict[str, Any]) -> str:
    return f"id: {sequence}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


def fake_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        script.requests.append(f"{request.method} {request.url.path}")
        response: Response = await call_next(request)
        return response

    @app.get("/v1/projects/{project_id}/jobs/{job_id}")
    async def get_job(project_id: str, job_id: str) -> dict[str, Any]:
        return script.jobs.pop(0) if len(script.jobs) > 1 else script.jobs[0]

    @app.get("/v1/projects/{project_id}/jobs/{job_id}/events", response_model=None)
    async def events(request: Request, project_id: str, job_id: str) -> Response:
        script.seen_last_event_id.append(request.headers.get("last-event-id"))
        if script.events_status is not None:
            headers = {"Retry-After": "1"}
            body = {"detail": "no stream"}
            return JSONResponse(body, script.events_status, headers=headers)

        async def stream() -> AsyncIterator[str]:
            yield ": keep-alive\n\n"
            for sequence, (event, data) in enumerate(script.events, start=1):
                yield sse(sequence, event, data)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.get("/v1/projects/{project_id}")
    async def get_project(project_id: str) -> JSONResponse:
        if script.unavailable > 0:
            script.unavailable -= 1
            return JSONResponse({"detail": "restarting"}, 503, headers={"Retry-After": "0"})
        body = {
            "id": project_id,
            "name": "p",
            "status": "active",
            "created_at": job("x")["created_at"],
        }
        return JSONResponse(body)

    @app.post("/v1/projects")
    async def create_project() -> JSONResponse:
        return JSONResponse({"detail": "restarting"}, 503, headers={"Retry-After": "0"})

    return app
