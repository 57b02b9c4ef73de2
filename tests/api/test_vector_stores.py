"""Vector stores through the API on real servers (Postgres with pgvector, Temporal, the
wheel-shipped model): every endpoint, tenancy, indexing progress, search and filters."""

import asyncpg
import httpx

from db.accounts import create_key
from tests.helpers import get_ok, upload, wait_status
from tests.vector_helpers import (
    TOPICS,
    add_results,
    chunk,
    create_store,
    insert_result,
    live_chunks,
    search,
)

TERMINAL = {"succeeded", "failed", "cancelled", "partially_succeeded"}
MARKDOWN = b"# Rivers\n\nRivers carry water from mountains down to the sea through valleys.\n"


def stores(project: str) -> str:
    return f"/v1/projects/{project}/vector-stores"


async def test_store_lifecycle_and_listing(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    first = await create_store(api, headers, project, "alpha")
    assert first["id"].startswith("vs_") and first["object"] == "vector_store"
    assert (first["engine"], first["embedding_model"], first["dimensions"]) == (
        "docket",
        "docket/wordllama-256",
        256,
    )
    assert first["file_counts"] == {
        "total": 0,
        "pending": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }
    again = await api.post(stores(project), json={"name": "alpha"}, headers=headers)
    assert again.status_code == 409
    second = await create_store(api, headers, project, "beta")
    assert await get_ok(api, headers, f"{stores(project)}/{first['id']}") == first

    listed = await get_ok(api, headers, f"{stores(project)}?page_size=1&sort_order=asc")
    assert [item["id"] for item in listed["items"]] == [first["id"]]
    assert listed["total_count"] == 2 and listed["next_token"]
    rest = await get_ok(
        api,
        headers,
        f"{stores(project)}?page_size=1&sort_order=asc&continuation_token={listed['next_token']}",
    )
    assert [item["id"] for item in rest["items"]] == [second["id"]]
    named = await get_ok(api, headers, f"{stores(project)}?name=beta")
    assert [item["id"] for item in named["items"]] == [second["id"]]
    by_id = await get_ok(api, headers, f"{stores(project)}?ids={first['id']}&engine=docket")
    assert [item["id"] for item in by_id["items"]] == [first["id"]]
    none = await get_ok(api, headers, f"{stores(project)}?engine=openai")
    assert none["items"] == [] and none["total_count"] == 0

    deleted = await api.delete(f"{stores(project)}/{first['id']}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "Vector store deleted successfully"}
    twice = await api.delete(f"{stores(project)}/{first['id']}", headers=headers)
    assert twice.status_code == 404
    gone = await api.get(f"{stores(project)}/{first['id']}", headers=headers)
    assert gone.status_code == 404


async def test_tenancy_every_endpoint(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    other = await api.post("/v1/projects", json={"name": "other"}, headers=headers)
    other_project = other.json()["id"]
    async with pool.acquire() as conn:
        created = await create_key(conn, "intruder-" + store)
    intruder = {"x-api-key": created.api_key, "x-selected-account-id": created.account_id}
    result = await insert_result(pool, project, [chunk("anything")])
    calls = [
        ("GET", f"{stores(project)}/{store}", None),
        ("DELETE", f"{stores(project)}/{store}", None),
        ("POST", f"{stores(project)}/{store}/files", {"parse_result_ids": [result]}),
        ("POST", f"{stores(project)}/{store}/search", {"query": "anything"}),
    ]
    for method, url, body in calls:
        # Another account (its own key) and another project of the same account: 404.
        foreign = await api.request(method, url, json=body, headers=intruder)
        assert foreign.status_code == 404, (method, url, foreign.text)
        moved = url.replace(project, other_project)
        elsewhere = await api.request(method, moved, json=body, headers=headers)
        assert elsewhere.status_code == 404, (method, moved, elsewhere.text)
    listed = await api.get(stores(project), headers=intruder)
    assert listed.status_code == 404
    # Another project's parse result cannot be added.
    theirs = await insert_result(pool, other_project, [chunk("theirs")])
    response = await api.post(
        f"{stores(project)}/{store}/files", json={"parse_result_ids": [theirs]}, headers=headers
    )
    assert response.status_code == 404 and theirs in response.json()["detail"]


async def test_index_search_filters_and_replace(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> None:
    store = (await create_store(api, headers, project))["id"]
    file = await upload(api, headers, project, "rivers.md", MARKDOWN, "text/markdown")
    parse = await api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}, headers=headers
    )
    parsed = await wait_status(api, headers, project, parse.json()["id"], TERMINAL)
    river_result = parsed["result"]["parse_result_id"]
    topics = await insert_result(pool, project, [chunk(text) for text in TOPICS.values()])

    job = await add_results(
        api, headers, project, store, [river_result, topics], metadata={"shelf": "a"}
    )
    assert job["operation"] == "vector_store" and job["source_id"] == store
    assert job["progress"]["total"] == 2
    done = await wait_status(api, headers, project, job["id"], TERMINAL)
    assert done["status"] == "succeeded", done
    progress = done["progress"]
    assert (progress["succeeded"], progress["pending"]) == (2, 0)
    assert {c["source_document_id"] for c in progress["child_jobs"]} == {river_result, topics}
    assert {c["parse_result_id"] for c in progress["child_jobs"]} == {river_result, topics}
    entity = await get_ok(api, headers, f"{stores(project)}/{store}")
    assert entity["file_counts"]["succeeded"] == 2 and entity["file_counts"]["total"] == 2
    assert await live_chunks(pool, store) == 1 + len(TOPICS)

    for query_type in ("semantic", "lexical", "hybrid"):
        found = await search(
            api, headers, project, store, query="bread baked in an oven", query_type=query_type
        )
        assert found.status_code == 200, found.text
        hits = found.json()["chunks"]
        assert hits[0]["content"] == TOPICS["bakery"], (query_type, hits)
        assert hits[0]["parse_result_id"] == topics and hits[0]["metadata"] == {"shelf": "a"}
        assert hits[0]["blocks"][0]["page_number"] == 1
        scores = [hit["score"] for hit in hits]
        assert scores == sorted(scores, reverse=True)

    only_river = await search(
        api, headers, project, store, query="bread", filters={"file_id": file["id"]}
    )
    assert [h["parse_result_id"] for h in only_river.json()["chunks"]] == [river_result]
    by_result = await search(
        api, headers, project, store, query="water", filters={"parse_result_id": topics}, top_k=2
    )
    assert {h["parse_result_id"] for h in by_result.json()["chunks"]} == {topics}
    assert len(by_result.json()["chunks"]) == 2
    no_shelf = await search(
        api, headers, project, store, query="water", filters={"metadata": {"shelf": "b"}}
    )
    assert no_shelf.json()["chunks"] == []

    # Re-adding a parse result replaces its chunks: no duplicates, one file counted once.
    again = await add_results(api, headers, project, store, [topics], metadata={"shelf": "b"})
    redone = await wait_status(api, headers, project, again["id"], TERMINAL)
    assert redone["status"] == "succeeded"
    assert await live_chunks(pool, store) == 1 + len(TOPICS)
    shelf_b = await search(
        api, headers, project, store, query="water", filters={"metadata": {"shelf": "b"}}
    )
    assert len(shelf_b.json()["chunks"]) == len(TOPICS)
    entity = await get_ok(api, headers, f"{stores(project)}/{store}")
    assert entity["file_counts"]["total"] == 2

    listed = await get_ok(api, headers, f"/v1/projects/{project}/jobs?operation=vector_store")
    assert {item["id"] for item in listed["items"]} >= {job["id"], again["id"]}
