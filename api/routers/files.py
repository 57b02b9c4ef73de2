"""Files: multipart upload into content-addressed storage, list, get, signed download, delete."""

import logging
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse, RedirectResponse

from api.auth import AccountDep, CallerDep, admit
from api.deps import PoolDep, SettingsDep, StorageDep
from api.guards import ActiveProjectDep, GateDep
from api.params import (
    CreatedEnd,
    CreatedStart,
    FileId,
    Ids,
    ProjectId,
    paging,
)
from api.responses import COMMON_ERRORS, errors, found, invalid, not_found, raw_json, raw_list
from api.schemas import DownloadUrl, FileEntity, ListResponse
from core import mime, signing
from core.ids import IdPrefix, new_id
from core.settings import Settings
from core.storage import FileStorage, StorageFull, StorageUnavailable, UploadTooLarge
from db import files
from db.pagination import PageRequest

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1/projects/{project_id}/files", tags=["Files"], responses=COMMON_ERRORS
)

MAX_FILENAME_LENGTH = 1024
MAX_URL_LIFETIME_SECONDS = 7 * 24 * 3600


def bad_request(message: str) -> Exception:
    return invalid(("body", "file"), message)


def clean_filename(raw: str | None) -> str:
    """A display name, kept with its folders (`finance/2016/report.pdf`) but with no `..`,
    no leading `/` and no control characters. It never becomes a storage path."""
    if not raw:
        raise bad_request("the upload has no filename")
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise bad_request("the filename contains control characters (e.g. NUL)")
    parts = [p.strip() for p in raw.replace("\\", "/").split("/")]
    kept = [p for p in parts if p not in ("", ".", "..")]
    if not kept:
        raise bad_request(f"the filename {raw!r} names no file")
    name = "/".join(kept)
    if len(name) > MAX_FILENAME_LENGTH:
        raise bad_request(f"the filename is longer than {MAX_FILENAME_LENGTH} characters")
    return name


def secret_of(settings: Settings) -> str:
    if settings.secret_key is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "download URLs are disabled: DOCKET_SECRET_KEY is not configured",
        )
    return settings.secret_key.get_secret_value()


def unavailable(file_id: str, err: StorageUnavailable) -> HTTPException:
    log.error("file %s: %s", file_id, err)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err))


@router.post(
    "", response_model=FileEntity, summary="Upload File", responses=errors(409, 413, 503, 507)
)
async def upload_file(
    project: ActiveProjectDep,
    file: UploadFile,
    pool: PoolDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    filename = clean_filename(file.filename)
    try:
        blob = await storage.store(file.file, settings.max_upload_bytes)
    except UploadTooLarge as err:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(err)) from err
    except StorageFull as err:
        log.error("upload to project %s refused: %s", project.id, err)
        raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE, str(err)) from err
    except StorageUnavailable as err:
        raise unavailable(f"upload to project {project.id}", err) from err
    if blob.size == 0:
        raise bad_request("the uploaded file is empty")
    mime_type = mime.detect_mime_type(filename, blob.head)
    body = await files.insert(
        pool, new_id(IdPrefix.FILE), project.id, filename, blob.size, mime_type, blob.key
    )
    return raw_json(body)


@router.get("", response_model=ListResponse[FileEntity], summary="List Files")
async def list_files(
    gate: GateDep,
    pool: PoolDep,
    page: Annotated[PageRequest, Depends(paging("created_at", "id", "filename"))],
    ids: Ids = None,
    created_at_start: CreatedStart = None,
    created_at_end: CreatedEnd = None,
) -> Response:
    filters = files.FileFilters(
        ids=ids, created_at_start=created_at_start, created_at_end=created_at_end
    )
    result, total = await files.list_page(pool, gate.project_id, filters, page, gate)
    return raw_list(result, total)


@router.get("/{file_id}", response_model=FileEntity, summary="Get File")
async def get_file(
    project_id: ProjectId, file_id: FileId, who: CallerDep, pool: PoolDep
) -> Response:
    verdict = await files.get_for(pool, who.key, file_id, project_id)
    return raw_json(admit(verdict, "file", file_id, project_id))


@router.delete("/{file_id}", response_model=FileEntity, summary="Delete File")
async def delete_file(
    project_id: ProjectId, file_id: FileId, account: AccountDep, pool: PoolDep
) -> Response:
    """Soft delete: the file's status becomes `deleted`; it can no longer be parsed."""
    return found(await files.soft_delete(pool, file_id, project_id, account), "file", file_id)


@router.get("/{file_id}/download-url", response_model=DownloadUrl, summary="Get Download Url")
async def download_url(
    request: Request,
    project_id: ProjectId,
    file_id: FileId,
    account: AccountDep,
    pool: PoolDep,
    storage: StorageDep,
    settings: SettingsDep,
    expires_in_seconds: Annotated[int, Query(ge=1, le=MAX_URL_LIFETIME_SECONDS)] = 3600,
) -> DownloadUrl:
    """With object storage, the store's own pre-signed URL; otherwise a signed Docket URL
    (served by `/content`)."""
    row = await files.get_row(pool, file_id, project_id, account)
    if row is None or row.status == "deleted":
        raise not_found("file", file_id)
    expires = int(time.time()) + expires_in_seconds
    try:
        presigned = await storage.presign(row.storage_key, expires_in_seconds)
    except StorageUnavailable as err:
        raise unavailable(file_id, err) from err
    if presigned is not None:
        return DownloadUrl(url=presigned, expires_at=datetime.fromtimestamp(expires, UTC))
    sig = signing.signature(secret_of(settings), project_id, file_id, expires)
    url = request.url_for("download_file", project_id=project_id, file_id=file_id)
    return DownloadUrl(
        url=str(url.include_query_params(expires=expires, signature=sig)),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@router.get(
    "/{file_id}/content",
    summary="Download File (signed URL)",
    response_class=FileResponse,
    openapi_extra={"security": []},
    responses={
        307: {"description": "With object storage: on to the store's pre-signed URL"},
        403: {"description": "Signature invalid or expired"},
    },
)
async def download_file(
    project_id: ProjectId,
    file_id: FileId,
    pool: PoolDep,
    storage: StorageDep,
    settings: SettingsDep,
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> Response:
    """Served to whoever holds the signed URL from `download-url`: no API key needed."""
    if expires < time.time() or not signing.verify(
        secret_of(settings), project_id, file_id, expires, signature
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the download URL is invalid or expired")
    row = await files.get_row_unscoped(pool, file_id, project_id)
    if row is None or row.status == "deleted":
        raise not_found("file", file_id)
    try:
        present = await storage.exists(row.storage_key)
        presigned = await storage.presign(row.storage_key, max(1, expires - int(time.time())))
    except StorageUnavailable as err:
        raise unavailable(file_id, err) from err
    if not present:
        log.error("file %s: blob %s is missing from storage", file_id, row.storage_key)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"the content of file {file_id} is missing from storage"
        )
    if presigned is not None:
        # A Docket URL handed out before a move to object storage: on to the store's own.
        return RedirectResponse(presigned, status.HTTP_307_TEMPORARY_REDIRECT)
    assert isinstance(storage, FileStorage)  # the one backend whose bytes the API serves
    return FileResponse(
        storage.path_of(row.storage_key),
        media_type=row.mime_type,
        filename=Path(row.filename).name,
    )
