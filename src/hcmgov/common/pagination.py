"""Page-number pagination for /api/v1 with bounded inputs (no postponed annotations: ninja reads
them). A page or page size beyond the bounds is a 422 problem, never a database overflow."""

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 100_000


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=500)


COUNT_CAP = 1_000


def capped_count(rows: Any, limit: int) -> int:
    """How many rows, counting no further than ``limit`` (a query stops reading there)."""
    if isinstance(rows, QuerySet):
        return rows.order_by().values("pk")[:limit].count()
    return min(len(rows), limit)


class CappedPages(Pages):
    """For searches and work queues over millions of rows: ``count`` stops at 1,000 (a count of
    1,000 means "1,000 or more"), so no request walks a whole agency's history to number its pages."""

    def _items_count(self, queryset: Any) -> int:
        return capped_count(queryset, COUNT_CAP)


class CappedPaginator(Paginator):
    """Django's paginator for server-rendered lists over millions of rows: the count stops at
    ``COUNT_CAP`` (``capped`` tells the page to say "or more": one row past the cap is counted to
    know, so exactly ``COUNT_CAP`` rows are not called more)."""

    @cached_property
    def _seen(self) -> int:
        return capped_count(self.object_list, COUNT_CAP + 1)

    @cached_property
    def count(self) -> int:
        return min(self._seen, COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._seen > COUNT_CAP
