"""One `Settings` object, read from the environment (`DOCKET_*`, plus the standard
`DATABASE_URL` and `TEMPORAL_*` names used by production deployments)."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCKET_", populate_by_name=True, extra="ignore", frozen=True
    )

    # Where the embedded servers, uploaded files and credentials live.
    data_dir: Path = Path(".docket")

    # Unset = the embedded Postgres started by `docket dev`.
    database_url: str | None = Field(
        default=None, validation_alias=_env("DATABASE_URL", "DOCKET_DATABASE_URL")
    )
    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    # Bound every statement so an outage answers quickly instead of hanging a request.
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)

    # Unset = the embedded Temporal dev server started by `docket dev`.
    temporal_address: str | None = Field(
        default=None, validation_alias=_env("TEMPORAL_ADDRESS", "DOCKET_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=_env("TEMPORAL_NAMESPACE", "DOCKET_TEMPORAL_NAMESPACE")
    )
    # Temporal's own environment configuration names (temporalio.envconfig), so a profile
    # TOML file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) works as for any Temporal client;
    # these variables override what the profile says.
    temporal_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("TEMPORAL_API_KEY", "DOCKET_TEMPORAL_API_KEY")
    )
    temporal_tls: bool | None = Field(
        default=None, validation_alias=_env("TEMPORAL_TLS", "DOCKET_TEMPORAL_TLS")
    )
    temporal_tls_client_cert_path: Path | None = Field(
        default=None,
        validation_alias=_env(
            "TEMPORAL_TLS_CLIENT_CERT_PATH",
            "TEMPORAL_TLS_CERT",
            "DOCKET_TEMPORAL_TLS_CLIENT_CERT_PATH",
        ),
    )
    temporal_tls_client_key_path: Path | None = Field(
        default=None,
        validation_alias=_env(
            "TEMPORAL_TLS_CLIENT_KEY_PATH",
            "TEMPORAL_TLS_KEY",
            "DOCKET_TEMPORAL_TLS_CLIENT_KEY_PATH",
        ),
    )
    temporal_profile: str | None = Field(
        default=None, validation_alias=_env("TEMPORAL_PROFILE", "DOCKET_TEMPORAL_PROFILE")
    )
    temporal_config_file: Path | None = Field(
        default=None, validation_alias=_env("TEMPORAL_CONFIG_FILE", "DOCKET_TEMPORAL_CONFIG_FILE")
    )
    task_queue: str = "docket"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    temporal_port: int = Field(default=7233, ge=0, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=0, le=65535)
    postgres_port: int = Field(default=5432, ge=0, le=65535)

    max_upload_bytes: int = Field(default=100 * MIB, ge=1)
    # Signs download URLs. Unset: `docket dev` generates one and keeps it in the data dir;
    # production must set it (the same value on every API replica).
    secret_key: SecretStr | None = None

    # A cancel reaches running work through Postgres (NOTIFY, db/notify.py) in milliseconds,
    # so heartbeats are liveness signals again: Temporal's own cancel (delivered with a
    # heartbeat, at most one per throttle interval) is the fallback path. The timeout
    # decides when a silent (crashed) activity is retried elsewhere.
    heartbeat_timeout_seconds: float = Field(default=10.0, gt=0)
    heartbeat_throttle_ms: int = Field(default=1000, ge=10)
    worker_graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    max_concurrent_activities: int = Field(default=50, ge=1)

    # Batch fan-out: children in flight per batch, and children per workflow run before
    # continue-as-new (keeps each run's event history far below Temporal's limits).
    batch_max_concurrency: int = Field(default=100, ge=1, le=1000)
    batch_children_per_run: int = Field(default=500, ge=1, le=2000)

    # The convergence loop (in every worker) checks jobs still non-terminal this long after
    # creation against their workflows, and starts or settles them (docket/reconciler.py).
    reconcile_after_seconds: float = Field(default=30.0, gt=0)
    reconcile_every_seconds: float = Field(default=15.0, gt=0)
    # Non-terminal jobs checked against Temporal per round (least recently checked first).
    reconcile_batch: int = Field(default=500, ge=1, le=10_000)

    log_level: str = "INFO"
    # text: human-readable lines; json: one JSON object per line, with job/correlation ids.
    log_format: Literal["text", "json"] = "text"
    # Touched while the worker polls (docket/health.py). Must be private to one worker: a
    # file on a volume shared by all workers would be kept fresh by any one of them.
    worker_health_file: Path | None = None

    # Vector stores. The built-in engine (`docket`) embeds with a model shipped inside a
    # wheel; an OpenAI-compatible endpoint is the optional second engine (`openai`), offered
    # only once its base URL is set. Chunks are embedded and written in pages of this size,
    # with a heartbeat (and so a chance to stop) between pages.
    embeddings_base_url: str | None = None
    embeddings_api_key: SecretStr | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_timeout_seconds: float = Field(default=30.0, gt=0)
    vector_store_page_size: int = Field(default=256, ge=1, le=4096)
    # HNSW candidates per semantic query (pgvector's default, 40, measured recall@10 below
    # 0.95 against an exact scan; see docs in bench/vector_search.py).
    vector_search_ef_search: int = Field(default=100, ge=1, le=1000)

    # `docket dev` restarts an embedded server that dies (same port, same data), waiting
    # `dev_restart_backoff_seconds` before the first attempt and doubling up to
    # `dev_restart_backoff_max_seconds`; after `dev_restart_limit` failed attempts in a row
    # it stops the stack and exits non-zero. A server that has served for
    # `dev_restart_stable_seconds` since its restart has its count reset.
    dev_restart_limit: int = Field(default=5, ge=0)
    dev_restart_backoff_seconds: float = Field(default=1.0, gt=0)
    dev_restart_backoff_max_seconds: float = Field(default=15.0, gt=0)
    dev_restart_stable_seconds: float = Field(default=60.0, gt=0)

    # File storage (core/storage.py). Unset or `file://PATH`: a content-addressed directory
    # (unset = the data dir's files/); `s3://bucket/prefix`: any S3-compatible store, with
    # region and credentials from the standard AWS_* variables (AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, ...).
    storage_url: str | None = None
    # MinIO, Ceph RGW, R2, GCS's S3 interoperability, ...; unset = AWS (or AWS_ENDPOINT_URL).
    s3_endpoint_url: str | None = None
    # Multipart part size: S3 refuses parts under 5 MiB (but the last); an upload holds at
    # most s3_upload_concurrency parts in memory, never the whole file.
    s3_part_bytes: int = Field(default=8 * MIB, ge=5 * MIB)
    # A seekable upload up to this size is sent in ONE PUT, held in memory meanwhile (S3
    # stores one PUT in one round trip; a multipart upload costs a create, its parts and a
    # complete, and the store reassembles them: ~1.6x slower on moto for 32 MiB). Larger
    # uploads go in parts. Unset: s3_part_bytes x s3_upload_concurrency, what a multipart
    # upload holds in memory in flight anyway; 0: always in parts.
    s3_single_put_max_bytes: int | None = Field(default=None, ge=0, le=5 * 1024 * MIB)
    # Every request is signed (SigV4); with this false its body's SHA-256 is left out of
    # the signature (UNSIGNED-PAYLOAD, as boto3 and the AWS CLI send over HTTPS, where TLS
    # protects the body): one hashing pass less per upload. Set it for a plain-http
    # endpoint on a network you do not trust.
    s3_sign_payload: bool = False
    s3_upload_concurrency: int = Field(default=4, ge=1, le=64)
    # Each request to the store is retried this often, within this many seconds, before
    # the caller sees an outage (a parse job then retries under WORK_RETRY's bound).
    s3_max_retries: int = Field(default=3, ge=0, le=20)
    s3_retry_timeout_seconds: float = Field(default=30.0, gt=0)
    s3_request_timeout_seconds: float = Field(default=60.0, gt=0)

    # Observability (README, "Operating Docket"). Prometheus metrics: the API serves them
    # at /metrics on its own port, or on `metrics_port` (then not on the API port) bound to
    # `metrics_host`; no auth there, so keep that port private. The worker serves Docket's
    # metrics on `worker_metrics_port` and the Temporal SDK's on `worker_sdk_metrics_port`
    # (each off while unset). Tracing follows the standard OTEL_* variables (off unless
    # OTEL_TRACES_EXPORTER or an OTLP endpoint is set).
    metrics_enabled: bool = True
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    worker_sdk_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @property
    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.heartbeat_timeout_seconds)

    @property
    def heartbeat_throttle(self) -> timedelta:
        return timedelta(milliseconds=self.heartbeat_throttle_ms)

    @field_validator("log_format", mode="before")
    @classmethod
    def lower_case_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def worker_health_path(self) -> Path:
        return self.worker_health_file or self.data_dir / "worker.health"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files"

    # --- Parse isolation and document limits (docs/limits.md). A document over a limit
    # fails at once, non-retryable, with the setting named in its message.
    # Parse subprocesses at once per worker; each document parses in its own process.
    parse_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Address space of one parse process (RLIMIT_AS); above it the document fails.
    max_parse_memory_mb: int = Field(default=2048, ge=512)  # a parse process starts at ~260 MB
    # Wall time of one document's parse; then its process is killed and the document fails.
    max_parse_seconds: float = Field(default=600.0, gt=0)
    # After a cancel, how long a parse may take to stop by itself before it is killed: none
    # by default (the parse keeps nothing worth a clean stop; killing it idles its CPU now).
    parse_cancel_grace_ms: int = Field(default=0, ge=0)
    max_pages: int = Field(default=50_000, ge=1)
    max_paragraphs: int = Field(default=200_000, ge=1)
    max_text_chars: int = Field(default=50_000_000, ge=1)
    max_chunks: int = Field(default=100_000, ge=1)
    # The stored result (pages + chunks as JSON); the pages are one jsonb value, which
    # Postgres caps at 256 MB, so the default stays below it.
    max_result_mb: int = Field(default=200, ge=1)
    max_html_elements: int = Field(default=200_000, ge=1)
    max_xml_elements: int = Field(default=4_000_000, ge=1)
    max_depth: int = Field(default=256, ge=8, le=400)  # le: the HTML walk recurses per level
    max_docx_part_mb: int = Field(default=128, ge=1)
    max_compression_ratio: int = Field(default=500, ge=2)

    # --- OCR (README, "OCR"). Documents OCR'd at once per worker: each runs the model on one
    # core (its onnxruntime threads are pinned to 1), so cores keeps every core busy. Set it
    # below DOCKET_PARSE_SLOTS to keep slots free for text documents while scans queue.
    ocr_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Pixels of one page image (an uploaded frame, read from its header before decoding; a
    # PDF page is rendered smaller instead). 64 MP, about an A1 sheet at 300 dpi, decodes to
    # 192 MB of RGB: far under the parse memory limit; a 50,000 x 50,000 bomb is 7.5 GB.
    max_image_pixels: int = Field(default=64_000_000, ge=1_000_000)
    # Resolution PDF pages are rendered at for OCR: at 300 dpi 11 pt text reaches the
    # recogniser near its native 48 px line height (README, "OCR": CER by resolution).
    ocr_render_dpi: int = Field(default=300, ge=72, le=600)

    # --- Job events and webhooks (README, "Events" and "Webhooks").
    # Open event streams one API process serves; beyond them a new stream gets 503.
    max_event_streams: int = Field(default=2000, ge=1)
    event_stream_retry_after_seconds: int = Field(default=5, ge=1)  # the 503's Retry-After
    event_keepalive_seconds: float = Field(default=15.0, gt=0)  # an SSE comment this often
    # Private, loopback and link-local webhook targets are refused unless this is set
    # (tests and `docket dev` set it: their receivers run on this machine).
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)  # one attempt, then cut off
    # Retries on timeouts, 5xx and 429: exponential backoff from the first wait up to the
    # longest, for the window (24 h); the attempt count follows from the three.
    webhook_retry_first_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_longest_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=86400.0, gt=0)
    # The sweep that starts any delivery whose notification was missed.
    webhook_sweep_seconds: float = Field(default=30.0, gt=0)


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
