"""Docket against the authoritative seed OpenAPI (`../shared/seed/cancel-job.md`): the job
endpoints' responses (JobEntity, BatchParseProgress, JobHistoryEvent), the security
declaration, ids as plain strings (404 when unknown) and undecodable bodies (422)."""

from datetime import datetime
from typing import Any

import asyncpg
import httpx
import jsonschema
import pytest

from api.app import create_app
from core.settings import Settings
from tests.factories import insert_job
from tests.fuzz.seed import CANCEL_PATH, declared_statuses, seed_document, validator
from tests.helpers import upload, wait_status


@pytest.fixture(scope="session")
def job_entity() -> jsonschema.protocols.Validator:
    return validator("JobEntity")


def timestamps(value: Any) -> None:
    """`format: date-time` is not asserted by jsonschema by default: ISO 8601 with zone."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_at") or key == "timestamp":
                if item is not None:
                    assert datetime.fromisoformat(item).tzinfo is not None, (key, item)
            else:
                timestamps(item)
    elif isinstance(value, list):
        for item in value:
            timestamps(item)


def conforms(validator: jsonschema.protocols.Validator, body: Any) -> None:
    validator.validate(body)
    timestamps(body)


async def test_job_endpoints_match_the_seed_schema(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    job_entity: jsonschema.protocols.Validator,
) -> None:
    file = await upload(api, headers, project, "a.md", b"# Seed\n\nContract", "text/markdown")
    created = await api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}, headers=headers
    )
    conforms(job_entity, created.json())
    done = await wait_status(api, headers, project, created.json()["id"], {"succeeded"})
    conforms(job_entity, done)

    batch = await api.post(
        f"/v1/projects/{project}/parse/batch",
        json={"source_document_ids": [file["id"]]},
        headers=headers,
    )
    conforms(job_entity, batch.json())
    assert batch.json()["progress"] is not None
    conforms(
        job_entity, await wait_status(api, headers, project, batch.json()["id"], {"succeeded"})
    )

    pending = await insert_job(pool, project, "pending")
    cancelled = await api.post(f"/v1/projects/{project}/jobs/{pending}/cancel", headers=headers)
    assert cancelled.status_code == 200
    conforms(job_entity, cancelled.json())

    listed = await api.get(f"/v1/projects/{project}/jobs", headers=headers)
    assert listed.json()["items"]
    for item in listed.json()["items"]:
        conforms(job_entity, item)


def test_security_is_declared_as_in_the_seed(settings: Settings) -> None:
    """One requirement object holding both schemes (both headers needed), not two
    alternatives; the schemes themselves as the seed defines them."""
    seed = seed_document()
    ours = create_app(settings).openapi()
    assert ours["security"] == seed["security"]
    assert ours["components"]["securitySchemes"] == seed["components"]["securitySchemes"]
    for path, operations in ours["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security") in (None, []), (method, path)
    cancel = ours["paths"][CANCEL_PATH]["post"]
    assert "security" not in cancel  # inherits the seed's requirement
    seed_cancel = seed["paths"][CANCEL_PATH]["post"]
    assert cancel["operationId"] == seed_cancel["operationId"]
    assert {int(code) for code in cancel["responses"]} >= declared_statuses(CANCEL_PATH, "post")
    for parameter in cancel["parameters"]:
        # Plain strings, as in the seed: no pattern that would turn an id into a 422.
        assert parameter["schema"]["type"] == "string" and "pattern" not in parameter["schema"]


# Dex's own example ids and other strings the seed's `type: string` allows.
ANY_STRINGS = ["job_123456789", "proj_123456789", "0", "with space", "ünïcødé", "%00", "x" * 256]


@pytest.mark.parametrize("some_id", ANY_STRINGS)
async def test_cancel_of_an_id_that_names_nothing_is_404_whatever_its_shape(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, some_id: str
) -> None:
    assert 404 in declared_statuses(CANCEL_PATH, "post")
    for project_id, job_id in [(some_id, "job_123456789"), (project, some_id)]:
        url = f"/v1/projects/{project_id}/jobs/{job_id}/cancel"
        response = await api.post(url, headers=headers)
        assert response.status_code == 404, (url, response.text)
        assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"reason": "caf\xe9"}', "application/json"),
        (b"\xff\xfe\x00\xd8", "application/json"),
        (b'{"reason": "\xe2\x82"}', None),  # no content type: read as JSON too
        (b"{not json", "application/json"),
    ],
)
async def test_an_undecodable_cancel_body_is_422_never_400(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    project: str,
    pool: asyncpg.Pool,
    content: bytes,
    content_type: str | None,
) -> None:
    """The seed reserves 400 for "terminal state": bad bytes are a 422 HTTPValidationError."""
    assert 422 in declared_statuses(CANCEL_PATH, "post")
    job_id = await insert_job(pool, project, "pending")
    sent = {**headers, **({"content-type": content_type} if content_type else {})}
    response = await api.post(
        f"/v1/projects/{project}/jobs/{job_id}/cancel", content=content, headers=sent
    )
    assert response.status_code == 422, response.text
    validator("HTTPValidationError").validate(response.json())
    assert response.json()["detail"], "an HTTPValidationError names what was wrong"
    assert await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "pending"
