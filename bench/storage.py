"""Storage backends side by side: upload throughput (MB/s) and the parse time of a 200-page
PDF, local directory vs S3 (moto's stand-alone server in a process of its own, objects in
memory), in one run on one machine. The target: the S3 figures within 1.5x of local.

The local figures come from the stack's own API and worker (`DOCKET_STORAGE_URL` unset);
the S3 ones from a sibling API and worker on the same Postgres and Temporal with
`DOCKET_STORAGE_URL=s3://…` (bench/stack.py `sibling_stack`). Both go over real HTTP to
real processes, and the rounds alternate, so the machine's noise hits both alike. An
upload streams through the API into the store (to S3 in multipart parts); a parse is timed
from its POST to `succeeded` in Postgres, so it includes the worker's streamed local copy
of the object on S3. A third figure, `Storage.store` alone in the bench process (no HTTP),
splits what the backend costs from the upload path around it.

What moto is not: S3 across a network. Its loopback latency is far below a real store's, so
these figures bound Docket's own overhead on the S3 path (streaming, hashing, the part
uploads and the rename), not what a remote bucket will do.
"""

import asyncio
import contextlib
import functools
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from unittest import mock

import asyncpg
import boto3
import httpx
import obstore

from bench.client import Api, Probe, after, api_client, interleave, settled, sql, whole
from bench.corpus import corpus
from bench.sizes import Sizes
from bench.stack import sibling_stack
from bench.stats import Row, Summary, within
from core.settings import get_settings
from core.storage import FileStorage, Storage, open_storage
from core.storage_s3 import S3Storage
from docket.devstack import DevStack
from docket.embedded import find_free_port
from tests.storage.s3_server import CREDENTIALS  # moto checks no signatures: any will do

NAME = "storage"
BENCH = "storage backends"
TARGET_RATIO = 1.5  # issue 19: the S3 figures within 1.5x of local
BUCKET = "docket-bench"
PREFIX = "uploads"
BYTES_PER_MB = 1_000_000
MIB = 1024 * 1024
MOTO_START_S = 30.0
MOTO_POLL_S = 0.1


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """moto's stand-alone S3 server (`python -m moto.server`) on a free loopback port, with
    the bench's bucket (made with the AWS_* credentials of the environment); yields its
    endpoint URL. A process of its own: in this one its request handling would share the
    bench's GIL."""
    port = find_free_port(0)
    endpoint = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + MOTO_START_S
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not come up (exit code {proc.poll()})") from None
                time.sleep(MOTO_POLL_S)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait()


def uploader(api: Api, project: str, size: int) -> Probe:
    async def upload() -> None:
        # Fresh bytes each time: every upload is a new blob, not a deduplicated one.
        await api.upload(project, "upload.bin", os.urandom(size))

    return whole(upload)


def parser(api: Api, conn: asyncpg.Connection, project: str, file_id: str) -> Probe:
    async def parse() -> None:
        job_id = await api.parse(project, file_id)
        assert await settled(conn, [job_id]) == 1, f"parse job {job_id} did not succeed"

    return whole(parse)


async def fresh_bytes(size: int) -> bytes:
    # Fresh bytes each time (a new blob, never deduplicated), made before the clock starts.
    return await asyncio.to_thread(os.urandom, size)


def storer(storage: Storage, size: int) -> Probe:
    async def store(data: bytes) -> None:
        await storage.store(io.BytesIO(data), size)

    return after(functools.partial(fresh_bytes, size), store)


def raw_putter(storage: S3Storage, size: int) -> Probe:
    """The store's own speed: one PUT of the bytes through the same client, nothing else
    (no digest, no existence check, no parts): what no S3 backend can beat."""

    async def put(data: bytes) -> None:
        key = f"raw/{uuid.uuid4().hex}"
        await obstore.put_async(storage.bucket, key, data, use_multipart=False)

    return after(functools.partial(fresh_bytes, size), put)


async def backends_alone(stack: DevStack, sizes: Sizes, endpoint: str) -> list[list[float]]:
    """`Storage.store` of the same size in this process, local vs S3: the backends without
    the HTTP upload around them."""
    s3 = open_storage(get_settings(storage_url=f"s3://{BUCKET}/{PREFIX}", s3_endpoint_url=endpoint))
    assert isinstance(s3, S3Storage)
    local = FileStorage(stack.data_dir / "bench-storage")
    size = sizes.storage_upload_mib * MIB
    return await interleave(
        sizes.storage_rounds,
        storer(local, size),
        storer(s3, size),
        raw_putter(s3, size),
        warmup=sizes.warmup,
    )


async def measure(local: DevStack, s3: DevStack, sizes: Sizes, endpoint: str) -> list[Row]:
    upload_bytes = sizes.storage_upload_mib * MIB
    [pdf] = corpus(1, sizes.storage_pdf_pages)
    async with (
        api_client(local) as on_disk,
        api_client(s3) as on_s3,
        sql(local) as conn,
    ):
        sides = [(on_disk, await on_disk.project("storage-local"))]
        sides.append((on_s3, await on_s3.project("storage-s3")))
        uploads = await interleave(
            sizes.storage_rounds,
            *(uploader(api, project, upload_bytes) for api, project in sides),
            warmup=sizes.warmup,
        )
        files = [await api.upload(project, "long.pdf", pdf) for api, project in sides]
        parses = await interleave(
            sizes.storage_rounds,
            *(
                parser(api, conn, project, f)
                for (api, project), f in zip(sides, files, strict=True)
            ),
            warmup=sizes.warmup,
        )
    alone = await backends_alone(local, sizes, endpoint)
    megabytes = upload_bytes / BYTES_PER_MB
    local_up, s3_up = (Summary.rate(megabytes, walls, "MB/s") for walls in uploads)
    local_store, s3_store, s3_put = (Summary.rate(megabytes, walls, "MB/s") for walls in alone)
    local_parse, s3_parse = map(Summary.latency, parses)
    upload_row = Row(
        BENCH,
        f"upload of {sizes.storage_upload_mib} MiB through the API, S3 (moto) vs local",
        s3_up,
        local_up,
        f"≥ {1 / TARGET_RATIO:.2f}x local (within {TARGET_RATIO}x)",
    )
    upload_row.met = upload_row.ratio is not None and upload_row.ratio >= 1 / TARGET_RATIO
    parse_row = Row(
        BENCH,
        f"parse of a {sizes.storage_pdf_pages}-page PDF, POST → succeeded, S3 (moto) vs local",
        s3_parse,
        local_parse,
        f"≤ {TARGET_RATIO}x local",
    )
    parse_row.met = within(parse_row, ratio_max=TARGET_RATIO)
    store_row = Row(
        BENCH,
        f"Storage.store of {sizes.storage_upload_mib} MiB in one process (no HTTP), "
        "S3 (moto) vs local",
        s3_store,
        local_store,
    )
    put_row = Row(
        BENCH,
        f"Storage.store of {sizes.storage_upload_mib} MiB on S3 (moto) vs moto's own PUT of "
        "the same bytes",
        s3_store,
        s3_put,
    )
    return [upload_row, parse_row, store_row, put_row]


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    with mock.patch.dict(os.environ, CREDENTIALS), moto_process() as endpoint:
        overrides = {"storage_url": f"s3://{BUCKET}/{PREFIX}", "s3_endpoint_url": endpoint}
        with sibling_stack(stack, **overrides) as s3:
            return asyncio.run(measure(stack, s3, sizes, endpoint))
