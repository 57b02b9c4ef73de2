"""Connecting to Temporal from settings: the dev server, a self-hosted cluster, or Cloud.

Uses the SDK's environment configuration (`temporalio.envconfig`): a profile from a TOML
file (TEMPORAL_CONFIG_FILE, default the SDK's own location; TEMPORAL_PROFILE, default
"default"), overridden by the TEMPORAL_* values in Settings — the same names and the same
precedence as every Temporal client and the `temporal` CLI.
"""

from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile

from core.failures import data_converter
from core.settings import Settings


def envconfig_overrides(settings: Settings) -> dict[str, str]:
    """The Settings' Temporal values under envconfig's variable names (unset ones left out,
    so the profile's values stand)."""
    values: dict[str, Any] = {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_API_KEY": (
            settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
        ),
        "TEMPORAL_TLS": None if settings.temporal_tls is None else str(settings.temporal_tls),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": settings.temporal_tls_client_cert_path,
        "TEMPORAL_TLS_CLIENT_KEY_PATH": settings.temporal_tls_client_key_path,
    }
    return {
        name: str(value).lower() if name == "TEMPORAL_TLS" else str(value)
        for name, value in values.items()
        if value is not None
    }


def connect_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`. Raises RuntimeError when no address is set
    by either the environment or the profile."""
    profile = ClientConfigProfile.load(
        settings.temporal_profile,
        config_source=settings.temporal_config_file,
        override_env_vars=envconfig_overrides(settings),
    )
    config: dict[str, Any] = dict(profile.to_client_connect_config())
    # Failures leave the process with no absolute paths of this machine (core/failures.py);
    # a worker built on the client records its activities' and workflows' failures so.
    config["data_converter"] = data_converter()
    if not config.get("target_host"):
        raise RuntimeError(
            "TEMPORAL_ADDRESS is not set: run `docket dev` for the embedded stack, "
            "or point TEMPORAL_ADDRESS (or a TEMPORAL_PROFILE) at a Temporal frontend"
        )
    return config


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """`lazy`: connect on first use, so the API starts (and serves reads from Postgres)
    while Temporal is down."""
    return await Client.connect(**connect_config(settings), lazy=lazy)
