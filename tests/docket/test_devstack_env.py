"""`docket dev` hands the settings it was given to the worker and API it starts."""

import pytest

from core.settings import Settings, get_settings
from docket.devstack import settings_env


def test_given_settings_reach_the_children_and_read_back_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = get_settings(
        heartbeat_throttle_ms=50,
        batch_max_concurrency=7,
        temporal_tls=True,
        secret_key="s3cret",
        log_level="DEBUG",
        reconcile_after_seconds=2.5,
    )
    env = settings_env(given)
    assert env["DOCKET_HEARTBEAT_THROTTLE_MS"] == "50"
    assert env["DOCKET_SECRET_KEY"] == "s3cret"  # not the masked "**********"
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"DOCKET_{name.upper()}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings()
    for name in given.model_fields_set:
        assert getattr(child, name) == getattr(given, name), name


def test_settings_left_at_their_defaults_are_not_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOCKET_HEARTBEAT_THROTTLE_MS", raising=False)
    assert "DOCKET_HEARTBEAT_THROTTLE_MS" not in settings_env(get_settings(log_level="INFO"))
