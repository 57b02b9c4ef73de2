"""Parse throughput: a corpus of dense PDFs (10 x 20 pages) through the stack's worker, in
pages/s: from the first POST .../parse to the last job `succeeded`.

Baseline: pypdfium2 text extraction (text page + get_text_range) of the same files in one
process. The target is per worker process, and the stack runs one worker. A second figure,
Docket's engine in this process (iter_pages + chunk_pages, what the activity runs), splits
the gap between the engine and the service around it. Rounds alternate.
"""

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from bench.client import Api, api_client, settled, sql
from bench.corpus import corpus
from bench.pdf_micro import engine_parse, raw_extract
from bench.sizes import Sizes
from bench.stats import Row, Summary
from docket.devstack import DevStack

NAME = "parse_throughput"
BENCH = "parse throughput"
TARGET_RATIO = 0.7
ENGINE_TARGET_RATIO = 0.8  # issue 14: the engine alone at >= 0.8x raw text extraction
WORKER_PROCESSES = 1  # DevStack runs one `docket worker`


async def through_worker(
    api: Api, conn: asyncpg.Connection, project: str, file_ids: list[str]
) -> None:
    job_ids = await asyncio.gather(*(api.parse(project, file_id) for file_id in file_ids))
    assert await settled(conn, job_ids) == len(job_ids), "some parse jobs did not succeed"


def timed_sync(call: Callable[[list[Path]], int], paths: list[Path]) -> float:
    began = time.perf_counter()
    call(paths)
    return time.perf_counter() - began


async def measure(stack: DevStack, sizes: Sizes, paths: list[Path]) -> list[Row]:
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("parse-throughput")
        file_ids = [await api.upload(project, p.name, p.read_bytes()) for p in paths]
        walls: dict[str, list[float]] = {"docket": [], "raw": [], "engine": []}
        for round_ in range(sizes.parse_rounds + 1):
            began = time.perf_counter()
            await through_worker(api, conn, project, file_ids)
            docket = time.perf_counter() - began
            raw = timed_sync(raw_extract, paths)
            engine = timed_sync(engine_parse, paths)
            if round_:  # round 0 warms up (imports, pdfium, the worker's first jobs)
                for kind, seconds in (("docket", docket), ("raw", raw), ("engine", engine)):
                    walls[kind].append(seconds)
    pages = sizes.corpus_docs * sizes.corpus_pages
    per_worker = [seconds * WORKER_PROCESSES for seconds in walls["docket"]]
    raw = Summary.rate(pages, walls["raw"], "pages/s")
    ours = Row(
        BENCH,
        f"{pages}-page PDF corpus through the worker, per worker process",
        Summary.rate(pages, per_worker, "pages/s"),
        raw,
        f"≥ {TARGET_RATIO}x raw",
    )
    ours.met = ours.ratio is not None and ours.ratio >= TARGET_RATIO
    alone = Row(
        BENCH,
        "Docket engine in one process (iter_pages + chunk_pages)",
        Summary.rate(pages, walls["engine"], "pages/s"),
        raw,
        f"≥ {ENGINE_TARGET_RATIO}x raw",
    )
    alone.met = alone.ratio is not None and alone.ratio >= ENGINE_TARGET_RATIO
    return [ours, alone]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="docket-corpus-") as tmp:
        paths = []
        for n, content in enumerate(corpus(sizes.corpus_docs, sizes.corpus_pages)):
            path = Path(tmp) / f"dense-{n}.pdf"
            path.write_bytes(content)
            paths.append(path)
        return asyncio.run(measure(stack, sizes, paths))
