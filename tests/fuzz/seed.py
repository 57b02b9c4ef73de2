"""The authoritative seed contract (`../shared/seed/cancel-job.md`): its OpenAPI document,
and validators for the schemas it defines."""

import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "cancel-job.md"
ROOT_URI = "urn:dex-seed"
CANCEL_PATH = "/v1/projects/{project_id}/jobs/{job_id}/cancel"


@functools.cache
def seed_document() -> dict[str, Any]:
    assert SEED.exists(), f"the seed contract is missing: {SEED}"
    text = re.search(r"````yaml[^\n]*\n(.*?)````", SEED.read_text(), re.S)
    assert text is not None
    document: dict[str, Any] = yaml.safe_load(text.group(1))
    return document


def validator(schema_name: str) -> jsonschema.protocols.Validator:
    """A validator for `#/components/schemas/<schema_name>` of the seed."""
    registry = Registry().with_resource(ROOT_URI, Resource.opaque(seed_document()))
    schema = {"$ref": f"{ROOT_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def declared_statuses(path: str, method: str) -> set[int]:
    responses = seed_document()["paths"][path][method.lower()]["responses"]
    return {int(code) for code in responses}
