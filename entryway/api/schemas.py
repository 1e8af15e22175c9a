"""Schemas shared by every router: errors and paging."""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from ninja import Schema
from pydantic import BaseModel

T = TypeVar("T")


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str = "value_error"


class Error(Schema):
    detail: str | list[ErrorItem] | list[dict[str, Any]]


class Page(BaseModel, Generic[T]):
    count: int
    page: int
    per_page: int
    items: list[T]


# The statuses every authenticated route can answer besides its own.
COMMON_ERRORS = {401: Error, 403: Error, 404: Error, 422: Error}


def paginate_queryset(qs, page: int, per_page: int) -> tuple[int, list]:
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    count = qs.count()
    start = (page - 1) * per_page
    return count, list(qs[start : start + per_page])
