"""Paging parameters: `?page_size=` (1..max, default from settings; above max -> 422) and `?cursor=`.

The bound lives in the route's query definition, so the OpenAPI document shows
it and FastAPI's validation (-> errors.py, 422 `invalid`, field `page_size`)
enforces it before the handler runs. Cursors are the read models' own
(opaque; a malformed one answers 400 via InvalidQuery).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Query

from gateway.http.settings import GatewaySettings


@dataclass(frozen=True)
class PageQuery:
    page_size: int
    cursor: str | None


def page_query(settings: GatewaySettings) -> Callable[..., PageQuery]:
    async def dependency(  # async: no threadpool hop
        page_size: int = Query(settings.default_page_size, ge=1, le=settings.max_page_size,
                               description=f"items per page (1-{settings.max_page_size})"),
        cursor: str | None = Query(None, min_length=1, description="the previous page's next_cursor"),
    ) -> PageQuery:
        return PageQuery(page_size, cursor)

    return dependency


def page(items: list, next_cursor: str | None) -> dict:
    return {"items": items, "next_cursor": next_cursor}
