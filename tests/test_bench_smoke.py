"""Every benchmark, at smoke sizes (`python -m bench --quick`), so none of them can rot.

Asserts only that each figure is produced, with a finite ratio to its baseline where it has
one: the targets are for `make bench` on a quiet machine, not for a test run.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import NAMES

ROOT = Path(__file__).resolve().parent.parent
# Figures each benchmark must print (a substring of the figure's name).
EXPECTED = {
    "cancel running job": [
        "POST cancel → cancelled in GET",
        "POST cancel of a running rechunk",
        "heartbeat RPCs/s",
    ],
    "cancel pending job": ["POST cancel (pending job)", "Temporal cancel RPC"],
    "job creation": ["POST parse", "latency of one POST parse"],
    "get job": ["history events", "children", "GET project"],
    "job events (SSE)": [
        "status change → SSE event received",
        "event latency under",
        "API CPU while",
    ],
    "webhooks": ["job terminal → webhook received"],
    "observability cost": ["GET job, metrics on", "POST parse, metrics on", "tracing"],
    "list jobs": ["filter none, first page", "filter created 1-day range, deep page"],
    "parse throughput": ["PDF corpus through the worker", "Docket engine"],
    "rechunk throughput": ["parse result through the worker"],
    "convergence loop": ["one round of", "page statement"],
    "vector search": [
        "semantic search p50",
        "lexical search p50",
        "hybrid search p50",
        "recall@",
        "MRR@",
    ],
    "vector indexing throughput": ["one parse result of"],
    "hostile documents": ["time to terminal", "cancel to CPU idle"],
    "ocr": [
        "CER, 300 dpi clean",
        "CER, 150 dpi noise",
        "OCR pages/s through the worker",
        "behind a",
        "cancel of a running OCR job",
    ],
    "storage backends": ["MiB through the API, S3 (moto) vs local", "-page PDF, POST → succeeded"],
    "batch": ["submit → done", "child jobs/s", "batch → settled", "max event history", "per child"],
}


QUICK_RUN_SECONDS = 900


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    results = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results-dir", str(results)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        # Every benchmark once at smoke sizes, each on real servers (OCR, S3, 1,000-chunk
        # stores, SSE streams...): a few minutes on 2 cores, more on a shared machine.
        timeout=QUICK_RUN_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    [path] = results.glob("*-quick.json")
    return done.stdout, json.loads(path.read_text())


def test_every_benchmark_is_registered() -> None:
    assert len(NAMES) == len(EXPECTED) == len(set(NAMES))


# The smoke run takes a minute or more: in `make test-slow`, which CI runs after `make test`.
@pytest.mark.slow
@pytest.mark.timeout(QUICK_RUN_SECONDS + 60)  # the module's quick run happens in the first test
def test_every_figure_is_printed_and_saved(quick_run: tuple[str, dict[str, object]]) -> None:
    stdout, saved = quick_run
    results = saved["results"]
    assert isinstance(results, list)
    table = stdout.split("| benchmark |", 1)[1]
    for bench, figures in EXPECTED.items():
        for figure in figures:
            assert any(r["bench"] == bench and figure in r["figure"] for r in results), figure
            assert any(bench in line and figure in line for line in table.splitlines()), figure


@pytest.mark.slow
@pytest.mark.timeout(QUICK_RUN_SECONDS + 60)
def test_figures_and_ratios_are_finite(quick_run: tuple[str, dict[str, object]]) -> None:
    _, saved = quick_run
    results = saved["results"]
    assert isinstance(results, list)
    for row in results:
        assert math.isfinite(row["ours"]["p50"]) and row["ours"]["p50"] >= 0, row
        if row["raw"] is not None:
            assert row["ratio"] is not None and math.isfinite(row["ratio"]), row
    machine = saved["machine"]
    assert isinstance(machine, dict) and machine["nproc"] and machine["postgres"]
