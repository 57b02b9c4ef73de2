"""One typed model per operation's parameters: validated once at the API's edge, stored as
JSON on the job row, and re-validated with `model_validate` in the activity that uses them.

The engine (activities/parsing/) takes these same models, so what the API accepts is exactly
what the engine can run.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENGINES = ("docket",)
DEFAULT_ENGINE = "docket"

ChunkingStrategy = Literal["token_size", "recursive", "by_page", "by_section"]
# The tokenizers the engine ships (activities/parsing/tokens.py checks it agrees).
EncodingName = Literal["cl100k_base", "o200k_base", "voyage3_base"]
MIN_CHUNK_SIZE = 1
MAX_CHUNK_SIZE = 8192
# `advanced_options.ocr`: auto = OCR the PDF pages without a real text layer (README, "OCR"),
# force = every page, off = never. Images are always OCR'd.
OcrMode = Literal["auto", "force", "off"]
OCR_MODES: tuple[OcrMode, ...] = ("auto", "force", "off")
DEFAULT_OCR_MODE: OcrMode = "auto"


class Parameters(BaseModel):
    """Base of every parameters model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingOptions(Parameters):
    strategy: ChunkingStrategy = "token_size"
    chunk_size: int = Field(default=512, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)
    chunk_overlap: int = Field(default=50, ge=0)
    encoding_name: EncodingName = "cl100k_base"

    @model_validator(mode="after")
    def overlap_below_size(self) -> "ChunkingOptions":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class LegacyChunking(Parameters):
    chunk_mode: str | None = None
    chunk_size: int | None = Field(default=None, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)


class ParseOptions(Parameters):
    chunking: LegacyChunking | None = None


class ParseParameters(Parameters):
    """`parameters` of a parse or batch_parse job (Dex's shape)."""

    engine: str = Field(
        default=DEFAULT_ENGINE, description=f"Parse engine; available: {', '.join(ENGINES)}"
    )
    options: ParseOptions | None = None
    chunking_options: ChunkingOptions = Field(default_factory=ChunkingOptions)
    advanced_options: dict[str, Any] = Field(default_factory=dict)
    experimental_options: dict[str, Any] = Field(default_factory=dict)
    priority: bool = False
    # Dex's batch-parse field: stored with the job's parameters for the vector-store step.
    vector_store_metadata: dict[str, Any] | None = None

    @field_validator("engine")
    @classmethod
    def known_engine(cls, engine: str) -> str:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; available engines: {', '.join(ENGINES)}")
        return engine

    @field_validator("advanced_options")
    @classmethod
    def known_ocr_mode(cls, options: dict[str, Any]) -> dict[str, Any]:
        mode = options.get("ocr", DEFAULT_OCR_MODE)
        if mode not in OCR_MODES:
            raise ValueError(f"advanced_options.ocr must be one of {', '.join(OCR_MODES)}")
        return options

    @property
    def ocr_mode(self) -> OcrMode:
        mode: OcrMode = self.advanced_options.get("ocr", DEFAULT_OCR_MODE)
        return mode


class RechunkParameters(Parameters):
    """`parameters` of a chunk job: how to re-chunk the stored pages of a parse result."""

    chunking_options: ChunkingOptions


class VectorStoreParameters(Parameters):
    """`parameters` of a vector_store job: the store its children (one per parse result)
    index into, and the metadata stored with every chunk (matched by search filters)."""

    vector_store_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
