"""deploy/k8s against the Kubernetes OpenAPI schemas bundled in the `kubernetes-validate`
wheel (offline; strict: unknown fields fail), for the oldest and the newest Kubernetes we
claim, plus what schemas cannot see: kustomization coverage, references between objects,
Docket's settings, shutdown timing and the restricted pod security profile."""

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.manifests import (
    IMAGE,
    K8S,
    k8s_documents,
    k8s_files,
    k8s_kind,
    pod_spec,
    settings_env_names,
    settings_from_env,
)

# 1.29 is the oldest release still supported by the major managed offerings; the newest
# schemas the wheel ships catch removed APIs early.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
DOCS = k8s_documents()
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def schema_error(doc: dict[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        return f"{name_of(doc)} on {version}: {'.'.join(map(str, err.path))}: {err.message}"
    except kubernetes_validate.SchemaNotFoundError as err:
        return f"{name_of(doc)}: {err.message} (an API removed or misspelt)"
    return None


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("doc", DOCS, ids=[name_of(d) for d in DOCS])
def test_manifest_matches_the_kubernetes_schema(doc: dict[str, Any], version: str) -> None:
    assert schema_error(doc, version) is None


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Deployment", ["spec", "template", "spec", "terminationGracePeriod"], 60),  # typo
        ("Deployment", ["spec", "replicas"], "two"),
        ("HorizontalPodAutoscaler", ["spec", "maxReplicas"], None),
        ("PodDisruptionBudget", ["spec", "selector", "matchLabel"], {}),
    ],
)
def test_the_schema_check_catches_a_broken_manifest(kind: str, path: list[str], value: Any) -> None:
    broken = yaml.safe_load(yaml.safe_dump(k8s_kind(kind)[0]))
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_error(broken, K8S_VERSIONS[-1]) is not None


def test_kustomization_lists_exactly_the_manifests() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in k8s_files()]
    assert [i["name"] for i in kustomization["images"]] == [IMAGE]


def test_selectors_and_references_resolve() -> None:
    names = {name_of(doc) for doc in DOCS}
    deployments = {d["metadata"]["name"]: d for d in k8s_kind("Deployment")}
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]

    def selects_pods(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for deployment in deployments.values():
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
    for service in k8s_kind("Service"):
        assert selects_pods(service["spec"]["selector"]), f"{name_of(service)} selects no pod"
    for pdb in k8s_kind("PodDisruptionBudget"):
        assert selects_pods(pdb["spec"]["selector"]["matchLabels"]), f"{name_of(pdb)}: no pod"
    for hpa in k8s_kind("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments, name_of(hpa)
        # The HPA owns the replica count; a `replicas` in the Deployment fights it on apply.
        assert "replicas" not in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]
    for doc in DOCS:
        spec = pod_spec(doc)
        for container in spec["containers"] if spec else []:
            assert container["image"] == IMAGE, "kustomization.yaml `images` maps only `docket`"
            for source in container.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in source:
                        assert f"{kind}/{source[key]['name']}" in names, name_of(doc)
        for volume in spec["volumes"] if spec and "volumes" in spec else []:
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert f"PersistentVolumeClaim/{claim}" in names, name_of(doc)
            if "secret" in volume and not volume["secret"].get("optional"):
                assert f"Secret/{volume['secret']['secretName']}" in names, name_of(doc)


def config_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as Kubernetes would build it from envFrom and env."""
    env: dict[str, str] = {}
    by_name = {name_of(d): d for d in DOCS}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_name[f"ConfigMap/{source['configMapRef']['name']}"]["data"])
        if "secretRef" in source:
            env.update(by_name[f"Secret/{source['secretRef']['name']}"]["stringData"])
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


Container = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # (doc, pod spec, container)


def containers() -> list[Container]:
    found: list[Container] = []
    for doc in DOCS:
        spec = pod_spec(doc)
        if spec is not None:
            found.extend((doc, spec, container) for container in spec["containers"])
    return found


def test_containers_read_only_real_settings() -> None:
    for doc, _, container in containers():
        env = config_env(container)
        unknown = {k for k in env if k.startswith(("DOCKET_", "TEMPORAL_"))} - settings_env_names()
        assert not unknown, f"{name_of(doc)}: Docket ignores {sorted(unknown)} (typo?)"
        settings = settings_from_env(env)
        assert settings.database_url and settings.temporal_address and settings.secret_key


def test_pods_outlive_their_graceful_shutdown() -> None:
    for doc, spec, container in containers():
        if doc["kind"] != "Deployment":
            continue
        settings = settings_from_env(config_env(container))
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
        pause = float(pre_stop["command"][1]) if pre_stop else 0.0
        needed = pause + settings.worker_graceful_shutdown_seconds + 10
        grace = spec["terminationGracePeriodSeconds"]
        assert grace >= needed, f"{name_of(doc)}: {grace}s grace, needs {needed}s"


def test_connection_budget_fits_a_default_postgres() -> None:
    """Every pod's pool at its maximum, api scaled out fully, plus a migration and a few
    admin sessions, stays within Postgres's default max_connections (deploy/README.md)."""
    most = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["maxReplicas"]
        for hpa in k8s_kind("HorizontalPodAutoscaler")
    }
    total = 0
    for doc, _, container in containers():
        if doc["kind"] == "Deployment":
            pool = settings_from_env(config_env(container)).db_pool_max_size
            total += pool * most.get(doc["metadata"]["name"], doc["spec"].get("replicas", 1))
    assert total + 1 + 5 <= POSTGRES_DEFAULT_MAX_CONNECTIONS, (
        f"{total} pooled connections at full scale leave no room in max_connections "
        f"{POSTGRES_DEFAULT_MAX_CONNECTIONS}: lower the pools or the replicas, or raise it"
    )


def test_worker_probes_read_a_private_heartbeat() -> None:
    worker = k8s_kind("Deployment")
    (spec,) = [pod_spec(d) for d in worker if d["metadata"]["name"] == "docket-worker"]
    assert spec is not None
    (container,) = spec["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][:3] == ["docket", "health", "--worker"]
    env = config_env(container)
    health_dir = env["DOCKET_WORKER_HEALTH_FILE"].rsplit("/", 1)[0]
    assert not env["DOCKET_WORKER_HEALTH_FILE"].startswith(env["DOCKET_DATA_DIR"])
    emptydirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts.get(health_dir) in emptydirs, "a read-only root needs a writable dir for it"


def test_pods_fit_the_restricted_security_profile() -> None:
    for doc, spec, container in containers():
        assert spec["securityContext"]["runAsNonRoot"] is True, name_of(doc)
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name_of(doc)
        assert context["capabilities"]["drop"] == ["ALL"], name_of(doc)
        assert container["resources"]["requests"] and container["resources"]["limits"]
