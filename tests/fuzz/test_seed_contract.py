"""Responses of the job endpoints validate against the authoritative seed OpenAPI
(`../shared/seed/cancel-job.md`): JobEntity, BatchParseProgress, JobHistoryEvent."""

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from tests.factories import insert_job
from tests.helpers import upload, wait_status

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "cancel-job.md"
ROOT_URI = "urn:dex-seed"


@pytest.fixture(scope="session")
def job_entity() -> jsonschema.protocols.Validator:
    assert SEED.exists(), f"the seed contract is missing: {SEED}"
    text = re.search(r"````yaml[^\n]*\n(.*?)````", SEED.read_text(), re.S)
    assert text is not None
    document = yaml.safe_load(text.group(1))
    registry = Registry().with_resource(ROOT_URI, Resource.opaque(document))
    schema = {"$ref": f"{ROOT_URI}#/components/schemas/JobEntity"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


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
