"""deploy/compose.yaml against the Compose Specification's JSON schema (the copy vendored in
the `check-jsonschema` wheel: no network), plus what the schema cannot see: references
between services, start-order conditions, Docket's settings and shutdown timing."""

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from core.settings import Settings
from tests.deploy.manifests import (
    compose,
    dockerfile_env,
    runtime_stage,
    settings_env_names,
    settings_from_env,
)


def compose_spec_schema() -> dict[str, Any]:
    # find_spec locates the installed package without importing it (and its CLI stack).
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None and spec.submodule_search_locations, "pip install check-jsonschema"
    root = Path(next(iter(spec.submodule_search_locations)))
    schema: dict[str, Any] = json.loads(
        (root / "builtin_schemas" / "vendor" / "compose-spec.json").read_text()
    )
    return schema


def schema_errors(document: object) -> list[str]:
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def docket_env(service: str) -> dict[str, str]:
    """The environment a Docket container of `service` runs with: the image's ENV, then
    the service's `environment` (compose's ${VAR:-default} resolved to its default)."""
    env = dockerfile_env(runtime_stage())
    for key, value in services()[service].get("environment", {}).items():
        text = str(value)
        if text.startswith("${") and ":-" in text:
            text = text[text.index(":-") + 2 : -1]
        env[key] = text
    return env


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(duration)


def test_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


# Compose accepts strings for most numbers (they may be ${interpolated}), so these are
# the mistakes the schema does catch: unknown keys and values of the wrong shape.
BREAKAGES = {
    "unknown depends_on condition": ("api", ["depends_on", "migrate", "condition"], "finished"),
    "misspelt service key": ("worker", ["depends-on"], {"migrate": {}}),
    "unknown healthcheck key": ("worker", ["healthcheck", "every"], "10s"),
    "command not a list or string": ("migrate", ["command"], {"run": "migrate"}),
    "misplaced key": ("api", ["restart_policy"], "always"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_schema_check_catches_a_broken_file(breakage: str) -> None:
    service, path, value = BREAKAGES[breakage]
    broken = json.loads(json.dumps(compose()))
    node = broken["services"][service]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = schema_errors(broken)
    assert errors and all(e.startswith(f"services/{service}") for e in errors), errors


def test_dependencies_exist_and_their_conditions_can_be_met() -> None:
    for name, service in services().items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services(), f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services()[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                # A one-shot: restarting it would never let it count as completed.
                assert services()[target].get("restart", "no") == "no", target


def test_the_stack_starts_in_order() -> None:
    needs = {name: set(s.get("depends_on", {})) for name, s in services().items()}
    assert needs["migrate"] == {"postgres"}
    assert needs["temporal"] == {"postgres"}
    assert needs["api"] == needs["worker"] == {"migrate", "temporal"}
    assert services()["worker"]["deploy"]["replicas"] >= 2


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes", {}))
    for name, service in services().items():
        for mount in service.get("volumes", []):
            source = str(mount).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


@pytest.mark.parametrize("service", ["migrate", "api", "worker"])
def test_docket_services_read_only_real_settings(service: str) -> None:
    env = docket_env(service)
    unknown = {k for k in env if k.startswith(("DOCKET_", "TEMPORAL_"))} - settings_env_names()
    assert not unknown, f"Docket ignores {sorted(unknown)} (typo?)"
    settings = settings_from_env(env)
    assert settings.database_url and settings.temporal_address and settings.secret_key
    assert settings.api_host == "0.0.0.0"


@pytest.mark.parametrize("service", ["api", "worker"])
def test_stop_grace_outlasts_graceful_shutdown(service: str) -> None:
    settings: Settings = settings_from_env(docket_env(service))
    grace = seconds(services()[service]["stop_grace_period"])
    assert grace >= settings.worker_graceful_shutdown_seconds + 10, (
        f"{service}: stop_grace_period {grace}s leaves no room for the "
        f"{settings.worker_graceful_shutdown_seconds}s graceful shutdown"
    )


def test_each_worker_has_a_private_health_file() -> None:
    env = docket_env("worker")
    data_dir = Path(env["DOCKET_DATA_DIR"])
    health_file = Path(env["DOCKET_WORKER_HEALTH_FILE"])
    assert data_dir not in health_file.parents, "the replicas share /data: one file for all"
