"""GET /metrics after a parse, a batch and a cancel: the counters move by the right amounts.

The API and the worker of the suite share one process, so one scrape shows both; every
figure is a difference between two scrapes around the test's own jobs."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import create_job, eventually, upload, wait_status

Sample = tuple[str, tuple[tuple[str, str], ...]]
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}
BATCH_SIZE = 3


async def scrape(api: httpx.AsyncClient) -> dict[Sample, float]:
    response = await api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[Sample, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def key(name: str, **labels: str) -> Sample:
    return (name, tuple(sorted(labels.items())))


def moved(before: dict[Sample, float], after: dict[Sample, float], sample: Sample) -> float:
    return after.get(sample, 0.0) - before.get(sample, 0.0)


async def test_metrics_count_a_parse_a_batch_and_a_cancel(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, big_pdf: bytes
) -> None:
    before = await scrape(api)
    text = await upload(api, headers, project, "a.txt", b"hello metrics", "text/plain")
    parse = await create_job(api, headers, project, "parse", {"source_document_id": text["id"]})
    ids = [
        (await upload(api, headers, project, f"b{n}.txt", b"batch", "text/plain"))["id"]
        for n in range(BATCH_SIZE)
    ]
    batch = await create_job(api, headers, project, "parse/batch", {"source_document_ids": ids})
    big = await upload(api, headers, project, "big.pdf", big_pdf, "application/pdf")
    doomed = await create_job(api, headers, project, "parse", {"source_document_id": big["id"]})
    await wait_status(api, headers, project, doomed["id"], {"running"})
    cancel = await api.post(f"/v1/projects/{project}/jobs/{doomed['id']}/cancel", headers=headers)
    assert cancel.status_code == 202, cancel.text
    for job in (parse, batch, doomed):
        await wait_status(api, headers, project, job["id"], TERMINAL)
    # A process counts a transition once its statement has committed (and it has read the
    # job's timing), so a GET can see the last job terminal a moment before its counter moves.
    last = [
        key("docket_job_transitions_total", operation="parse", status="cancelled"),
        key("docket_job_transitions_total", operation="batch_parse", status="succeeded"),
    ]
    after = await eventually(
        lambda: scrape(api), lambda now: all(moved(before, now, s) >= 1 for s in last)
    )

    def jobs(operation: str, status: str) -> float:
        return moved(
            before, after, key("docket_job_transitions_total", operation=operation, status=status)
        )

    # The parse, the batch's children and the doomed parse started; all but it succeeded.
    assert jobs("parse", "running") == 1 + BATCH_SIZE + 1
    assert jobs("parse", "succeeded") == 1 + BATCH_SIZE
    assert jobs("parse", "cancelled") == 1
    assert jobs("batch_parse", "running") == 1
    assert jobs("batch_parse", "succeeded") == 1
    durations = key("docket_job_duration_seconds_count", operation="parse", status="succeeded")
    assert moved(before, after, durations) == 1 + BATCH_SIZE
    cancels = key("docket_job_cancel_latency_seconds_count", operation="parse")
    assert moved(before, after, cancels) == 1
    assert moved(before, after, key("docket_parse_pages_total", operation="parse")) >= 1 + 3

    # Requests by route template (not the path), method and status code.
    def requests(route: str, status: str, name: str = "docket_http_requests_total") -> float:
        labels = {"route": f"/v1/projects/{{project_id}}/{route}", "method": "POST"}
        if status:
            labels["status"] = status
        return moved(before, after, key(name, **labels))

    assert requests("parse", "200") == 2
    assert requests("jobs/{job_id}/cancel", "202") == 1
    assert requests("parse/batch", "", "docket_http_request_duration_seconds_count") == 1
    assert after[key("docket_http_requests_in_flight")] == 1  # the scrape itself
    assert after[key("docket_db_pool_connections", state="size")] >= 1


async def test_unmatched_paths_share_one_series(api: httpx.AsyncClient) -> None:
    before = await scrape(api)
    for n in range(3):
        assert (await api.get(f"/no/such/path/{n}")).status_code == 404
    after = await scrape(api)
    unmatched = key("docket_http_requests_total", route="unmatched", method="GET", status="404")
    assert moved(before, after, unmatched) == 3
    assert not [name for name, labels in after if "/no/such" in str(labels)]
