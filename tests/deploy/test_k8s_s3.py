"""deploy/k8s-s3, the object-storage overlay, built offline by kustomize (kubectl's own,
`kubectl kustomize`, which reads only local files) and checked like the base: schemas,
no ReadWriteMany claim left anywhere, every pod given the store's settings, and those
settings naming the S3 backend."""

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from core.storage import open_storage
from core.storage_s3 import S3Storage
from tests.deploy.manifests import DEPLOY, pod_spec, settings_env_names, settings_from_env
from tests.deploy.test_k8s import K8S_VERSIONS, name_of, schema_error

OVERLAY = DEPLOY / "k8s-s3"
BUILD_TIMEOUT_SECONDS = 60


def built() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (its built-in kustomize) is not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)],
        check=True,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return built()


def env_of(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    by_name = {name_of(d): d for d in docs}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_name[f"ConfigMap/{source['configMapRef']['name']}"]["data"])
        if "secretRef" in source:
            env.update(by_name[f"Secret/{source['secretRef']['name']}"]["stringData"])
    return env


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_overlay_matches_the_kubernetes_schema(
    docs: list[dict[str, Any]], version: str
) -> None:
    assert [error for doc in docs if (error := schema_error(doc, version))] == []


def test_no_shared_volume_is_claimed(docs: list[dict[str, Any]]) -> None:
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    pods = [spec for doc in docs if (spec := pod_spec(doc)) is not None]
    assert len(pods) >= 3  # api, worker, migrate
    for spec in pods:
        assert not [v for v in spec.get("volumes", []) if "persistentVolumeClaim" in v]
        mounted = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        assert mounted <= {v["name"] for v in spec.get("volumes", [])}


def test_api_and_workers_read_the_bucket(docs: list[dict[str, Any]]) -> None:
    known = settings_env_names()
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"docket-api", "docket-worker"}
    for doc in deployments:
        spec = pod_spec(doc)
        assert spec is not None
        env = env_of(docs, spec["containers"][0])
        docket_names = {name for name in env if not name.startswith("AWS_")}
        assert docket_names <= known, name_of(doc)
        settings = settings_from_env(env)
        assert settings.storage_url == "s3://docket-files/uploads"
        assert settings.s3_endpoint_url is not None
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(env)
        assert isinstance(open_storage(settings), S3Storage)
