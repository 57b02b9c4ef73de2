"""Wire models of the vector-store endpoints (dex-api.md § Vector stores)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from api.schemas import MAX_ID_LENGTH, Block, RequestModel, unique_ids

# Vector stores (dex-api.md § Vector stores).
MAX_STORE_RESULTS = 10_000
MAX_TOP_K = 100
MAX_QUERY_LENGTH = 8192
MAX_NAME_LENGTH = 255
# An id in a body: a plain string, as path ids are (one that names nothing is a 404).
BodyId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class CreateVectorStoreRequest(RequestModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    engine: str | None = Field(default=None, description="Embedding engine (default: docket)")
    embedding_model: str | None = Field(
        default=None, description="Embedding model (default: the engine's first)"
    )


class FileCounts(BaseModel):
    total: int
    pending: int
    succeeded: int
    failed: int
    cancelled: int


class VectorStoreEntity(BaseModel):
    id: str
    object: Literal["vector_store"] = "vector_store"
    project_id: str
    name: str
    engine: str
    embedding_model: str
    dimensions: int
    created_at: datetime
    file_counts: FileCounts


class AddVectorStoreFilesRequest(RequestModel):
    parse_result_ids: list[BodyId] = Field(min_length=1, max_length=MAX_STORE_RESULTS)
    # Docket adds: stored with every chunk of these results, matched by search filters.
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parse_result_ids")
    @classmethod
    def unique(cls, ids: list[str]) -> list[str]:
        return unique_ids(ids, "parse_result_ids")


class SearchFilters(RequestModel):
    file_id: BodyId | None = None
    parse_result_id: BodyId | None = None
    metadata: dict[str, Any] | None = None


class SearchRequest(RequestModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH)
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    query_type: Literal["semantic", "lexical", "hybrid"] = "hybrid"
    filters: SearchFilters | None = None

    @field_validator("query")
    @classmethod
    def not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("query must contain some text")
        return query


class SearchChunk(BaseModel):
    content: str
    blocks: list[Block]
    score: float
    file_id: str
    parse_result_id: str
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    chunks: list[SearchChunk]


class DeletedMessage(BaseModel):
    message: str
