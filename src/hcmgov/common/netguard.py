"""Where the platform may send requests that outsiders choose the address of (a subscriber's
callback URL, a harvest source): not to itself or to the machines beside it (server-side request
forgery, OWASP ASVS V5.3 / API7:2023). A URL's host is resolved and every address it resolves to
must be a public one — not loopback, private (RFC 1918, unique-local), link-local (the cloud's
metadata service at 169.254.169.254), multicast, reserved or unspecified — unless it falls in a
network or names a host the operator allows (``allowed``: CIDRs or host names; a city's department
systems on its own private network are such a case).

Checked when the address is registered and again before each request (a name may resolve
elsewhere later); the small window between the check and the connection remains."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


def _networks(allowed: Iterable[str]) -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], set[str]]:
    nets, names = [], set()
    for item in allowed:
        item = item.strip()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.lower())
    return nets, names


def url_refusal(url: str, *, allowed: Iterable[str] = ()) -> str:
    """Why the platform must not call ``url`` (Vietnamese / English), or "" when it may (a name that
    does not resolve now reaches nothing: it is not refused, so a subscriber may register before its
    name is published)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return "Địa chỉ không phải URL http(s) đầy đủ / Not a full http(s) URL"
    nets, names = _networks(allowed)
    if host in names:
        return ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return ""  # resolves nowhere: nothing would be reached (the request itself fails, and is retried)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if any(address in net for net in nets):
            continue
        if not address.is_global or address.is_multicast:
            return (
                f"Địa chỉ {address} của {host} là địa chỉ nội bộ, không được phép / "
                f"{host} resolves to {address}, an internal address that is not allowed"
            )
    return ""
