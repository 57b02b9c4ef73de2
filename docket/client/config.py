"""Where the client finds its server and credentials: explicit arguments, else the
environment (DOCKET_API_URL, DOCKET_API_KEY, DOCKET_ACCOUNT_ID), else the credentials.json
that `docket dev` writes into its data directory (DOCKET_DATA_DIR, default `.docket`)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.settings import get_settings

URL_VARIABLE = "DOCKET_API_URL"
KEY_VARIABLE = "DOCKET_API_KEY"
ACCOUNT_VARIABLE = "DOCKET_ACCOUNT_ID"
CREDENTIALS_FILE = "credentials.json"
# Generous for uploads and large results; waiting for jobs uses its own bounded reads.
DEFAULT_TIMEOUT_SECONDS = 60.0


class MissingCredentials(ValueError):
    """No base URL, key or account in the arguments, the environment or a dev stack."""


def credentials_path() -> Path:
    return get_settings().data_dir / CREDENTIALS_FILE


def _dev_credentials() -> dict[str, str]:
    try:
        stored = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return {key: str(value) for key, value in stored.items()} if isinstance(stored, dict) else {}


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str
    account_id: str
    timeout: httpx.Timeout

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "x-selected-account-id": self.account_id}

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        account_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> "ClientConfig":
        url = base_url or os.environ.get(URL_VARIABLE)
        key = api_key or os.environ.get(KEY_VARIABLE)
        account = account_id or os.environ.get(ACCOUNT_VARIABLE)
        if not url or not key or not account:
            dev = _dev_credentials()
            url, key = url or dev.get("api_url"), key or dev.get("api_key")
            account = account or dev.get("account_id")
        if not url or not key or not account:
            raise MissingCredentials(
                f"set {URL_VARIABLE}, {KEY_VARIABLE} and {ACCOUNT_VARIABLE} (or pass them), "
                f"or run `docket dev`, which writes {credentials_path()}"
            )
        return cls(url.rstrip("/"), key, account, httpx.Timeout(timeout))
