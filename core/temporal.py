"""Connecting to Temporal from settings: the dev server, a self-hosted cluster, or Cloud."""

from temporalio.client import Client
from temporalio.service import TLSConfig

from core.settings import Settings


def require_temporal_address(settings: Settings) -> str:
    if not settings.temporal_address:
        raise RuntimeError(
            "TEMPORAL_ADDRESS is not set: run `docket dev` for the embedded stack, "
            "or point TEMPORAL_ADDRESS at a Temporal frontend"
        )
    return settings.temporal_address


def tls_config(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    # Temporal Cloud with an API key needs TLS without a client certificate.
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """`lazy`: connect on first use, so the API starts (and serves reads from Postgres)
    while Temporal is down."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        require_temporal_address(settings),
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=api_key,
        lazy=lazy,
    )
