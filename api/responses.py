"""Responses whose JSON Postgres already rendered: passed through without re-encoding."""

import json

from fastapi import HTTPException, Response, status

from db.pagination import Page

JSON = "application/json"


def raw_json(body: str, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(content=body, status_code=status_code, media_type=JSON)


def raw_list(page: Page, total: int) -> Response:
    items = ",".join(row["body"] for row in page.rows)
    tail = json.dumps(
        {"total_count": total, "next_token": page.next_token, "prev_token": page.prev_token}
    )
    return raw_json(f'{{"items":[{items}],{tail[1:]}')


def not_found(kind: str, item_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{kind} {item_id} not found")


def found(body: str | None, kind: str, item_id: str) -> Response:
    if body is None:
        raise not_found(kind, item_id)
    return raw_json(body)
