"""Pure helpers about URLs that several layers need (no app imports)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_uri(uri: str | None) -> bool:
    """True for ``http(s)://localhost:PORT/...``-style URIs (TikTok's desktop rule)."""
    if not uri:
        return False
    return is_loopback_host(urlsplit(uri).hostname or "")
