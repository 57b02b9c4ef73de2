"""The SDK's resources, written once for Docket and AsyncDocket (binding.py): each method
says which request it makes; the typed answers are the wire models of api/schemas.py and
api/vector_schemas.py."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.schemas import (
    FileEntity,
    JobEntity,
    ListResponse,
    ParseResult,
    ParseResultSummary,
    ProjectEntity,
)
from api.vector_schemas import DeletedMessage, SearchResponse, VectorStoreEntity
from core.enums import JobOperationType, JobStatus, ProjectStatus
from docket.client import waiting
from docket.client.binding import Mode, Resource, endpoint, listing
from docket.client.calls import Call, Paged, Plan, job_creation, model
from docket.client.waiting import OnEvent

Params = dict[str, Any]
DEFAULT_PAGE_SIZE = 100  # the server's maximum: fewest round trips when iterating


def query(**values: Any) -> Params:
    """Query parameters, leaving out the ones not given."""
    return {key: value for key, value in values.items() if value is not None}


def paged(path: str, item: type[Any], params: Params, page_size: int) -> Paged[Any]:
    params = {"page_size": page_size, **params}
    return Paged(Call("GET", path, model(ListResponse[item]), params=params))  # type: ignore[valid-type]


def scoped(project_id: str, rest: str = "") -> str:
    return f"/v1/projects/{project_id}{rest}"


class Projects(Resource[Mode]):
    @endpoint
    def create(
        self, name: str, configuration: Mapping[str, Any] | None = None
    ) -> Call[ProjectEntity]:
        body = query(name=name, configuration=configuration)
        return Call("POST", "/v1/projects", model(ProjectEntity), json=body, idempotent=False)

    @endpoint
    def get(self, project_id: str) -> Call[ProjectEntity]:
        return Call("GET", scoped(project_id), model(ProjectEntity), idempotent=True)

    @endpoint
    def update(
        self,
        project_id: str,
        name: str | None = None,
        configuration: Mapping[str, Any] | None = None,
        status: ProjectStatus | str | None = None,
    ) -> Call[ProjectEntity]:
        """Change what is given; `status="archived"` archives the project."""
        body = query(name=name, configuration=configuration, status=status)
        return Call("PUT", scoped(project_id), model(ProjectEntity), json=body)

    @listing
    def list(
        self,
        name: str | None = None,
        include_archived: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Paged[ProjectEntity]:
        params = query(name=name, include_archived=include_archived or None)
        return paged("/v1/projects", ProjectEntity, params, page_size)


class Files(Resource[Mode]):
    @endpoint
    def upload(
        self, project_id: str, file: str | Path | bytes, filename: str | None = None
    ) -> Call[FileEntity]:
        """Upload a path, or bytes (then `filename` names them)."""
        if isinstance(file, bytes):
            if filename is None:
                raise ValueError("uploading bytes needs a filename")
            content = file
        else:
            content, filename = Path(file).read_bytes(), filename or Path(file).name
        files = {"file": (filename, content)}
        path = scoped(project_id, "/files")
        return Call("POST", path, model(FileEntity), files=files, idempotent=False)

    @endpoint
    def get(self, project_id: str, file_id: str) -> Call[FileEntity]:
        return Call("GET", scoped(project_id, f"/files/{file_id}"), model(FileEntity))

    @endpoint
    def delete(self, project_id: str, file_id: str) -> Call[FileEntity]:
        return Call("DELETE", scoped(project_id, f"/files/{file_id}"), model(FileEntity))

    @listing
    def list(self, project_id: str, page_size: int = DEFAULT_PAGE_SIZE) -> Paged[FileEntity]:
        return paged(scoped(project_id, "/files"), FileEntity, {}, page_size)


class Parse(Resource[Mode]):
    @endpoint
    def create(
        self, project_id: str, file_id: str, parameters: Mapping[str, Any] | None = None
    ) -> Call[JobEntity]:
        """A `parse` job for one uploaded file (`parameters`: Dex's parse parameters)."""
        body = query(source_document_id=file_id, parameters=parameters)
        return job_creation("POST", scoped(project_id, "/parse"), model(JobEntity), body)

    @endpoint
    def batch(
        self, project_id: str, file_ids: list[str], parameters: Mapping[str, Any] | None = None
    ) -> Call[JobEntity]:
        body = query(source_document_ids=file_ids, parameters=parameters)
        return job_creation("POST", scoped(project_id, "/parse/batch"), model(JobEntity), body)

    @endpoint
    def rechunk(
        self, project_id: str, result_id: str, chunking_options: Mapping[str, Any]
    ) -> Call[JobEntity]:
        path = scoped(project_id, f"/parse/{result_id}/rechunk")
        body = {"chunking_options": chunking_options}
        return job_creation("POST", path, model(JobEntity), body)


class Results(Resource[Mode]):
    @endpoint
    def get(self, project_id: str, result_id: str) -> Call[ParseResult]:
        return Call("GET", scoped(project_id, f"/parse/{result_id}/result"), model(ParseResult))

    @listing
    def list(
        self, project_id: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Paged[ParseResultSummary]:
        path = scoped(project_id, "/parse/results")
        return paged(path, ParseResultSummary, {}, page_size)


class Jobs(Resource[Mode]):
    @endpoint
    def get(self, project_id: str, job_id: str) -> Call[JobEntity]:
        return waiting.get_job(project_id, job_id)

    @endpoint
    def cancel(self, project_id: str, job_id: str, reason: str | None = None) -> Call[JobEntity]:
        """200 cancelled (or already), 202 cancellation requested: the answer's
        `status` says which (cancelled, or still running); a finished job is BadRequest."""
        body = query(reason=reason) or None
        path = f"{waiting.job_path(project_id, job_id)}/cancel"
        return Call("POST", path, model(JobEntity), json=body)

    @endpoint
    def wait(
        self,
        job: JobEntity,
        timeout: float | None = None,
        on_event: OnEvent | None = None,
        events: bool = True,
    ) -> Plan[JobEntity]:
        """The job once terminal, from its event stream (or by polling GET when the server
        has none); WaitTimeout after `timeout` seconds. `on_event` sees every event."""
        return waiting.wait(job, timeout, on_event, events)

    @listing
    def list(
        self,
        project_id: str,
        status: JobStatus | str | None = None,
        operation: JobOperationType | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Paged[JobEntity]:
        filters = query(status=status, operation=operation)
        return paged(scoped(project_id, "/jobs"), JobEntity, filters, page_size)


class VectorStores(Resource[Mode]):
    @endpoint
    def create(
        self,
        project_id: str,
        name: str,
        engine: str | None = None,
        embedding_model: str | None = None,
    ) -> Call[VectorStoreEntity]:
        body = query(name=name, engine=engine, embedding_model=embedding_model)
        path = scoped(project_id, "/vector-stores")
        return Call("POST", path, model(VectorStoreEntity), json=body, idempotent=False)

    @endpoint
    def get(self, project_id: str, store_id: str) -> Call[VectorStoreEntity]:
        path = scoped(project_id, f"/vector-stores/{store_id}")
        return Call("GET", path, model(VectorStoreEntity))

    @endpoint
    def delete(self, project_id: str, store_id: str) -> Call[DeletedMessage]:
        path = scoped(project_id, f"/vector-stores/{store_id}")
        return Call("DELETE", path, model(DeletedMessage))

    @endpoint
    def add_files(
        self,
        project_id: str,
        store_id: str,
        result_ids: list[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> Call[JobEntity]:
        body = query(parse_result_ids=result_ids, metadata=metadata)
        path = scoped(project_id, f"/vector-stores/{store_id}/files")
        return job_creation("POST", path, model(JobEntity), body)

    @endpoint
    def search(
        self,
        project_id: str,
        store_id: str,
        text: str,
        top_k: int | None = None,
        query_type: str | None = None,
    ) -> Call[SearchResponse]:
        """Synchronous search (read-only: retried on 503 like a GET)."""
        body = query(query=text, top_k=top_k, query_type=query_type)
        path = scoped(project_id, f"/vector-stores/{store_id}/search")
        return Call("POST", path, model(SearchResponse), json=body)

    @listing
    def list(
        self, project_id: str, name: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Paged[VectorStoreEntity]:
        path = scoped(project_id, "/vector-stores")
        return paged(path, VectorStoreEntity, query(name=name), page_size)
