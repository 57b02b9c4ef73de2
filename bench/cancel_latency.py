"""Cancel of a running parse job: POST .../cancel → `cancelled` visible in GET.

Baseline, in the same run and on the same Temporal server: a bare workflow whose activity
heartbeats with the same throttle and is cancelled with WAIT_CANCELLATION_COMPLETED;
`handle.cancel()` → the result raises. Both are cancelled only once their activity is
running and has heartbeated, and their runs alternate. The ratio is what Docket adds on top
of Temporal: the HTTP round trips, the Postgres reads and writes, the cleanup activity, and a
worker busy parsing a real PDF. The cancel's POST and its GET polls (every 5 ms) go through
the lean client, like every timed request of the bench (httpx's ~1 ms of client Python per
request is not Docket's cost); the raw side's `handle.result()` is a long poll.

Cancel latency is bounded by the heartbeat throttle, so the benchmark runs at several
throttles (a sibling API + worker per value) and measures, on the server, how many heartbeat
RPCs one running activity costs per second at each.
"""

import asyncio
import contextlib
import functools
import time
import uuid
from datetime import timedelta

import asyncpg
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from bench.bare_workflow import BareWorkflow, bare_worker
from bench.client import DEADLINE, Api, api_client, poll_until, sql
from bench.lean_http import LeanHttp, lean_http
from bench.phases import anomaly, medians, phases, postgres_phases
from bench.sizes import Sizes
from bench.stack import sibling_stack
from bench.stats import Row, Summary, percentile, within
from db.notify import terminate_listeners
from docket.devstack import DevStack
from tests.documents import make_pdf
from tests.factories import insert_parse_result

NAME = "cancel_running"
BENCH = "cancel running job"
# Cancels reach running work through Postgres: the target is against Temporal alone with a
# 100 ms heartbeat throttle (the old default), at Docket's default (1 s) throttle.
TARGET_P50_MS = 30.0
TARGET_RATIO = 0.3
RAW_THROTTLE_MS = 100
# A cancel takes well under a second; a job still running after this ignored it.
SETTLE_DEADLINE = 30.0
# With every LISTEN connection cut just before the cancel, the worker catches up when its
# listener reconnects (after a 1 s pause) and re-reads the marks: the target.
DROPPED_TARGET_P50_MS = 1500.0
DROPPED_RUNS = 5


@functools.cache
def big_pdf() -> bytes:
    # Long enough (12,000 pages: seconds to parse at ~0.5 ms a page) that the parse is still
    # running when the cancel arrives, even on a fast machine; made once per process.
    return make_pdf(pages=12_000, lines_per_page=30)


async def heartbeating(handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
    """Until the workflow's activity has started and sent a heartbeat."""
    deadline = time.monotonic() + DEADLINE
    while True:
        pending = (await handle.describe()).raw_description.pending_activities
        started = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        if pending and pending[0].state == started and pending[0].HasField("last_heartbeat_time"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the activity of {handle.id} never heartbeated")
        await asyncio.sleep(0.005)


async def heartbeat_rate(handle: WorkflowHandle, seconds: float) -> float:  # type: ignore[type-arg]
    """Heartbeats the server records per second for the workflow's running activity: the
    distinct `last_heartbeat_time` values seen while describing it as fast as it answers."""
    seen: set[tuple[int, int]] = set()
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        pending = (await handle.describe()).raw_description.pending_activities
        if pending:
            stamp = pending[0].last_heartbeat_time
            seen.add((stamp.seconds, stamp.nanos))
    return max(len(seen) - 1, 0) / seconds


class Runs:
    """Alternating Docket and raw cancels, with their latencies and heartbeat rates."""

    def __init__(
        self,
        api: Api,
        lean: LeanHttp,
        db: asyncpg.Connection,
        client: Client,
        project: str,
        file_id: str,
        raw_queue: str,
    ):
        self.api, self.client, self.project, self.file_id = api, client, project, file_id
        self.lean = lean  # the timed cancel and its polls (bench/lean_http.py)
        self.db = db  # reads the phases of each cancel from the job's history rows
        self.raw_queue = raw_queue
        self.ours: list[float] = []
        self.chunk: list[float] = []  # the same for a running rechunk (a `chunk` job)
        self.dropped: list[float] = []  # a parse, with the workers' LISTEN connections cut
        self.conn: asyncpg.Connection | None = None  # cuts them
        self.raw: list[float] = []
        self.ours_hb: list[float] = []
        self.raw_hb: list[float] = []
        self.anomalies: list[dict[str, object]] = []
        self.ours_phases: list[dict[str, float]] = []
        self.raw_phases: list[dict[str, float]] = []

    async def docket(self, sample: float, job_id: str | None = None, cut: bool = False) -> None:
        """Cancel a running parse (or the running job `job_id`, timed into `chunk`; or a
        parse with every LISTEN connection `cut` just before, timed into `dropped`)."""
        timed = self.dropped if cut else self.ours if job_id is None else self.chunk
        job_id = job_id or await self.api.parse(self.project, self.file_id)
        url = f"/v1/projects/{self.project}/jobs/{job_id}"
        handle = self.client.get_workflow_handle(job_id)
        await heartbeating(handle)
        if sample:
            self.ours_hb.append(await heartbeat_rate(handle, sample))
        if cut:
            assert self.conn is not None
            await terminate_listeners(self.conn)
        began, wall = time.perf_counter(), time.time()
        answer, _ = await self.lean.request("POST", f"{url}/cancel")
        if answer != 202:  # the job was no longer running: nothing to time
            self.anomalies.append(await anomaly(handle, f"HTTP {answer}"))
            return
        try:
            body = await poll_until(
                lambda: self.lean.json("GET", url),
                url,
                lambda body: body["status"] != "running",
                deadline=SETTLE_DEADLINE,
            )
            status = body["status"]
        except TimeoutError:
            status = f"running {SETTLE_DEADLINE:.0f}s after the cancel"
        if status == "cancelled":
            timed.append(time.perf_counter() - began)
            if timed is self.ours:
                self.ours_phases.append(await postgres_phases(self.db, job_id, wall, time.time()))
        else:
            # Accepted (202) yet not cancelled: kept as evidence rather than timed.
            self.anomalies.append(await anomaly(handle, status))

    async def bare(self, sample: float) -> None:
        handle = await self.client.start_workflow(
            BareWorkflow.run, id=f"bench-bare-{uuid.uuid4().hex}", task_queue=self.raw_queue
        )
        await heartbeating(handle)
        if sample:
            self.raw_hb.append(await heartbeat_rate(handle, sample))
        began, wall = time.perf_counter(), time.time()
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        self.raw.append(time.perf_counter() - began)
        self.raw_phases.append(await phases(handle, wall, time.time()))


async def measure(stack: DevStack, raw_throttle_ms: int, sizes: Sizes) -> Runs:
    """Docket's cancels on `stack` (at its own throttle), alternating with a bare Temporal
    workflow heartbeating every `raw_throttle_ms`."""
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    throttle = timedelta(milliseconds=raw_throttle_ms)
    async with (
        api_client(stack) as api,
        lean_http(stack.api_url, stack.credentials) as lean,
        bare_worker(client, throttle) as queue,
        sql(stack) as db,
    ):
        project = await api.project("cancel-latency")
        file_id = await api.upload(project, "big.pdf", big_pdf())
        runs = Runs(api, lean, db, client, project, file_id, queue)
        # A big parse result whose rechunk is still running when it is cancelled.
        source = await insert_parse_result(db, project, pages=sizes.cancel_rechunk_pages)
        rechunk = f"/v1/projects/{project}/parse/{source}/rechunk"
        for n in range(sizes.cancel_runs + sizes.warmup):
            sample = sizes.heartbeat_sample_s if n < sizes.heartbeat_samples else 0.0
            await runs.docket(sample)
            await runs.bare(sample)
            job = await api.json("POST", rechunk, json={"chunking_options": {"chunk_size": 64}})
            await runs.docket(0.0, job["id"])
        async with sql(stack) as conn:
            runs.conn = conn
            for _ in range(min(DROPPED_RUNS, sizes.cancel_runs)):
                await runs.docket(0.0, cut=True)
            runs.conn = None
        # Warm-up rounds (first workflow of each kind, cold caches) are left out.
        runs.ours, runs.raw = runs.ours[sizes.warmup :], runs.raw[sizes.warmup :]
        runs.chunk = runs.chunk[sizes.warmup :]
        runs.ours_phases = runs.ours_phases[sizes.warmup :]
        runs.raw_phases = runs.raw_phases[sizes.warmup :]
        return runs


def rows_for(throttle_ms: int, runs: Runs, default: bool) -> list[Row]:
    label = f"throttle {throttle_ms} ms"
    if default:
        label += f", raw at {RAW_THROTTLE_MS} ms"
    latency = Row(
        BENCH,
        f"POST cancel → cancelled in GET ({label})",
        Summary.latency(runs.ours),
        Summary.latency(runs.raw),
    )
    chunk = Row(
        BENCH,
        f"POST cancel of a running rechunk → cancelled in GET ({label})",
        Summary.latency(runs.chunk),
        Summary.latency(runs.raw),
    )
    dropped = Row(
        BENCH,
        f"POST cancel → cancelled in GET, LISTEN connections cut just before ({label})",
        Summary.latency(runs.dropped),
        None,
    )
    if default:
        dropped.target = f"p50 ≤ {DROPPED_TARGET_P50_MS:.0f} ms"
        dropped.met = within(dropped, DROPPED_TARGET_P50_MS, None)
        for row in (latency, chunk):
            row.target = f"p50 ≤ {TARGET_P50_MS:.0f} ms; ≤ {TARGET_RATIO}x raw"
            row.met = within(row, TARGET_P50_MS, TARGET_RATIO)
    rates = [
        Row(
            BENCH,
            f"heartbeat RPCs/s per running activity ({label})",
            Summary.of(runs.ours_hb, "hb/s"),
            Summary.of(runs.raw_hb, "hb/s"),
        )
        for _ in runs.ours_hb[:1]  # only when sampled
    ]
    latency.extra = {
        "p99_ms": round(percentile([s * 1000 for s in runs.ours], 0.99), 1),
        "docket_phases_p50_ms": medians(runs.ours_phases),
        "raw_phases_p50_ms": medians(runs.raw_phases),
    }
    if runs.anomalies:
        latency.extra["cancels_not_honoured"] = runs.anomalies
    return [latency, chunk, *rates] + ([dropped] if runs.dropped else [])


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    default = stack.settings.heartbeat_throttle_ms
    rows: list[Row] = []
    for throttle_ms in sorted({default, *sizes.throttles_ms}):
        if throttle_ms == default:
            # The baseline: Temporal alone at the old default throttle.
            runs = asyncio.run(measure(stack, RAW_THROTTLE_MS, sizes))
        else:
            with sibling_stack(stack, heartbeat_throttle_ms=throttle_ms) as sibling:
                runs = asyncio.run(measure(sibling, throttle_ms, sizes))
        rows += rows_for(throttle_ms, runs, throttle_ms == default)
    return rows
