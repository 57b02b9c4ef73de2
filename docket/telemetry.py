"""The worker's metrics: the Temporal SDK's own (task slots, poll and task latencies) from
its runtime telemetry on `worker_sdk_metrics_port`, and Docket's (job transitions, parse
pages and time) on `worker_metrics_port`."""

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings
from core.temporal import connect_config
from core.tracing import temporal_interceptors
from docket.embedded import find_free_port


async def connect_worker(settings: Settings, traces: TracerProvider | None) -> Client:
    """The worker's client: with the SDK metrics on, bound to a runtime exporting them;
    with tracing on, with the tracing interceptors (the worker built on it uses them)."""
    extra: dict[str, Any] = {}
    if traces is not None:
        extra["interceptors"] = temporal_interceptors(traces)
    if settings.worker_sdk_metrics_port is not None:
        bind = f"{settings.metrics_host}:{settings.worker_sdk_metrics_port}"
        metrics = TelemetryConfig(metrics=PrometheusConfig(bind_address=bind))
        extra["runtime"] = Runtime(telemetry=metrics)
    return await Client.connect(**connect_config(settings), **extra)


def dev_metrics(
    settings: Settings, api_url: str, client_host: Callable[[str], str]
) -> tuple[dict[str, str], dict[str, str]]:
    """For `docket dev`: free ports for the worker's two metrics endpoints (unless the
    settings name them) as the worker's environment, and every metrics URL for the banner
    (the API serves /metrics on its own port unless `metrics_port` is set)."""
    if not settings.metrics_enabled:
        return {}, {}
    host, bind = client_host(settings.metrics_host), settings.metrics_host
    docket = settings.worker_metrics_port or find_free_port(0, bind)
    sdk = settings.worker_sdk_metrics_port or find_free_port(0, bind)
    own = settings.metrics_port
    urls = {
        "API": f"{api_url}/metrics" if own is None else f"http://{host}:{own}/metrics",
        "worker": f"http://{host}:{docket}/metrics",
        "worker SDK": f"http://{host}:{sdk}/metrics",
    }
    env = {"DOCKET_WORKER_METRICS_PORT": str(docket), "DOCKET_WORKER_SDK_METRICS_PORT": str(sdk)}
    return env, urls
