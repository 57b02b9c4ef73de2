"""deploy/compose.s3.yaml, the S3 option layered on compose.yaml, against the Compose
Specification's schema (offline), merged as `docker compose -f ... -f ...` merges services'
environment and depends_on maps, and its Docket settings naming the S3 backend."""

from typing import Any

import yaml

from core.storage import open_storage
from core.storage_s3 import S3Storage
from tests.deploy.manifests import DEPLOY, compose, settings_env_names, settings_from_env
from tests.deploy.test_compose import docket_env, schema_errors

OVERRIDE = DEPLOY / "compose.s3.yaml"
DOCKET_SERVICES = ("migrate", "api", "worker")


def override() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OVERRIDE.read_text())
    return loaded


def default_of(value: object) -> str:
    text = str(value)
    return text[text.index(":-") + 2 : -1] if text.startswith("${") and ":-" in text else text


def test_the_override_matches_the_compose_specification() -> None:
    assert schema_errors(override()) == []


def test_it_layers_on_the_base_services() -> None:
    base = compose()["services"]
    extra = override()["services"]
    for name in DOCKET_SERVICES:
        assert name in base and name in extra
    for service in extra.values():
        for needed in service.get("depends_on", {}):
            assert needed in extra or needed in base
    assert {"objects"} <= set(override()["volumes"])


def test_docket_services_run_on_the_s3_backend() -> None:
    known = settings_env_names()
    for name in DOCKET_SERVICES:
        added = {k: default_of(v) for k, v in override()["services"][name]["environment"].items()}
        assert {k for k in added if not k.startswith("AWS_")} <= known
        settings = settings_from_env({**docket_env(name), **added})
        assert settings.storage_url == "s3://docket/uploads"
        assert settings.s3_endpoint_url == "http://minio:9000"
        assert isinstance(open_storage(settings), S3Storage)
