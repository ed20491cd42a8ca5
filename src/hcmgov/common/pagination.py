"""Page-number pagination for /api/v1 with bounded inputs (no postponed annotations: ninja reads
them). A page or page size beyond the bounds is a 422 problem, never a database overflow."""

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 100_000


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=500)
