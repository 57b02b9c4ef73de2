"""The reconciler: no job stays `pending` forever because its workflow start was lost.

The API inserts the job row and then starts its workflow; a crash between the two leaves a
row with no workflow. Every worker runs this loop: it finds top-level jobs still pending
after `reconcile_after_seconds` and starts their workflows with workflow id = job id and
the USE_EXISTING conflict policy, so a job that does have a running workflow is untouched
and no job ever runs twice, however many workers reconcile at once.

(A composition root like docket/worker.py: it wires the data layer to the workflow
starters, so it imports from the layers above the core.)
"""

import asyncio
import logging

import asyncpg
from temporalio.client import Client

from core.settings import Settings
from db import jobs
from workflows.client import start_job
from workflows.registry import Registry

log = logging.getLogger(__name__)

BATCH_LIMIT = 500


async def reconcile_once(
    pool: asyncpg.Pool, client: Client, settings: Settings, registry: Registry
) -> int:
    """Start the workflows of stale pending jobs; returns how many were (re)started."""
    stale = await jobs.stale_pending(pool, settings.reconcile_after_seconds, BATCH_LIMIT)
    for job_id, operation in stale:
        await start_job(client, settings, registry, job_id, operation)
        log.warning("reconciler started the workflow of pending job %s", job_id)
    return len(stale)


async def reconcile_forever(
    pool: asyncpg.Pool, client: Client, settings: Settings, registry: Registry
) -> None:
    while True:
        try:
            await reconcile_once(pool, client, settings, registry)
        except Exception:
            # An outage of Postgres or Temporal: try again next round, never die.
            log.exception("reconciler round failed")
        await asyncio.sleep(settings.reconcile_every_seconds)
