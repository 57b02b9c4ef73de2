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
    WEBHOOK = "wh"


def new_id(prefix: IdPrefix) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
