"""The CKAN Action API's machinery (``/api/3/action/{name}`` and ``/api/action/{name}``, both
answered in place): actions registered by name, the envelope ``{help, success, result}``, CKAN's
error types and HTTP codes, parameters from the query string (GET) or a JSON or form body (POST),
and API tokens (``Authorization: <token>``, ``Authorization: Bearer <token>`` or
``X-CKAN-API-Key``: the platform's personal API tokens). Writes take a token, never a session
cookie (no CSRF to guard: a browser never sends the token by itself).

Error bodies follow CKAN 2.10: ``{"__type": "Not Found Error", "message": ...}`` (404),
``"Validation Error"`` with the fields' messages as lists (409), ``"Authorization Error"`` (403),
``"Bad Request"`` (400, an unknown action or a body that is not JSON), ``"Search Query Error"``
(400) and ``"Search Error"`` (409). Messages are Vietnamese, then English.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import BadRequest as DjangoBadRequest
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from hcmgov.common.access import public
from hcmgov.opendata.dictize import site_url

log = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024


class CkanError(Exception):
    status = 500
    type = "Internal Server Error"

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"__type": self.type}
        if self.message:
            out["message"] = self.message
        out.update(self.fields)
        return out


class NotFound(CkanError):
    status, type = 404, "Not Found Error"

    def __init__(self, what: str = "") -> None:
        super().__init__(f"Không tìm thấy / Not found{': ' + what if what else ''}")


class ValidationError(CkanError):
    """``fields``: name → list of messages (CKAN's shape)."""

    status, type = 409, "Validation Error"

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("", **fields)


class NotAuthorized(CkanError):
    status, type = 403, "Authorization Error"

    def __init__(self, why: str = "") -> None:
        super().__init__(f"Không có quyền / Access denied{': ' + why if why else ''}")


class BadRequest(CkanError):
    status, type = 400, "Bad Request"

    def __init__(self, why: str) -> None:
        super().__init__(f"Bad request - {why}")


class SearchQueryError(CkanError):
    status, type = 400, "Search Query Error"

    def __init__(self, why: str) -> None:
        super().__init__(f"Câu truy vấn không hợp lệ / Search Query is invalid: {why}")


class SearchError(CkanError):
    status, type = 409, "Search Error"


@dataclass
class Context:
    """Who calls (``user``: None for anonymous) and from where."""

    user: Any
    request: HttpRequest | None = None


Action = Callable[[Context, dict[str, Any]], Any]


@dataclass(frozen=True)
class Registered:
    fn: Action
    write: bool


ACTIONS: dict[str, Registered] = {}


def action(name: str, *, write: bool = False) -> Callable[[Action], Action]:
    """Register a CKAN action; ``write`` actions take POST and an API token."""

    def register(fn: Action) -> Action:
        ACTIONS[name] = Registered(fn, write)
        return fn

    return register


# --- parameters -----------------------------------------------------------------------------------


def as_int(data: dict[str, Any], key: str, default: int | None, *, minimum: int = 0, maximum: int | None = None) -> Any:
    value = data.get(key)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({key: ["Phải là số nguyên / Invalid integer"]}) from None
    if number < minimum:
        raise ValidationError({key: [f"Phải từ {minimum} trở lên / Must be a natural number >= {minimum}"]})
    if maximum is not None and number > maximum:
        raise ValidationError({key: [f"Không được quá {maximum} / Must be at most {maximum}"]})
    return number


def as_bool(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValidationError({key: ["Phải là true hoặc false / Not a boolean"]})


def as_list(data: dict[str, Any], key: str) -> list[str]:
    """A list parameter: a JSON list, a list (repeated query keys, a JSON body), or comma-separated."""
    value = data.get(key)
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValidationError({key: ["Không phải danh sách JSON / Not a JSON list"]}) from None
        if not isinstance(parsed, list):
            raise ValidationError({key: ["Không phải danh sách JSON / Not a JSON list"]})
        return [str(v) for v in parsed]
    return [part.strip() for part in text.split(",") if part.strip()]


def required(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value in (None, "") or not isinstance(value, str | int):
        raise ValidationError({key: ["Thiếu giá trị / Missing value"]})
    return str(value)


# --- the view -------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    from hcmgov.identity import services as identity

    raw = request.headers.get("X-CKAN-API-Key") or request.headers.get("Authorization") or ""
    raw = raw.strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if raw:
        user = identity.api_token_user(raw=raw)
        if user is None:
            raise NotAuthorized("mã truy cập không hợp lệ / invalid API token")
        return user
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def _params(request: HttpRequest) -> dict[str, Any]:
    if request.method == "GET":
        return {k: (v[0] if len(v) == 1 else v) for k, v in request.GET.lists()}
    if len(request.body) > MAX_BODY:
        raise BadRequest("body too large")
    body = request.body.strip()
    if request.content_type == "application/json" or body[:1] in (b"{", b"["):
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"JSON Error: {exc}") from None
        except RecursionError:  # nested deeper than the parser recurses: not a 500
            raise BadRequest("JSON Error: nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequest("JSON Error: Request data JSON decoded to a non-dict")
        return data
    try:
        form = request.POST
    except (MultiPartParserError, SuspiciousOperation, DjangoBadRequest):  # Django's HTML 400 otherwise
        raise BadRequest("form data could not be read") from None
    return {k: (v[0] if len(v) == 1 else v) for k, v in form.lists()}


def envelope(name: str, *, result: Any = None, error: CkanError | None = None) -> JsonResponse:
    body: dict[str, Any] = {"help": f"{site_url()}/api/3/action/help_show?name={name}"}
    if error is None:
        body.update(success=True, result=result)
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    body.update(success=False, error=error.body())
    return JsonResponse(body, status=error.status, json_dumps_params={"ensure_ascii": False})


@public
@csrf_exempt
def action_view(request: HttpRequest, name: str) -> HttpResponse:
    """``/api/3/action/{name}`` (GET or POST): run the action, answer in CKAN's envelope."""
    registered = ACTIONS.get(name)
    try:
        if registered is None:
            raise BadRequest(f"Action name not known: {name}")
        if request.method not in ("GET", "POST"):
            raise BadRequest(f"Method not allowed: {request.method}")
        data = _params(request)
        context = Context(user=_user(request), request=request)
        if registered.write:
            if request.method != "POST":
                raise BadRequest(f"{name} takes POST")
            if context.user is None:
                raise NotAuthorized("cần mã truy cập API / an API token is required")
        result = registered.fn(context, data)
    except CkanError as exc:
        return envelope(name, error=exc)
    return envelope(name, result=result)


def load_actions() -> None:
    """Import the modules that register actions (called by the URL configuration)."""
    from hcmgov.opendata import actions, datastore, dcat, search  # noqa: F401
