"""Property-based fuzzing from the SEED contract (`../shared/seed/cancel-job.md`), as a
client generated from Dex's own document would call Docket: every answer is a status the
seed declares (or 401/403 when the generated credentials are not a real key), in the
declared shape, never a 5xx."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.fuzz.seed import declared_statuses, seed_document

# The seed has one operation: 100 examples per variant, about 300 requests (a few seconds).
EXAMPLES_PER_VARIANT = 100
# Not in the seed's responses, but what any API answers for credentials it does not know.
AUTH_ANSWERS = {401, 403}

schema = schemathesis.openapi.from_dict(seed_document())


def sent_header(response: Any, name: str) -> str | None:
    value: str | None = response.request.headers.get(name)
    return value


def declared_answer(
    case: schemathesis.Case, response: Any, credentials: dict[str, str] | None
) -> None:
    """`credentials`: the real ones the test passed, if any. Schemathesis also sends
    requests without them (missing or generated security headers): those may be 401/403."""
    methods = {method.upper() for method in seed_document()["paths"][case.path]}
    if case.method.upper() not in methods:
        # Schemathesis also tries the methods the path does not have: 405, naming them all.
        assert response.status_code == 405, (case.method, response.text[:300])
        assert set(response.headers["allow"][0].split(", ")) == methods
        return
    authenticated = credentials is not None and all(
        sent_header(response, name) == value for name, value in credentials.items()
    )
    case.validate_response(
        response, checks=[not_a_server_error, content_type_conformance, response_schema_conformance]
    )
    declared = declared_statuses(case.path, case.method)
    allowed = declared if authenticated else declared | AUTH_ANSWERS
    assert response.status_code in allowed, (
        f"{case.method} {case.formatted_path}: undeclared {response.status_code} "
        f"(declared: {sorted(declared)}): {response.text[:300]}"
    )


@dataclass(frozen=True)
class SeedProject:
    id: str
    jobs: list[str]


@pytest.fixture(scope="session")
def seed_project(api_process: str, fuzz_headers: dict[str, str]) -> SeedProject:
    """A project of its own (the Docket-spec fuzz may archive `fuzz_project`) with real
    parse jobs, so generated requests also reach the 200/202/400 answers."""
    created = httpx.post(f"{api_process}/v1/projects", json={"name": "seed"}, headers=fuzz_headers)
    created.raise_for_status()
    url = f"{api_process}/v1/projects/{created.json()['id']}"
    upload = httpx.post(
        f"{url}/files",
        files={"file": ("seed.md", b"# Seed\n", "text/markdown")},
        headers=fuzz_headers,
    )
    upload.raise_for_status()
    jobs = []
    for _ in range(2):
        job = httpx.post(
            f"{url}/parse", json={"source_document_id": upload.json()["id"]}, headers=fuzz_headers
        )
        job.raise_for_status()
        jobs.append(job.json()["id"])
    return SeedProject(created.json()["id"], jobs)


FUZZ = settings(
    max_examples=EXAMPLES_PER_VARIANT, deadline=None, suppress_health_check=list(HealthCheck)
)


@schema.parametrize()
@FUZZ
def test_seed_requests_with_generated_ids_get_declared_answers(
    case: schemathesis.Case, api_process: str, fuzz_headers: dict[str, str]
) -> None:
    """Generated project and job ids (any string the seed's `type: string` allows)."""
    response = case.call(base_url=api_process, headers=fuzz_headers)
    declared_answer(case, response, fuzz_headers)


@schema.parametrize()
@FUZZ
def test_seed_requests_in_a_real_project_get_declared_answers(
    case: schemathesis.Case,
    api_process: str,
    fuzz_headers: dict[str, str],
    seed_project: SeedProject,
) -> None:
    """A real project, with generated job ids or (one case in three) a real job."""
    assert case.path_parameters is not None
    case.path_parameters["project_id"] = seed_project.id
    job_id = str(case.path_parameters["job_id"])
    if len(job_id) % 3 == 0:
        case.path_parameters["job_id"] = seed_project.jobs[len(job_id) % len(seed_project.jobs)]
    response = case.call(base_url=api_process, headers=fuzz_headers)
    declared_answer(case, response, fuzz_headers)


@schema.parametrize()
@FUZZ
def test_seed_requests_with_generated_credentials_get_declared_or_auth_answers(
    case: schemathesis.Case, api_process: str, seed_project: SeedProject
) -> None:
    """The credentials schemathesis generates from the seed's security schemes."""
    assert case.path_parameters is not None
    case.path_parameters["project_id"] = seed_project.id
    response = case.call(base_url=api_process)
    declared_answer(case, response, None)
