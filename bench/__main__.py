"""`python -m bench` (`make bench`): every benchmark against one stack it starts itself (or
on the servers named by DATABASE_URL / TEMPORAL_ADDRESS), one results table on stdout, and
bench/results/<timestamp>.json.

    python -m bench                       # full sizes (about 20 minutes on 2 cores)
    python -m bench --quick               # smoke sizes (seconds): proves every figure runs
    python -m bench --only list_jobs --only get_job
"""

import argparse
import datetime
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench import (
    batch_scale,
    cancel_latency,
    cancel_pending,
    convergence,
    events,
    get_job,
    hostile,
    job_creation,
    list_jobs,
    observability,
    ocr,
    parse_throughput,
    rechunk,
    storage,
    vector_indexing,
    vector_search,
    webhooks,
)
from bench.report import RESULTS_DIR, machine, results_path, write
from bench.sizes import FULL, QUICK, Sizes
from bench.stack import running_stack
from bench.stats import Row, table
from docket.devstack import DevStack

# In this order: the cheap latency figures first, the long batch last.
BENCHMARKS: tuple[ModuleType, ...] = (
    cancel_latency,
    cancel_pending,
    job_creation,
    get_job,
    events,
    webhooks,
    observability,
    list_jobs,
    parse_throughput,
    rechunk,
    convergence,
    vector_search,
    vector_indexing,
    hostile,
    ocr,
    storage,
    batch_scale,
)
NAMES = [module.NAME for module in BENCHMARKS]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke sizes: seconds, not minutes")
    parser.add_argument(
        "--only", action="append", choices=NAMES, metavar="NAME", help=f"one of {NAMES}"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def run_one(module: ModuleType, stack: DevStack, sizes: Sizes) -> tuple[list[Row], str | None]:
    """A benchmark that fails is reported, and the others still run."""
    began = time.monotonic()
    print(f"-- {module.NAME} ...", flush=True)
    run: Callable[[DevStack, Sizes], list[Row]] = module.run
    try:
        rows = run(stack, sizes)
    except Exception:
        error = traceback.format_exc()
        print(f"-- {module.NAME} FAILED\n{error}", flush=True)
        return [], error
    print(f"-- {module.NAME} done in {time.monotonic() - began:.0f}s", flush=True)
    for row in rows:
        print(f"   {row.figure}: p50 {row.ours.p50:.2f} {row.ours.unit}", flush=True)
    return rows, None


def details(rows: list[Row]) -> str:
    """The breakdowns some figures carry (e.g. count(*) vs page SQL), one line each."""
    lines = ["details:"]
    for row in rows:
        if row.extra:
            pairs = ", ".join(f"{key}={value}" for key, value in row.extra.items())
            lines.append(f"  {row.bench} / {row.figure}: {pairs}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    chosen = [m for m in BENCHMARKS if not args.only or m.NAME in args.only]
    rows: list[Row] = []
    failures: dict[str, str] = {}
    path = results_path(args.results_dir, args.quick)
    options = {"quick": args.quick, "only": args.only}
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with running_stack() as stack:
        info: dict[str, object] = {"started": started, **machine(stack), "failures": failures}
        for module in chosen:
            module_rows, error = run_one(module, stack, sizes)
            rows += module_rows
            if error is not None:
                failures[module.NAME] = error
            write(path, rows, info, options, done=False)
    info["loadavg_end"] = os.getloadavg()
    write(path, rows, info, options, done=True)
    print(f"\n{table(rows)}\n\n{details(rows)}\nresults: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
