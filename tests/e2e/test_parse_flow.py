"""End to end through the API with a real worker: upload → parse → result."""

import httpx

from tests.helpers import upload, wait_status

TEXT = b"Docket parses documents.\n\nSecond paragraph with more words in it.\n"


async def test_parse_text_file_to_result(
    api: httpx.AsyncClient, headers: dict[str, str], project: str
) -> None:
    file = await upload(api, headers, project, "notes/readme.txt", TEXT, "text/plain")
    assert file["mime_type"] == "text/plain"
    assert file["size_bytes"] == len(TEXT)

    created = await api.post(
        f"/v1/projects/{project}/parse", json={"source_document_id": file["id"]}, headers=headers
    )
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["operation"] == "parse"
    assert job["status"] in {"pending", "running", "succeeded"}
    assert job["history"][0]["status"] == "created"

    done = await wait_status(api, headers, project, job["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert [e["status"] for e in done["history"]] == [
        "created",
        "started",
        "completed",
        "succeeded",
    ]
    assert done["completed_at"] >= done["started_at"] >= done["created_at"]

    result_id = done["result"]["parse_result_id"]
    result = await api.get(f"/v1/projects/{project}/parse/{result_id}/result", headers=headers)
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["job_id"] == job["id"]
    assert body["source_document_id"] == file["id"]
    assert "Second paragraph" in "".join(chunk["content"] for chunk in body["chunks"])
