"""deploy/grafana/docket.json and deploy/prometheus/alerts.yaml, validated offline: the
dashboard's shape (a JSON schema), every query and alert expression parses as PromQL
(promql-parser), and every Docket metric the dashboard plots exists in a scrape of the API
(the Temporal SDK's: tests/docket/test_worker_metrics.py)."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "docket.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
METRIC = re.compile(r"\b(?:docket|temporal)_[a-z_]+")
SUFFIXES = re.compile(r"_(?:total|bucket|count|sum)$")
DURATION = r"^[0-9]+[smhd]$"

DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels"],
    "properties": {
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "targets"],
                "properties": {
                    "gridPos": {"type": "object", "required": ["h", "w", "x", "y"]},
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["refId", "expr"]},
                    },
                },
            },
        }
    },
}
ALERTS_SCHEMA = {
    "type": "object",
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "properties": {
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["alert", "expr", "labels", "annotations"],
                            "properties": {
                                "for": {"type": "string", "pattern": DURATION},
                                "labels": {"required": ["severity"]},
                            },
                        },
                    }
                },
            },
        }
    },
}


def dashboard_queries() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def plotted(prefix: str) -> set[str]:
    """The metric families (as a scrape names them) the dashboard plots, by prefix."""
    names = {SUFFIXES.sub("", m) for query in dashboard_queries() for m in METRIC.findall(query)}
    return {name for name in names if name.startswith(prefix)}


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def test_dashboard_queries_parse() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 10
    for query in queries:
        promql_parser.parse(query)  # raises ValueError on a bad query


def test_alert_rules_parse() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    jsonschema.validate(rules, ALERTS_SCHEMA)
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert len(names) == len(set(names))
    assert {"DocketJobsStuckPending", "DocketApiErrorRateBurn", "DocketWorkerAbsent"} <= set(names)
    for group in rules["groups"]:
        for rule in group["rules"]:
            promql_parser.parse(rule["expr"])


async def test_every_docket_metric_plotted_is_scraped(api: httpx.AsyncClient) -> None:
    scraped = families((await api.get("/metrics")).text)
    wanted = plotted("docket_")
    assert len(wanted) >= 8
    assert wanted <= scraped, wanted - scraped
