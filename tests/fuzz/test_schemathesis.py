"""Property-based fuzzing of every endpoint from the project's own OpenAPI: no 5xx, no
undeclared status code, no response that violates the declared schema."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.settings import get_settings

# 24 operations x 45 examples: over 1,000 generated requests per run; raise it locally to
# fuzz harder.
EXAMPLES_PER_OPERATION = 45


# The document the API serves at /openapi.json, built without starting anything (it does
# not depend on settings), so the cases can be generated at collection time.
schema = schemathesis.openapi.from_dict(create_app(get_settings()).openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, api_process: str, fuzz_headers: dict[str, str], fuzz_project: str
) -> None:
    if case.path_parameters and "project_id" in case.path_parameters:
        case.path_parameters["project_id"] = fuzz_project
    case.call_and_validate(
        base_url=api_process,
        headers=fuzz_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
