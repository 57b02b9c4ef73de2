"""Temporal's connection settings use the SDK's envconfig names and its profile file."""

from pathlib import Path

import pytest

from core.settings import get_settings
from core.temporal import connect_config

PROFILE = """
[profile.default]
address = "file-host:7233"
namespace = "from-file"

[profile.cloud]
address = "cloud-host:7233"
namespace = "cloud-ns"
api_key = "file-key"
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILE)
    return path


def test_the_environment_names_of_envconfig_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "env-host:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "env-ns")
    monkeypatch.setenv("TEMPORAL_API_KEY", "env-key")
    config = connect_config(get_settings())
    assert config["target_host"] == "env-host:7233"
    assert config["namespace"] == "env-ns"
    assert config["api_key"] == "env-key"
    assert config["tls"] is True  # an API key implies TLS, as for every Temporal client


def test_a_profile_file_supplies_what_the_environment_does_not(
    monkeypatch: pytest.MonkeyPatch, profile_file: Path
) -> None:
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profile_file))
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    config = connect_config(get_settings())
    assert config["target_host"] == "cloud-host:7233"
    assert config["api_key"] == "file-key"
    monkeypatch.setenv("TEMPORAL_ADDRESS", "override:7233")
    assert connect_config(get_settings())["target_host"] == "override:7233"


def test_mtls_paths_become_a_tls_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "mtls-host:7233")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(cert))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(key))
    tls = connect_config(get_settings())["tls"]
    assert tls.client_cert == b"CERT" and tls.client_private_key == b"KEY"


def test_no_address_anywhere_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "none.toml"))
    with pytest.raises(RuntimeError, match="TEMPORAL_ADDRESS is not set"):
        connect_config(get_settings())
