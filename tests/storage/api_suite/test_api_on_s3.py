"""The storage-touching part of the API suite, run once more on the S3 backend: the tests
of tests/api and tests/reliability that upload, parse through a worker, serve download
URLs or rely on what the store holds, and that say nothing about where the local backend
keeps its files. Each is the very function of its home module, collected again here, where
`api` is the S3-backed app (conftest.py).

Marked `s3` and `slow`: CI runs them in `make test-slow` (about a minute; `make test` keeps
its budget and runs tests/storage's own S3 tests); `pytest -m s3 tests/storage` runs every
S3 test at once.

Left out, with where their S3 counterparts live:
- local-only by design: a full disk (507) and other I/O errors of the staging file, blobs
  unlinked from the storage directory, staging leftovers and hostile names under the
  storage root (tests/api/test_storage_faults.py, tests/reliability/test_uploads.py). On
  S3: a store outage (503, then works), a store that stays down, an object deleted from
  the bucket (the job fails at once; the presigned URL gets the store's 404), interrupted
  and over-the-limit multipart uploads leaving no object or upload behind
  (tests/storage/test_s3_uploads.py, tests/storage/test_s3_jobs.py);
- Docket's own signed URLs (tampering, expiry): on S3 the URL is the store's presigned one
  (tests/storage/test_s3_jobs.py checks its expiry and that it serves the bytes);
- tests that build their own app or worker on the local store (`settings`, `tuned_api`).
"""

import pytest

from tests.api.test_bad_input import (
    test_corrupt_pdf_job_fails_cleanly,
    test_empty_upload_is_422,
    test_filenames_are_stored_safely,
    test_missing_file_part_is_422,
    test_parse_of_unknown_or_deleted_file_is_404,
    test_unparseable_file_type_is_422_at_creation,
)
from tests.api.test_batch import test_mixed_outcomes_end_partially_succeeded
from tests.api.test_cancel import (
    test_cancel_running_job_stops_the_parse,
    test_cancel_succeeded_parse_job_is_400,
)
from tests.api.test_contract import test_a_broken_multipart_upload_is_422
from tests.api.test_rechunk import test_rechunk_equals_parsing_with_the_same_options
from tests.reliability.test_tenancy import owned, test_every_endpoint_hides_other_accounts_resources
from tests.reliability.test_uploads import (
    test_control_characters_in_names_are_422,
    test_long_names_are_kept_up_to_the_limit,
)

pytestmark = [pytest.mark.s3, pytest.mark.slow]

__all__ = [
    "owned",
    "test_a_broken_multipart_upload_is_422",
    "test_cancel_running_job_stops_the_parse",
    "test_cancel_succeeded_parse_job_is_400",
    "test_control_characters_in_names_are_422",
    "test_corrupt_pdf_job_fails_cleanly",
    "test_empty_upload_is_422",
    "test_every_endpoint_hides_other_accounts_resources",
    "test_filenames_are_stored_safely",
    "test_long_names_are_kept_up_to_the_limit",
    "test_missing_file_part_is_422",
    "test_mixed_outcomes_end_partially_succeeded",
    "test_parse_of_unknown_or_deleted_file_is_404",
    "test_rechunk_equals_parsing_with_the_same_options",
    "test_unparseable_file_type_is_422_at_creation",
]
