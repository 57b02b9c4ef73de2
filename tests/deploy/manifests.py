"""Readers for the deploy/ files, shared by the deploy tests: the Dockerfile's instructions,
the compose file, the Kubernetes manifests, every `docket ...` command line they run, and
the environment variable names Docket actually reads."""

import json
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from pydantic import AliasChoices

from core.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
IMAGE = "docket"  # the image name every k8s manifest uses; kustomization.yaml maps it


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def dockerfile_stages(text: str | None = None) -> list[Stage]:
    """The Dockerfile as stages of (KEYWORD, arguments), continuation lines joined and
    comments dropped (also those inside a continued instruction, as Docker does)."""
    lines = (text if text is not None else DOCKERFILE.read_text()).splitlines()
    logical: list[str] = []
    pending = ""
    for line in lines:
        if line.strip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            stages.append(Stage(parts[2] if len(parts) > 2 else str(len(stages))))
        if stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list), f"not exec (JSON array) form: {rest}"
    return [str(v) for v in value]


def dockerfile_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.args("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def runtime_stage() -> Stage:
    return dockerfile_stages()[-1]


def image_entrypoint() -> list[str]:
    return exec_form(runtime_stage().args("ENTRYPOINT")[-1])


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@cache
def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in k8s_files():
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_documents() if doc["kind"] == kind]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    template = doc.get("spec", {}).get("template")
    return template["spec"] if template else None


def docket_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) for every command line that runs `docket` in the Dockerfile, the
    compose file and the Kubernetes manifests; argv[0] is "docket"."""
    entrypoint = image_entrypoint()
    yield "Dockerfile CMD", entrypoint + exec_form(runtime_stage().args("CMD")[-1])
    for name, service in compose()["services"].items():
        if service.get("image") == "docket:local":
            yield f"compose {name}", entrypoint + list(service.get("command", []))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "docket"]:
            yield f"compose {name} healthcheck", test[1:]
    for doc in k8s_documents():
        spec = pod_spec(doc)
        for container in spec["containers"] if spec else []:
            where = f"k8s {doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            if container["image"] == IMAGE:
                yield where, container.get("command", entrypoint) + container.get("args", [])
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command", [])
                if command[:1] == ["docket"]:
                    yield f"{where} {probe}", command


def settings_env_names() -> set[str]:
    """Every environment variable Docket reads: Settings fields and their aliases, plus
    those of Temporal's envconfig profile file."""
    names = {"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE"}
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice).upper() for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def settings_from_env(env: dict[str, str]) -> Settings:
    """The Settings a process would build from exactly this environment."""
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()
