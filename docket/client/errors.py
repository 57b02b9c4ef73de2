"""One exception per HTTP class of answer, all under `DocketError`."""

from typing import Any

import httpx

from core.enums import JobStatus


class DocketError(Exception):
    """An answer Docket gave that is not a success (or no answer at all). A subclass
    names the HTTP status it stands for: `class NotFound(DocketError, status=404)`."""

    status_code: int | None = None

    def __init_subclass__(cls, status: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = response


class BadRequest(DocketError, status=400):
    """400: the resource's state forbids the operation (e.g. cancelling a finished job)."""


class Unauthorized(DocketError, status=401):
    """401: missing, unknown or revoked API key."""


class Forbidden(DocketError, status=403):
    """403: the key does not belong to the selected account."""


class NotFound(DocketError, status=404):
    """404: nothing of that id in the caller's account."""


class Conflict(DocketError, status=409):
    """409: conflicts with the resource's state or an earlier request (Idempotency-Key)."""


class PayloadTooLarge(DocketError, status=413):
    """413: an upload larger than the server's limit."""


class ValidationFailed(DocketError, status=422):
    """422: the request was refused; `errors` holds FastAPI's `detail` list
    (`[{"loc", "msg", "type", ...}]`)."""

    def __init__(
        self, message: str, errors: list[dict[str, Any]], response: httpx.Response | None = None
    ) -> None:
        super().__init__(message, response)
        self.errors = errors


class Unavailable(DocketError, status=503):
    """503 (after the retries of an idempotent call), or the server could not be reached."""

    def __init__(
        self, message: str, retry_after: float | None, response: httpx.Response | None = None
    ) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after


class InsufficientStorage(DocketError, status=507):
    """507: the server's file storage is full; nothing was stored."""


class ServerError(DocketError):
    """Any other status (a 5xx Docket does not document, or an unexpected code)."""


class WaitTimeout(DocketError, TimeoutError):
    """`wait()` gave up before the job ended; `job` is its last known state."""

    def __init__(self, message: str, job_id: str, status: JobStatus) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


BY_STATUS: dict[int, type[DocketError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        InsufficientStorage,
    )
    if cls.status_code is not None
}


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (Docket sends delta-seconds), if any."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_for(response: httpx.Response) -> DocketError:
    """The exception that stands for a non-success answer."""
    try:
        detail: Any = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    code = response.status_code
    if code == ValidationFailed.status_code and isinstance(detail, list):
        shown = "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in detail)
        return ValidationFailed(f"422 validation failed: {shown}", detail, response)
    message = f"{code} {detail if isinstance(detail, str) else response.reason_phrase}"
    if code == Unavailable.status_code:
        return Unavailable(message, retry_after(response), response)
    return BY_STATUS.get(code, ServerError)(message, response)


def raise_for(response: httpx.Response) -> None:
    if not response.is_success:
        raise error_for(response)
