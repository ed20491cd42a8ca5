"""The RFC 9457 problem-details body, as documented in the OpenAPI schema (no postponed
annotations here: ninja and pydantic read them at import)."""

from ninja import Schema


class FieldProblem(Schema):
    field: str
    code: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    request_id: str
    errors: list[FieldProblem] | None = None


def problems(*statuses: int) -> dict[int, type[Problem]]:
    """``response={200: Out, **problems(404)}`` — document the error answers of a route."""
    return dict.fromkeys(statuses, Problem)
