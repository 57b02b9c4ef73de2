"""Webhooks: endpoints of a project, their deliveries and every attempt.

Deliveries are written by the statement that ends a job (the outbox trigger of migration
0009); the dispatcher (docket/reconciler.py) starts one Temporal workflow per delivery, and
its activity (activities/webhooks.py) reads what to send here and records each attempt.
"""

from dataclasses import dataclass

from core.webhooks import DeliveryStatus
from db.accounts import Key, ProjectGate, Verdict
from db.jobs import JOB_WITH_HISTORY
from db.pagination import Filters, Listing, Page, PageRequest, fetch_page
from db.pool import Conn

WEBHOOK_FIELDS = """'id', w.id, 'object', 'webhook', 'project_id', w.project_id, 'url', w.url,
    'events', to_json(w.events), 'created_at', w.created_at"""
WEBHOOK_JSON = f"json_build_object({WEBHOOK_FIELDS})::text"

INSERT_WEBHOOK = f"""
WITH w AS (
    INSERT INTO webhooks (id, project_id, url, events, secret) VALUES ($1, $2, $3, $4, $5)
    RETURNING *
)
SELECT json_build_object({WEBHOOK_FIELDS}, 'secret', w.secret)::text FROM w
"""
LIVE = "w.deleted_at IS NULL"
WEBHOOK_IN_PROJECT = f"""
SELECT {WEBHOOK_JSON} FROM webhooks w WHERE w.id = $1 AND w.project_id = $2 AND {LIVE}
"""
# Deleted endpoints keep their rows (their deliveries refer to them); nothing new is sent.
DELETE_WEBHOOK = f"""
UPDATE webhooks w SET deleted_at = clock_timestamp()
WHERE w.id = $1 AND w.project_id = $2 AND {LIVE} RETURNING w.id
"""
LISTING = Listing.of("webhooks", "w", WEBHOOK_JSON)

DELIVERY_JSON = """json_build_object(
    'id', d.id, 'object', 'webhook_delivery', 'webhook_id', d.webhook_id, 'job_id', d.job_id,
    'event', d.event, 'status', d.status, 'created_at', d.created_at,
    'completed_at', d.completed_at,
    'attempts', COALESCE((SELECT json_agg(json_build_object(
        'attempt', a.attempt, 'started_at', a.started_at, 'duration_ms', a.duration_ms,
        'status_code', a.status_code, 'error', a.error) ORDER BY a.attempt)
        FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::json))::text"""
DELIVERIES = Listing.of("webhook_deliveries", "d", DELIVERY_JSON)

# What one attempt sends: the endpoint, its secret and the job as GET /jobs/{id} shows it.
TO_SEND = f"""
SELECT d.status, w.url, w.secret, w.deleted_at IS NOT NULL AS deleted, d.event,
       {JOB_WITH_HISTORY} AS job
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN jobs j ON j.id = d.job_id
WHERE d.id = $1
"""
START_ATTEMPT = """
INSERT INTO webhook_attempts (delivery_id, attempt) VALUES ($1, $2)
ON CONFLICT (delivery_id, attempt) DO NOTHING
"""
FINISH_ATTEMPT = """
UPDATE webhook_attempts SET duration_ms = $3, status_code = $4, error = $5
WHERE delivery_id = $1 AND attempt = $2
"""
SETTLE = """
UPDATE webhook_deliveries SET status = $2, completed_at = clock_timestamp()
WHERE id = $1 AND status = $3
"""
UNDISPATCHED = """
SELECT id FROM webhook_deliveries WHERE dispatched_at IS NULL ORDER BY created_at LIMIT $1
"""
MARK_DISPATCHED = """
UPDATE webhook_deliveries SET dispatched_at = clock_timestamp()
WHERE id = ANY($1::text[]) AND dispatched_at IS NULL
"""


@dataclass(frozen=True)
class NewWebhook:
    id: str
    project_id: str
    url: str
    events: list[str]
    secret: str


@dataclass(frozen=True)
class ToSend:
    status: str
    url: str
    secret: str
    deleted: bool
    event: str
    job: str  # JSON text


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempt: int
    duration_ms: int
    status_code: int | None
    error: str | None


async def insert(conn: Conn, hook: NewWebhook) -> str:
    """The new endpoint's JSON, with its secret (shown this once)."""
    body: str = await conn.fetchval(
        INSERT_WEBHOOK, hook.id, hook.project_id, hook.url, hook.events, hook.secret
    )
    return body


async def get_for(conn: Conn, key: Key, webhook_id: str, project_id: str) -> Verdict:
    return await key.read_in_project(conn, project_id, WEBHOOK_IN_PROJECT, webhook_id)


async def delete(conn: Conn, webhook_id: str, project_id: str) -> bool:
    return await conn.fetchval(DELETE_WEBHOOK, webhook_id, project_id) is not None


async def list_page(
    conn: Conn, project_id: str, page: PageRequest, gate: ProjectGate
) -> tuple[Page, int]:
    where = Filters.start()
    where.add("w.project_id = {}", project_id)
    where.add(LIVE)
    return await fetch_page(conn, LISTING, where, page, gate)


async def deliveries_page(conn: Conn, webhook_id: str, page: PageRequest) -> tuple[Page, int]:
    """The caller has checked the endpoint (`get_for`)."""
    where = Filters.start()
    where.add("d.webhook_id = {}", webhook_id)
    return await fetch_page(conn, DELIVERIES, where, page)


async def to_send(conn: Conn, delivery_id: str) -> ToSend | None:
    row = await conn.fetchrow(TO_SEND, delivery_id)
    return None if row is None else ToSend(**dict(row))


async def start_attempt(conn: Conn, delivery_id: str, attempt: int) -> None:
    await conn.execute(START_ATTEMPT, delivery_id, attempt)


async def finish_attempt(conn: Conn, attempt: Attempt) -> None:
    await conn.execute(
        FINISH_ATTEMPT,
        attempt.delivery_id,
        attempt.attempt,
        attempt.duration_ms,
        attempt.status_code,
        attempt.error,
    )


async def settle(conn: Conn, delivery_id: str, status: str) -> bool:
    """pending → succeeded | failed, once."""
    done = await conn.execute(SETTLE, delivery_id, status, DeliveryStatus.PENDING)
    return str(done).endswith(" 1")


async def undispatched(conn: Conn, limit: int) -> list[str]:
    return [row["id"] for row in await conn.fetch(UNDISPATCHED, limit)]


async def mark_dispatched(conn: Conn, delivery_ids: list[str]) -> None:
    await conn.execute(MARK_DISPATCHED, delivery_ids)
