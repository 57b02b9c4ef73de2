"""The webhook endpoints: register (a generated or given secret, shown once), list, get,
delete; validation; tenancy; refused targets (not http(s), private, loopback, link-local)."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.deps import AppState
from core.settings import Settings
from core.storage import FileStorage
from core.webhooks import RefusedTarget, check_target
from db.accounts import create_key
from tests.api.test_webhooks import EVERY_EVENT, Hooks, new_project, register


@pytest.fixture(scope="module")
async def hooks(settings: Settings, pool: asyncpg.Pool, client: Client) -> AsyncIterator[Hooks]:
    """An API that accepts local targets (no worker: nothing is delivered here)."""
    tuned = settings.model_copy(update={"webhooks_allow_private": True})
    app = create_app(tuned, AppState(tuned, pool, client, FileStorage(tuned.storage_dir)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as api:
        yield Hooks(api, tuned, client, None)


async def test_register_list_get_delete(hooks: Hooks, headers: dict[str, str]) -> None:
    project = await new_project(hooks, headers)
    base = f"/v1/projects/{project}/webhooks"
    created = await register(hooks, headers, project, "https://example.com/hook")
    assert created["secret"].startswith("whsec_") and created["events"] == sorted(EVERY_EVENT)
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    mine = await register(hooks, headers, project, "https://example.com/b", secret=given)
    assert mine["secret"] == given
    shown = await hooks.api.get(f"{base}/{created['id']}", headers=headers)
    assert shown.status_code == 200 and "secret" not in shown.json()
    listed = (await hooks.api.get(base, headers=headers)).json()
    assert {w["id"] for w in listed["items"]} == {created["id"], mine["id"]}
    assert all("secret" not in w for w in listed["items"])
    gone = await hooks.api.delete(f"{base}/{created['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert (await hooks.api.get(f"{base}/{created['id']}", headers=headers)).status_code == 404
    assert (await hooks.api.delete(f"{base}/{created['id']}", headers=headers)).status_code == 404
    listed = (await hooks.api.get(base, headers=headers)).json()
    assert [w["id"] for w in listed["items"]] == [mine["id"]]
    for bad in (
        {"url": "https://example.com", "events": ["job.exploded"]},
        {"url": "https://example.com", "events": []},
        {"url": "https://example.com", "events": EVERY_EVENT, "secret": "short"},
    ):
        refused = await hooks.api.post(base, json=bad, headers=headers)
        assert refused.status_code == 422, bad


async def test_another_accounts_webhooks_are_not_found(
    hooks: Hooks, headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    project = await new_project(hooks, headers)
    hook = await register(hooks, headers, project, "https://example.com/hook")
    async with pool.acquire() as conn:
        other = await create_key(conn, f"other-{uuid.uuid4().hex}")
    stranger = {"x-api-key": other.api_key, "x-selected-account-id": other.account_id}
    base = f"/v1/projects/{project}/webhooks"
    for method, url in (
        ("GET", base),
        ("GET", f"{base}/{hook['id']}"),
        ("DELETE", f"{base}/{hook['id']}"),
        ("GET", f"{base}/{hook['id']}/deliveries"),
    ):
        response = await hooks.api.request(method, url, headers=stranger)
        assert response.status_code == 404, (method, url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_private_and_non_http_targets_are_refused(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, url: str
) -> None:
    """The suite's own settings do not allow private targets (the default)."""
    body = {"url": url, "events": ["job.succeeded"]}
    refused = await api.post(f"/v1/projects/{project}/webhooks", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "url"]


async def test_a_public_address_is_accepted_and_refusal_is_checked_at_delivery_too() -> None:
    await check_target("https://93.184.215.14/hook", allow_private=False)
    with pytest.raises(RefusedTarget):
        await check_target("http://localhost:9/hook", allow_private=False)
    await check_target("http://localhost:9/hook", allow_private=True)
