"""Wire models (Pydantic v2), exactly as the Dex contract names them. Responses are mostly
rendered as JSON by Postgres; these models document and validate the shapes."""

from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.enums import FileStatus, JobOperationType, JobStatus, ProjectStatus
from core.params import ChunkingOptions, ParseParameters

MAX_BATCH_DOCUMENTS = 10_000
# Ids are plain strings in the contract; an unknown one is a 404, whatever its shape. The
# cap keeps lookups bounded: Docket's own ids have 37 characters at most, 256 leaves room
# for any foreign scheme.
MAX_ID_LENGTH = 256
SourceDocumentId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


def _storable(value: Any, where: str) -> None:
    """Postgres stores neither NUL characters nor lone surrogates (which JSON can smuggle
    in as escapes): reject them as bad input instead of failing at the database."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"{where} is not valid Unicode text") from err
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, where)
            _storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{where}[{index}]")


# Repeated ids named in a 422, at most this many (the rest are counted, not listed).
SHOWN_DUPLICATES = 10


def unique_ids(ids: list[str], field: str) -> list[str]:
    """`ids` unchanged, or a ValueError naming the repeated ones (a 422 on `field`)."""
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(f"duplicate {field}: {', '.join(repeated[:SHOWN_DUPLICATES])}")
    return ids


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are errors, text must be storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def storable_text(cls, data: Any) -> Any:
        _storable(data, "body")
        return data


class ErrorDetail(BaseModel):
    """Every error other than a validation error."""

    detail: str


class JobHistoryEvent(BaseModel):
    """A single event in the job execution timeline."""

    step: str = Field(description="Human-readable step name")
    timestamp: datetime = Field(description="When this event occurred")
    duration_ms: int | None = Field(default=None, description="Duration in milliseconds")
    status: str | None = Field(default=None, description="Event status (e.g., 'completed')")
    details: dict[str, Any] | None = Field(default=None, description="Additional event details")


class BatchChildJobInfo(BaseModel):
    """Status of a single child job within a batch."""

    source_document_id: str
    job_id: str
    status: JobStatus
    parse_result_id: str | None = None
    error: str | None = None


class BatchParseProgress(BaseModel):
    """Live progress tracking for a batch parse job."""

    total: int
    succeeded: int
    failed: int
    cancelled: int
    pending: int
    child_jobs: list[BatchChildJobInfo]


class JobEntity(BaseModel):
    """Job response model representing an asynchronous operation."""

    id: str = Field(description="ID of the entity")
    project_id: str = Field(description="ID of the project")
    object: Literal["job"] = "job"
    operation: JobOperationType = Field(description="Operation type (e.g., 'parse')")
    status: JobStatus = Field(description="Current job status")
    source_id: str | None = Field(default=None, description="Source document/file ID")
    correlation_id: str | None = Field(default=None, description="Request correlation ID")
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: dict[str, Any] | None = None
    progress: BatchParseProgress | None = None
    error: str | None = None
    history: list[JobHistoryEvent] | None = None


class CancelJobRequest(RequestModel):
    reason: str | None = Field(default=None, max_length=1000, description="Recorded in history")


class ProjectEntity(BaseModel):
    id: str
    name: str
    status: ProjectStatus
    created_at: datetime
    configuration: dict[str, Any] | None = None
    archived_at: datetime | None = None


class CreateProjectRequest(RequestModel):
    name: str = Field(min_length=1, max_length=255)
    configuration: dict[str, Any] | None = None


class UpdateProjectRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    configuration: dict[str, Any] | None = None
    status: ProjectStatus | None = None


class FileEntity(BaseModel):
    id: str
    project_id: str
    filename: str
    size_bytes: int
    mime_type: str
    status: FileStatus
    created_at: datetime
    storage_key: str
    object: Literal["file"] = "file"


class DownloadUrl(BaseModel):
    url: str
    expires_at: datetime


class ParseRequest(RequestModel):
    source_document_id: SourceDocumentId
    parameters: ParseParameters = Field(default_factory=ParseParameters)


class BatchParseRequest(RequestModel):
    source_document_ids: list[SourceDocumentId] = Field(
        min_length=1, max_length=MAX_BATCH_DOCUMENTS
    )
    parameters: ParseParameters = Field(default_factory=ParseParameters)
    # A vector store of the project: each document's parse result is indexed into it as its
    # parse succeeds (with `parameters.vector_store_metadata` on every chunk), in the batch.
    vector_store_id: SourceDocumentId | None = None

    @field_validator("source_document_ids")
    @classmethod
    def unique(cls, ids: list[str]) -> list[str]:
        return unique_ids(ids, "source_document_ids")


class RechunkRequest(RequestModel):
    """Re-chunk the stored pages of a parse result into a new parse result."""

    chunking_options: ChunkingOptions


class BBox(BaseModel):
    left: float
    top: float
    width: float
    height: float


class Block(BaseModel):
    type: str
    content: str
    bbox: BBox | None = None
    confidence: float | None = None
    page_number: int


class Chunk(BaseModel):
    content: str
    blocks: list[Block]


class _ParseResultFields(BaseModel):
    id: str
    object: Literal["parse_result"] = "parse_result"
    project_id: str
    source_document_id: str
    job_id: str
    engine: str
    created_at: datetime
    page_count: int


class ParseResult(_ParseResultFields):
    chunks: list[Chunk]


class ParseResultSummary(_ParseResultFields):
    """List items leave the chunks out; fetch one result for its content."""

    chunk_count: int


Item = TypeVar("Item", bound=BaseModel)


class ListResponse(BaseModel, Generic[Item]):
    items: list[Item]
    total_count: int
    next_token: str | None = None
    prev_token: str | None = None
