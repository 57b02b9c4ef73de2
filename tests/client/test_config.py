"""Where the SDK finds its server: arguments, else the environment, else the dev stack's
credentials.json in DOCKET_DATA_DIR."""

import json
from pathlib import Path

import pytest

from docket.client import ClientConfig, MissingCredentials

DEV = {"api_url": "http://127.0.0.1:8123/", "account_id": "acct_dev", "api_key": "dk_dev"}
VARIABLES = ("DOCKET_API_URL", "DOCKET_API_KEY", "DOCKET_ACCOUNT_ID")


@pytest.fixture
def dev_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKET_DATA_DIR", str(tmp_path))
    (tmp_path / "credentials.json").write_text(json.dumps(DEV))
    return tmp_path


def test_the_dev_stack_credentials_are_the_fallback(dev_stack: Path) -> None:
    config = ClientConfig.resolve()
    assert (config.base_url, config.account_id, config.api_key) == (
        "http://127.0.0.1:8123",
        "acct_dev",
        "dk_dev",
    )
    assert config.headers() == {"x-api-key": "dk_dev", "x-selected-account-id": "acct_dev"}


def test_environment_then_arguments_win(dev_stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_API_URL", "http://env:1")
    monkeypatch.setenv("DOCKET_API_KEY", "dk_env")
    monkeypatch.setenv("DOCKET_ACCOUNT_ID", "acct_env")
    assert ClientConfig.resolve().api_key == "dk_env"
    assert ClientConfig.resolve("http://arg:2", "dk_arg").base_url == "http://arg:2"
    assert ClientConfig.resolve("http://arg:2", "dk_arg").account_id == "acct_env"


def test_nothing_configured_names_every_way(dev_stack: Path) -> None:
    (dev_stack / "credentials.json").unlink()
    with pytest.raises(MissingCredentials) as raised:
        ClientConfig.resolve()
    assert "DOCKET_API_URL" in str(raised.value) and "docket dev" in str(raised.value)
