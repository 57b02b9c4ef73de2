"""Ids: a type prefix and 32 lowercase hex characters (`proj_…`, `file_…`, `job_…`, `pres_…`)."""

import uuid
from enum import StrEnum


class IdPrefix(StrEnum):
    ACCOUNT = "acct"
    API_KEY = "key"
    PROJECT = "proj"
    FILE = "file"
    JOB = "job"
    PARSE_RESULT = "pres"
    VECTOR_STORE = "vs"


def new_id(prefix: IdPrefix) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def id_pattern(prefix: IdPrefix) -> str:
    """Regex for path validation: malformed ids are a 422, never a lookup."""
    return rf"^{prefix}_[0-9a-f]{{32}}$"
