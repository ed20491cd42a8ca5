"""The public status lookup, ``GET /api/v1/tracking/{code}?secret=…``, answered before Django's
request cycle (decision 0038; issue 15's 1,500 lookups/s on 2 cores).

Profiled (``bench/run.py``, py-spy), a lookup spent 38 % of the web workers' Python time in the
sixteen middleware around the view, for an anonymous GET without a cookie; the view itself was
already one prepared statement (``selectors.dossier_track``) and a JSON dump. This WSGI layer,
mounted in ``hcmgov.wsgi`` around Django's application, answers the one request shape the
receipt's link and the portal's clients send — a GET of ``/api/v1/tracking/{code}`` whose query
is only ``secret=``, both of the characters codes and secrets are made of, without a cookie or
an Authorization header — with the view's own selector and body (``api.track_body``) and a
``200``. Everything else goes to Django unchanged, including every answer that is not a ``200``:
404, 422 and 429 are made by the ordinary view, whose problem documents stay the only ones.

What Django's layers did, and how this path stands to each (``common.fastpath.REVIEWED_MIDDLEWARE``;
if the stack changes the fast path turns itself off until someone reviews it again):

- response headers (security headers, CSP, X-Frame-Options, Cache-Control, Content-Language,
  Vary …): the headers of a ``200`` the Django path gave in this process to this route for the
  same scheme, forwarded proto, Host (forwarded or not) and ``Accept-Language`` (the API's
  Content-Language follows it) are replayed; Content-Length is computed. Until Django has answered
  one, the requests go to Django. ``X-Request-ID`` is taken or made, as ``PlatformMiddleware`` does;
- request id and metrics (``PlatformMiddleware``): the id is set for the logs, the request is
  counted and timed under the route's name;
- refusals (NUL, oversized bodies), host checks, SSL redirect: the path takes only requests that
  cannot trip them (a GET without a body, a query of letters and digits, a Host and scheme Django
  has already served);
- sessions, CSRF, OTP, session timeouts, messages, axes, actor: they act on browser sessions;
  the path takes no request carrying a cookie (the tracking page's form posts to its own page);
  a lookup writes nothing and no audit event on either path;
- access rule (``AccessMiddleware``): the route is ``public``;
- the rate limit of public lookups per client address (``ratelimit.check_address``) is the view's:
  taken here, from the same bucket, and left in the environ so that Django, answering the same
  request (a 404 or a 429), does not take a second token.
"""

from __future__ import annotations

import re
from typing import Any

from hcmgov.common import fastpath as shared
from hcmgov.dossiers import selectors
from hcmgov.dossiers.api import track_body

PREFIX = "/api/v1/tracking/"
LIMIT = "public_lookup"  # the view's rate limit
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,39}\Z")  # dossier codes: letters, digits, dots, dashes
_QUERY = re.compile(r"secret=([A-Za-z0-9]{1,32})\Z")  # receipts' secrets: letters and digits


class FastTrack(shared.PublicLookup):
    """WSGI layer around Django's application: answers eligible lookups itself (``200``), and hands
    every other request, untouched, to Django. On SQLite too: it runs the view's own selector."""

    prefix = PREFIX
    route_path = PREFIX + "X"
    limit = LIMIT
    setting = "TRACKING_FAST_PATH"

    def parse(self, environ: dict[str, Any], path: str) -> tuple[tuple[str, ...], Any] | None:
        code = path[len(PREFIX) :]
        query = _QUERY.match(environ.get("QUERY_STRING", ""))
        if query is None or not _CODE.match(code) or environ.get("HTTP_COOKIE"):
            return None
        return (environ.get("HTTP_ACCEPT_LANGUAGE", ""),), (code, query.group(1))

    def answer(self, environ: dict[str, Any], arguments: Any) -> bytes | None:
        code, secret = arguments
        return track_body(selectors.dossier_track(code=code, secret=secret))
